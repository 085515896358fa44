"""The plots page in a real headless Chromium (Debian's), driven over the DevTools protocol.

Chromium talks DevTools over a pipe (``--remote-debugging-pipe``: it reads fd 3 and writes
fd 4, NUL-separated JSON), so no port, no driver download and no extra package. We check
what a user sees: every revision's line is drawn, hover shows values, the legend toggles
a revision, the wheel zooms, no console error, and the file makes no network request.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import git, write

from gitml import Live

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self) -> None:
        assert CHROMIUM
        self.profile = tempfile.mkdtemp(prefix="gitml-chromium-")
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def fds() -> None:  # in the child: the pipe ends at fds 3 and 4
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic",
             "--disable-default-apps", "--disable-extensions", "--mute-audio",
             f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             "--window-size=1280,1000", "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]
            self.events.append(reply)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            self.proc.kill()
        self.proc.wait(10)
        os.close(self._w)
        os.close(self._r)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab with Network, Runtime and Log events recorded from before the first byte."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.send("Target.attachToTarget", {"targetId": target,
                                                        "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.first_event = len(browser.events)
        self.url = path.resolve().as_uri()
        self.send("Page.navigate", {"url": self.url})
        deadline = time.monotonic() + 30
        while self.eval("document.body && document.body.getAttribute('data-ready')") is None:
            assert time.monotonic() < deadline, "the charts never finished rendering"
            time.sleep(0.05)
        assert self.eval("document.body.getAttribute('data-ready')") == "yes"

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.b.send(method, params, self.s)

    def eval(self, expr: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                             "awaitPromise": True})
        assert "exceptionDetails" not in res, res
        return res["result"].get("value")

    def mine(self, method: str) -> list[dict[str, Any]]:
        return [e for e in self.b.events[self.first_event:]
                if e.get("sessionId") == self.s and e.get("method") == method]

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.mine("Network.requestWillBeSent")]

    def console_errors(self) -> list[Any]:
        errors: list[Any] = [e["params"] for e in self.mine("Runtime.exceptionThrown")]
        errors += [e["params"] for e in self.mine("Runtime.consoleAPICalled")
                   if e["params"]["type"] in ("error", "assert")]
        errors += [e["params"]["entry"] for e in self.mine("Log.entryAdded")
                   if e["params"]["entry"]["level"] == "error"]
        return errors

    def mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, **extra})

    def box(self, css: str) -> dict[str, float]:
        return self.eval(f"(() => {{ const r = document.querySelector({css!r})"
                         ".getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, "
                         "h: r.height}; })()")  # type: ignore[no-any-return]


# Lines drawn in a chart, from Vega's scene graph: revision -> number of points.
LINES_JS = """
(id) => {
  const out = {};
  const walk = (node) => {
    if (!node) return;
    if (node.marktype === 'line' && node.items.length && node.items[0].datum) {
      const rev = node.items[0].datum.rev;
      out[rev] = {points: node.items.length, opacity: node.items[0].opacity};
    }
    (node.items || []).forEach(walk);
  };
  walk(window.gitmlViews[id].scenegraph().root);
  return out;
}
"""


def lines(page: Page, chart_id: str) -> dict[str, Any]:
    return page.eval(f"({LINES_JS})({chart_id!r})")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (the README's test command installs it)")
        pytest.skip("chromium is not installed: apt-get install chromium chromium-driver")
    b = Browser()
    yield b
    b.close()


def _run(root: Path, steps: int, slope: float, name: str = "train.loss") -> None:
    with Live(str(root / "gitml-live")) as live:
        for s in range(steps):
            live.log_metric(name, 1.0 / (1.0 + slope * s) + (s % 7) * 1e-3)
            live.next_step()


@pytest.fixture
def three_revs(repo: Path) -> Path:
    _run(repo, 3000, 0.01)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "switch", "-q", "-c", "exp-3")
    _run(repo, 1500, 0.03)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exp-3")
    git(repo, "switch", "-q", "main")
    _run(repo, 800, 0.05)
    write(repo / "gitml-live/plots/metrics/broken.tsv", "step\tvalue\n0\tabc\n1\t0.5\n")
    return repo


def test_every_revision_is_drawn_with_no_error_and_no_request(three_revs: Path, cli,
                                                              browser: Browser) -> None:
    res = cli("plots", "diff", "main", "exp-3", "workspace-is-not-a-rev", "-o", "x.html")
    assert res.code == 2  # (an unknown revision is refused before anything is drawn)
    res = cli("plots", "diff", "main", "exp-3", "-o", "cmp.html")
    assert res.code == 0, res.err
    page = Page(browser, three_revs / "cmp.html")
    assert lines(page, "chart-0") == {"main": {"points": 2000, "opacity": 1},
                                      "exp-3": {"points": 1500, "opacity": 1}}
    assert page.eval("document.querySelectorAll('canvas').length") == 1
    assert page.console_errors() == []
    assert page.requests() == [page.url]
    shot = page.send("Page.captureScreenshot", {"format": "png"})
    assert len(shot["data"]) > 10_000


def test_hover_toggle_and_zoom(three_revs: Path, cli, browser: Browser) -> None:
    assert cli("plots", "diff", "main", "exp-3", "-o", "cmp.html").code == 0
    page = Page(browser, three_revs / "cmp.html")
    box = page.box("#chart-0 canvas")
    # hover: a rule at the nearest step and a tooltip with both revisions' values there
    for dx in (0, 4, 8):
        page.mouse("mouseMoved", box["x"] + 300 + dx, box["y"] + 120)
    deadline = time.monotonic() + 5
    tip = ""
    while "exp-3" not in tip and time.monotonic() < deadline:
        tip = page.eval("(document.getElementById('vg-tooltip-element') || {}).innerText")
        tip = tip or ""
    assert "step" in tip and "main" in tip and "exp-3" in tip, tip
    # toggle: a click on "exp-3" in the legend keeps it bright and dims main
    legend = page.eval("""(() => {
        const v = window.gitmlViews['chart-0'];
        let found = null;
        const walk = (mark, ox, oy) => { for (const it of mark.items || []) {
          if (mark.marktype === 'text' && it.text === 'exp-3' && !found)
            found = {x: ox + (it.bounds.x1 + it.bounds.x2) / 2,
                     y: oy + (it.bounds.y1 + it.bounds.y2) / 2};
          if (mark.marktype === 'group')
            (it.items || []).forEach(m => walk(m, ox + (it.x || 0), oy + (it.y || 0)));
        } };
        walk(v.scenegraph().root, 0, 0);
        const o = v.origin(), r = v.container().querySelector('canvas').getBoundingClientRect();
        return {x: r.x + o[0] + found.x, y: r.y + o[1] + found.y};
    })()""")
    page.mouse("mouseMoved", legend["x"], legend["y"])
    page.mouse("mousePressed", legend["x"], legend["y"], button="left", clickCount=1)
    page.mouse("mouseReleased", legend["x"], legend["y"], button="left", clickCount=1)
    time.sleep(0.3)
    drawn = lines(page, "chart-0")
    assert drawn["exp-3"]["opacity"] == 1 and drawn["main"]["opacity"] < 0.5, drawn
    # zoom: the wheel narrows the step axis
    before = page.eval("window.gitmlViews['chart-0'].signal('zoom_x') || null")
    page.mouse("mouseWheel", box["x"] + 300, box["y"] + 120, deltaX=0, deltaY=-400)
    time.sleep(0.3)
    after = page.eval("window.gitmlViews['chart-0'].signal('zoom_x')")
    assert after and (before is None or after != before)
    assert after[1] - after[0] < 2999
    assert page.console_errors() == []
    assert page.requests() == [page.url]


def test_bad_input_page_and_report_render_cleanly(three_revs: Path, cli,
                                                  browser: Browser) -> None:
    write(three_revs / "gitml-live/plots/metrics/empty.tsv", "step\tvalue\n")
    assert cli("plots", "diff", "exp-3", "-o", "ws.html").code == 0
    page = Page(browser, three_revs / "ws.html")
    assert sorted(page.eval("Object.keys(window.gitmlViews)")) == ["chart-0", "chart-1"]
    notes = page.eval("document.body.innerText")
    assert "workspace: 1 non-numeric value skipped (first in row 1: 'abc')" in notes
    assert "exp-3: file not present" in notes
    assert "Nothing to draw at any revision." in notes
    assert "empty series (no rows)" in notes
    assert page.console_errors() == []
    assert page.requests() == [page.url]
    assert cli("report", "main", "exp-3", "-o", "pr.html").code == 0
    page = Page(browser, three_revs / "pr.html")
    assert set(lines(page, "chart-0")) == {"main", "exp-3"}
    assert "Params" in page.eval("document.body.innerText")
    assert page.console_errors() == []
    assert page.requests() == [page.url]
