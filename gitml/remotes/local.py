"""A directory remote: a local or mounted directory with the store's layout.

Every object is written to a temp name beside its own (``objects/ab/.gitml-tmp-...``)
and renamed to its name, so a push killed at any moment leaves no partial object under a
real name; :meth:`close` makes the
push durable with one ``syncfs`` of the remote's file system.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from gitml.fsutil import TMP_PREFIX, atomic_write, safe_join, syncfs, tmp_name
from gitml.hashing import CHUNK, PREFIX, is_oid
from gitml.remotes.base import (
    KEY_MAX,
    LIST_THRESHOLD,
    Progress,
    RemoteError,
    exists_by_listing,
    key_of,
)

_RO = 0o444
_TMP_MAX_AGE = 3600.0  # a temp file older than this belongs to a dead writer


class DirectoryBackend:
    """Objects as files below ``root``."""

    processes = True  # file-system calls: two processes beat threads (transfer._Runner)
    key_of = staticmethod(key_of)  # an object's path below the root (see base.Backend)

    def __init__(self, root: str, url: str, *, create: bool = False,
                 must_exist: bool = True) -> None:
        self.root = root
        self.url = url
        self.objects = os.path.join(root, "objects")
        self.tmp = os.path.join(root, "tmp")
        self._dirty = False
        if os.path.lexists(root) and not os.path.isdir(root):
            raise RemoteError(f"remote {url}: {root} exists and is not a directory")
        if not os.path.isdir(root):
            if not create:
                if not must_exist:  # status, gc: an absent remote is an empty one
                    return
                raise RemoteError(f"remote directory {root} does not exist")
            parent = os.path.dirname(os.path.abspath(root))
            if not os.path.isdir(parent):  # e.g. a share that is not mounted
                raise RemoteError(f"cannot create remote directory {root}: "
                                  f"{parent} does not exist")
            os.makedirs(root, exist_ok=True)

    def _path(self, oid: str) -> str:
        return os.path.join(self.root, *self.key_of(oid).split("/"))

    # -- listing --------------------------------------------------------------------
    def list(self, prefix: str | None = None, sizes: bool = False
             ) -> Iterator[tuple[str, int]]:
        tops = [prefix] if prefix else _subdirs(self.objects)
        for top in tops:
            try:
                it = os.scandir(os.path.join(self.objects, top))
            except (FileNotFoundError, NotADirectoryError):
                continue
            with it:
                for e in it:
                    oid = PREFIX + top + e.name
                    if is_oid(oid):
                        yield oid, (e.stat(follow_symlinks=False).st_size if sizes else -1)

    def exists(self, oids: list[str]) -> set[str]:
        if len(oids) <= LIST_THRESHOLD:
            return {oid for oid in oids if os.path.exists(self._path(oid))}
        return exists_by_listing(self, oids)

    # -- writing --------------------------------------------------------------------
    def put(self, oid: str, src: str, size: int, data: bytes | None = None,
            progress: Progress | None = None) -> None:
        # The temp file goes beside its final name: a rename within one directory does not
        # take the file system's global lock for cross-directory renames, which two
        # writers (transfer._Runner's processes) would otherwise queue on.
        dst = self._path(oid)
        tmp = tmp_name(os.path.dirname(dst), oid[len(PREFIX) + 2:])
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
        try:
            try:
                if data is not None:
                    _write_all(fd, data)
                else:
                    _copy(src, fd, progress)
            finally:
                os.close(fd)
            self._dirty = True
            os.rename(tmp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, oids: list[str]) -> None:
        for oid in oids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(oid))

    def clean_tmp(self) -> int:
        """Remove temp files that dead writers left (older than an hour) beside objects,
        or in ``tmp/`` where earlier versions wrote them; returns a count."""
        n = 0
        cutoff = time.time() - _TMP_MAX_AGE
        dirs = [self.tmp] + [os.path.join(self.objects, d) for d in _subdirs(self.objects)]
        for d in dirs:
            try:
                it = os.scandir(d)
            except FileNotFoundError:
                continue
            with it:
                for e in it:
                    if d != self.tmp and not e.name.startswith(TMP_PREFIX):
                        continue
                    with contextlib.suppress(OSError):
                        if e.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(e.path)
                            n += 1
        return n

    # -- reading --------------------------------------------------------------------
    def read(self, oid: str) -> bytes | None:
        try:
            with open(self._path(oid), "rb", buffering=0) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        try:
            fd = os.open(self._path(oid), os.O_RDONLY)
        except FileNotFoundError:
            raise RemoteError(f"remote {self.url} lacks {oid}") from None
        try:
            return os.pread(fd, length, start)
        finally:
            os.close(fd)

    def get(self, oid: str, dst: str, size: int | None = None,
            progress: Progress | None = None) -> bool:
        try:
            sfd = os.open(self._path(oid), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _copy_fd(sfd, dfd, progress)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
        return True

    # -- named files (run-cache entries) ---------------------------------------------
    def list_keys(self, top: str) -> Iterator[str]:
        base = os.path.join(self.root, top)
        for sub in _subdirs(base):
            with os.scandir(os.path.join(base, sub)) as it:
                for e in it:
                    if not e.name.startswith(".") and e.is_file(follow_symlinks=False):
                        yield f"{top}/{sub}/{e.name}"

    def read_key(self, key: str) -> bytes | None:
        try:
            with open(safe_join(self.root, key, source=self.url), "rb") as f:
                return f.read(KEY_MAX + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put_key(self, key: str, data: bytes) -> None:
        dst = safe_join(self.root, key, source=self.url)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        atomic_write(dst, data, durable=False)
        self._dirty = True

    def delete_keys(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(safe_join(self.root, key, source=self.url))

    def wrote_elsewhere(self) -> None:
        self._dirty = True

    def close(self) -> None:
        if self._dirty:
            syncfs(self.root)
            self._dirty = False


def _subdirs(path: str) -> list[str]:
    try:
        with os.scandir(path) as it:
            return sorted(e.name for e in it if len(e.name) == 2 and e.is_dir())
    except FileNotFoundError:
        return []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy(src: str, dfd: int, progress: Progress | None) -> None:
    sfd = os.open(src, os.O_RDONLY)
    try:
        _copy_fd(sfd, dfd, progress)
    finally:
        os.close(sfd)


def _copy_fd(sfd: int, dfd: int, progress: Progress | None) -> None:
    """Copy in the kernel where it can (copy_file_range), 4 MiB at a time for progress."""
    while True:
        try:
            n = os.copy_file_range(sfd, dfd, CHUNK)
        except OSError:  # not supported between these file systems: plain reads
            n = _copy_slow(sfd, dfd)
        if not n:
            return
        if progress:
            progress(n)


def _copy_slow(sfd: int, dfd: int) -> int:
    data = os.read(sfd, CHUNK)
    _write_all(dfd, data)
    return len(data)
