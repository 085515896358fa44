"""A small progress bar on stderr (shown on a terminal, silent when piped or quiet), and
one-line notices of work done on the way."""

from __future__ import annotations

import os
import sys
import time

_enabled: bool | None = None
_quiet = False


def set_enabled(flag: bool | None) -> None:
    """Force the bar on or off (None: decide from the terminal)."""
    global _enabled
    _enabled = flag


def set_quiet(flag: bool) -> None:
    """Silence :func:`notice` (``-q``)."""
    global _quiet
    _quiet = flag


def notice(text: str) -> None:
    """One line on stderr about work a command did on the way (objects fetched because an
    experiment needed them, a corrupt object repaired); silent with ``-q``."""
    if not _quiet:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _want() -> bool:
    if _enabled is not None:
        return _enabled
    return sys.stderr.isatty() and os.environ.get("GITML_NO_PROGRESS") is None


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """Counts items (and optionally bytes); redraws at most ten times a second."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "files") -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.count = 0
        self.bytes = 0
        self.on = _want()
        self._last = 0.0
        self._start = time.monotonic()
        self._drawn = False

    def update(self, n: int = 1, nbytes: int = 0) -> None:
        self.count += n
        self.bytes += nbytes
        if self.on:
            now = time.monotonic()
            if now - self._last >= 0.1:
                self._last = now
                self._draw()

    def _draw(self) -> None:
        parts = [f"{self.desc}:"]
        if self.total:
            pct = 100 * self.count / self.total
            width = 24
            filled = int(width * min(self.count, self.total) / self.total)
            parts.append(f"[{'#' * filled}{'.' * (width - filled)}] {pct:3.0f}%")
            parts.append(f"{self.count}/{self.total} {self.unit}")
        else:
            parts.append(f"{self.count} {self.unit}")
        if self.bytes:
            elapsed = max(time.monotonic() - self._start, 1e-6)
            parts.append(f"{_human(self.bytes)} ({_human(self.bytes / elapsed)}/s)")
        sys.stderr.write("\r" + " ".join(parts) + "\x1b[K")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
