"""The plots page in a real headless Chromium (Debian's), driven over the DevTools protocol.

The driver is tests/browser.py (DevTools over ``--remote-debugging-pipe``). We check
what a user sees: every revision's line is drawn, hover shows values, the legend toggles
a revision, the wheel zooms, no console error, and the file makes no network request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, Page, browser_fixture
from conftest import git, write

from gitml import Live

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
    yield from browser_fixture()


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
