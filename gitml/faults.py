"""Fault injection at fixed points, for tests of crashes and races.

Set ``GITML_FAULT=<point>:<action>[@N]`` (several separated by ``,``) where action is
``kill`` (SIGKILL this process), ``raise`` (KeyboardInterrupt, as Ctrl-C would),
``enospc`` (OSError ENOSPC, as a full disk would), or ``wait=<file>`` (write this process's
id into ``<file>.reached`` and wait until ``<file>`` exists), taken the N-th time (default 1st)
the point is reached. Read when gitml starts; unset, a point costs one test.
"""

from __future__ import annotations

import errno
import os
import signal
import time

_counts: dict[str, int] = {}
_SPEC = os.environ.get("GITML_FAULT", "")  # read once: points sit in per-file loops


def point(name: str) -> None:
    if not _SPEC:
        return
    for item in _SPEC.split(","):
        where, _, action = item.partition(":")
        if where != name:
            continue
        action, _, nth = action.partition("@")
        _counts[name] = _counts.get(name, 0) + 1
        if _counts[name] != int(nth or 1):
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "raise":
            raise KeyboardInterrupt
        elif action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        elif action.startswith("wait="):
            gate = action[len("wait="):]
            with open(gate + ".reached", "w") as f:
                f.write(str(os.getpid()))
            deadline = time.monotonic() + 120
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.01)
