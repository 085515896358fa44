"""The Linux immutable flag (``chattr +i``): set on objects linked into a workspace by
symbolic link, so that not even root edits the store through the link (docs/core.md)."""

from __future__ import annotations

import array
import fcntl
import os
from collections.abc import Callable

# ioctl numbers of FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (a C long) and FS_IMMUTABLE_FL
_GETFLAGS, _SETFLAGS, _IMMUTABLE = 0x80086601, 0x40086602, 0x10


def _flags(fd: int) -> int:
    flags = array.array("l", [0])
    fcntl.ioctl(fd, _GETFLAGS, flags, True)
    return flags[0]


def _with_fd(path: str, fn: Callable[[int], bool]) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        return fn(fd)
    except OSError:  # a file system without flags, or no CAP_LINUX_IMMUTABLE
        return False
    finally:
        os.close(fd)


def set_immutable(path: str, on: bool) -> bool:
    """Set or clear the immutable flag of ``path``; False when that is not possible here."""

    def change(fd: int) -> bool:
        old = _flags(fd)
        want = old | _IMMUTABLE if on else old & ~_IMMUTABLE
        if want != old:
            fcntl.ioctl(fd, _SETFLAGS, array.array("l", [want]))
        return True

    return _with_fd(path, change)


def is_immutable(path: str) -> bool:
    """True when ``path`` carries the immutable flag."""
    return _with_fd(path, lambda fd: bool(_flags(fd) & _IMMUTABLE))
