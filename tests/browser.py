"""A real headless Chromium (Debian's), driven over the DevTools protocol, for tests.

Chromium talks DevTools over a pipe (``--remote-debugging-pipe``: it reads fd 3 and writes
fd 4, NUL-separated JSON), so no port, no driver download and no extra package. Used by
the plots page tests and the ``gitml ui`` tests.
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

    def __init__(self, browser: Browser, where: Path | str, wait: bool = True) -> None:
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.send("Target.attachToTarget", {"targetId": target,
                                                        "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.first_event = len(browser.events)
        self.url = where.resolve().as_uri() if isinstance(where, Path) else where
        self.send("Page.navigate", {"url": self.url})
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30, not_loading: bool = False) -> None:
        """Until the page says ``data-ready`` is ``yes`` (the charts are drawn)."""
        deadline = time.monotonic() + timeout
        while self.eval("document.body && document.body.getAttribute('data-ready')") in (
                (None, "loading") if not_loading else (None,)):
            assert time.monotonic() < deadline, "the page never finished rendering"
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

    def dialogs(self) -> list[Any]:
        """alert/confirm/prompt boxes the page opened (a script that should not run did)."""
        return [e["params"] for e in self.mine("Page.javascriptDialogOpening")]

    def mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, **extra})

    def box(self, css: str) -> dict[str, float]:
        return self.eval(f"(() => {{ const r = document.querySelector({css!r})"
                         ".getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, "
                         "h: r.height}; })()")  # type: ignore[no-any-return]




def browser_fixture() -> Iterator[Browser]:
    """A module-scoped fixture body: skips without Chromium, fails in CI without it."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (the README's test command installs it)")
        pytest.skip("chromium is not installed: apt-get install chromium chromium-driver")
    b = Browser()
    yield b
    b.close()
