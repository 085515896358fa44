"""File-system primitives: atomic writes, durable flushes, locks and safe joins."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitml.errors import LockError, UnsafePathError, WorkspaceConflictError
from gitml.pathrules import TMP_PREFIX, check_relpath

__all__ = ["TMP_PREFIX", "check_relpath", "safe_join", "SafeDirs", "atomic_write"]


_pid = os.getpid()


def _reset_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_reset_pid)


NAME_MAX = 255  # bytes in one file name (Linux, macOS)
# ".<pid>.<monotonic ns>" takes at most 1 + 7 + 1 + 20 bytes
_TMP_ROOM = NAME_MAX - len(TMP_PREFIX) - 29


def tmp_name(directory: str | os.PathLike[str], base: str) -> str:
    """A unique temporary name in ``directory`` (same file system as the target), within
    NAME_MAX however long ``base`` is (see :func:`tmp_base`)."""
    return f"{os.fspath(directory)}/{TMP_PREFIX}{tmp_base(base)}.{_pid}.{time.monotonic_ns()}"


def tmp_base(base: str) -> str:
    """``base`` as it stands in temp names: a name too long is cut on a UTF-8 boundary and
    ends in 8 hex digits of its hash, so the temp names of two long names never mix."""
    raw = os.fsencode(base)
    if len(raw) <= _TMP_ROOM:
        return base
    import xxhash

    cut = raw[:_TMP_ROOM - 9]
    while cut and cut[-1] & 0xC0 == 0x80:  # continuation bytes of a cut character
        cut = cut[:-1]
    if cut and cut[-1] >= 0xC0:  # the lead byte of that character
        cut = cut[:-1]
    return os.fsdecode(cut) + "-" + xxhash.xxh3_64_hexdigest(raw)[:8]


def atomic_write(path: str | os.PathLike[str], data: bytes, *, durable: bool = True,
                 mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically: temp file, fsync, rename, fsync dir."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    tmp = tmp_name(directory, os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(directory)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one call in the usual case)."""
    n = os.write(fd, data)
    if n < len(data):
        view = memoryview(data)[n:]
        while view:
            view = view[os.write(fd, view):]


def write_all_at(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` to ``fd`` at ``offset`` (``pwrite``; one call in the usual
    case): parts of one file written by several threads, each where it belongs."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc: Any = None


def syncfs(path: str | os.PathLike[str]) -> None:
    """Flush everything written to the file system holding ``path`` (one call per command).

    Uses Linux ``syncfs(2)`` through libc; elsewhere falls back to ``os.sync()``.
    """
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def safe_join(root: str | os.PathLike[str], rel: str, *, source: str = "") -> str:
    """Join a POSIX relative path from an untrusted file onto ``root``, refusing escapes
    and reserved names (:func:`gitml.pathrules.check_relpath`)."""
    check_relpath(rel, source=source)
    return os.path.join(os.fspath(root), *rel.split("/"))


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path`` (made absolute, symlinks resolved) lies inside ``root``."""
    p = Path(path).resolve()
    r = Path(root).resolve()
    return p == r or r in p.parents


class SafeDirs:
    """Directories below ``root`` known to be real directories, with no symbolic link on
    the way down from ``root`` (Git's ``has_symlink_leading_path``).

    Every write, rename or delete at a path taken from a pointer, manifest or other
    stranger's data first checks (:meth:`check`) or makes (:meth:`make`) its parent here,
    so nothing is written through a link: a link is refused with an error naming it.
    Answers are remembered, so a checkout of 100,000 files costs one ``lstat`` per folder.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.normpath(root)
        self._ok: set[str] = {self.root}

    def check(self, directory: str, *, make: bool = False) -> bool:
        """True when ``directory`` (absolute, below ``root``) and every folder above it are
        real directories; False when some are missing (created instead when ``make``).
        Raises :class:`UnsafePathError` at a symbolic link, :class:`WorkspaceConflictError`
        at a file."""
        if directory in self._ok:
            return True
        rel = os.path.relpath(directory, self.root)
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise UnsafePathError(directory, f"outside {self.root}")
        path = self.root
        for part in rel.split("/"):
            path = f"{path}/{part}"
            if path in self._ok:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not make:
                    return False
                try:
                    os.mkdir(path)
                except FileExistsError:
                    pass
                st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafePathError(
                    os.path.relpath(path, self.root),
                    f"is a symbolic link (to {os.readlink(path)}); gitml never writes through "
                    "a link: remove the link, then run the command again")
            if not stat.S_ISDIR(st.st_mode):
                where = os.path.relpath(path, self.root)
                raise WorkspaceConflictError(
                    f"{where} is a file where a folder belongs; move it away, then run the "
                    "command again", [where])
            self._ok.add(path)
        return True

    def make(self, directory: str) -> None:
        """Create ``directory`` and the folders above it, refusing to go through a link."""
        self.check(directory, make=True)


class FileLock:
    """An exclusive or shared ``flock`` on a lock file, waiting up to ``timeout`` seconds."""

    def __init__(self, path: str | os.PathLike[str], *, shared: bool = False,
                 timeout: float = 10.0, what: str = "repository") -> None:
        self.path = os.fspath(path)
        self.shared = shared
        self.timeout = timeout
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        op = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, op)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockError(
                        f"another gitml process is using this {self.what} "
                        f"(waited {self.timeout:g}s for {self.path}); try again when it finishes"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def scan_stats(top: str, junk: list[str] | None = None) -> dict[str, os.stat_result]:
    """rel POSIX path -> lstat of every non-directory under ``top`` ({} if it is absent),
    and ``"folder/"`` -> stat of every empty folder below it.

    Symlinks are listed, not followed. gitml's own temp files (left by a killed process)
    are skipped, and collected in ``junk`` when given. Each directory is opened once and
    its entries are stat-ed relative to it (``fstatat``): no full-path lookup per file,
    which is most of the cost of a clean ``status`` of 100,000 files.
    """
    if not os.path.isdir(top):
        return {}
    return dict(walk_stats([("", top)], junk))


def walk_stats(stack: list[tuple[str, str]], junk: list[str] | None = None
               ) -> Iterator[tuple[str, os.stat_result]]:
    """(rel path, lstat) of every non-directory below the (prefix, directory) pairs of
    ``stack``, and (``"folder/"``, its stat) of every empty folder below them, depth first
    from the last pair: the order :func:`scan_stats` gives, so a walk split in two (the
    first pairs, the last pairs) gives the same sequence."""
    while stack:
        prefix, directory = stack.pop()
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            empty = True
            with os.scandir(fd) as it:
                for entry in it:
                    empty = False
                    name = entry.name
                    if name.startswith(TMP_PREFIX):
                        if junk is not None:
                            junk.append(f"{directory}/{name}")
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((f"{prefix}{name}/", f"{directory}/{name}"))
                    else:
                        yield prefix + name, entry.stat(follow_symlinks=False)
            if empty and prefix:  # an empty folder is part of the tree (manifest version 2)
                yield prefix, os.fstat(fd)
        finally:
            os.close(fd)


def split_top(top: str) -> tuple[list[tuple[str, os.stat_result]], list[tuple[str, str]]]:
    """The files directly in ``top`` and a :func:`walk_stats` stack of its folders, so that
    ``files + walk_stats(stack[k:]) + walk_stats(stack[:k])`` is exactly the sequence
    ``walk_stats([("", top)])`` gives, for any k: a walk can be split between processes.
    Raises FileNotFoundError / NotADirectoryError when ``top`` is not a directory."""
    files: list[tuple[str, os.stat_result]] = []
    stack: list[tuple[str, str]] = []
    with os.scandir(top) as it:
        for e in it:
            if e.name.startswith(TMP_PREFIX):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append((e.name + "/", f"{top}/{e.name}"))
            else:
                files.append((e.name, e.stat(follow_symlinks=False)))
    return files, stack


def remove_empty_dirs(top: str, keep: set[str] | frozenset[str] = frozenset()) -> None:
    """Remove empty directories below ``top`` (not ``top`` itself, nor those in ``keep``)."""
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        if dirpath != top and dirpath not in keep:
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
