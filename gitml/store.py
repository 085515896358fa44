"""The content-addressed object store: ``objects/<2 hex>/<30 hex>``, immutable, read-only.

Write order (docs/design.md): bytes go to ``tmp/`` in the same file system, are
renamed to their real name, and the command flushes the file system once
(:meth:`Store.flush`) before any pointer naming them is written. Readers verify
the hash of what they link or copy into a workspace. Writers hold the store lock
shared; gc holds it exclusively, so gc never deletes an object an unfinished
``add`` is about to point at.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any

from gitml import directio, faults, forkpool
from gitml.chunks import ChunkList
from gitml.chunkstore import ChunkedObjects
from gitml.errors import BadInputError, IntegrityError, MissingObjectError
from gitml.fsflags import set_immutable
from gitml.fsutil import TMP_PREFIX, FileLock, fsync_dir, syncfs, tmp_name, write_all
from gitml.hashing import CHUNK, PREFIX, SMALL, copy_and_hash, hash_bytes, hash_file, is_oid

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK = "reflink,copy"
_FICLONE = 0x40049409
_RO = 0o444
_FEW = 64  # up to this many new objects are fsynced one by one; more: one syncfs
_EARLY = 64 << 10  # objects of this size (chunks) are written back as they are stored


class Store(ChunkedObjects):
    """A directory of immutable objects named by their XXH3-128 hash; big files may be
    held as chunks (:class:`gitml.chunkstore.ChunkedObjects`)."""

    def __init__(self, root: str, link: str = DEFAULT_LINK, lock_timeout: float = 60.0,
                 chunk_threshold: int = 0) -> None:
        self.root = root
        # False for a store thrown away after use (gitml get's): nothing in it is flushed
        self.durable = True
        # files of this many bytes or more are stored as chunks (0: never; gitml/chunks.py)
        self.chunk_threshold = chunk_threshold
        self.new_bytes = 0  # bytes of new objects this process stored (forked writers too)
        self._lists: dict[str, ChunkList] = {}
        self.lock_timeout = lock_timeout
        self.objects = os.path.join(root, "objects")
        self.tmp = os.path.join(root, "tmp")
        self.link_types = parse_link(link)
        self._dirty = False
        # object paths this process wrote while they are few; None: too many, flush it all
        self._written: list[str] | None = []
        self._reflink_ok = True
        self._immutable_ok = True  # False once the file system (or a non-root user) refuses
        self._gc_holds = False  # this process holds the store lock exclusively
        self._made: set[str] = set()

    # -- naming ---------------------------------------------------------------
    def path(self, oid: str) -> str:
        # String concatenation: this runs once or twice per file on 100,000-file adds.
        return f"{self.objects}/{oid[5:7]}/{oid[7:]}"

    def has(self, oid: str) -> bool:
        """The store holds ``oid``: whole, or as chunks."""
        return os.path.exists(self.path(oid)) or os.path.exists(self.record_path(oid))

    def iter_oids(self) -> Iterator[str]:
        """Every object id in the store (unsorted)."""
        try:
            tops = os.scandir(self.objects)
        except FileNotFoundError:
            return
        with tops:
            for top in tops:
                if len(top.name) != 2 or not top.is_dir():
                    continue
                with os.scandir(top.path) as it:
                    for e in it:
                        oid = PREFIX + top.name + e.name
                        if is_oid(oid):
                            yield oid

    # -- locking ----------------------------------------------------------------
    def lock(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[object]:
        """Writers take it shared, gc exclusively. While this process holds it exclusively
        (gc fetching a manifest it must read), a writer's shared request is already met."""
        if self._gc_holds:
            return contextlib.nullcontext()
        os.makedirs(self.root, exist_ok=True)
        lock = FileLock(os.path.join(self.root, "lock"), shared=not exclusive,
                        timeout=self.lock_timeout, what="store")
        return self._held(lock) if exclusive else lock

    @contextlib.contextmanager
    def _held(self, lock: FileLock) -> Iterator[FileLock]:
        with lock:
            self._gc_holds = True
            try:
                yield lock
            finally:
                self._gc_holds = False

    # -- writing ----------------------------------------------------------------
    def _new_tmp(self, base: str) -> str:
        if self.tmp not in self._made:
            os.makedirs(self.tmp, exist_ok=True)
            self._made.add(self.tmp)
        return tmp_name(self.tmp, base)

    def _publish(self, tmp: str, oid: str, dst: str | None = None) -> bool:
        """Rename a complete temp file to its object name (or ``dst``); False when an
        immutable copy was there already."""
        dst = dst or self.path(oid)
        try:
            os.rename(tmp, dst)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(tmp, dst)
        except PermissionError:  # an immutable object (linked by symlink) is there already
            if not os.path.exists(dst):
                raise
            os.unlink(tmp)
            return False
        self._dirty = True
        if self._written is not None:
            self._written.append(dst)
            if len(self._written) > _FEW:
                self._written = None
        faults.point("store.object-written")
        return True

    def put_bytes(self, data: bytes, *, check: bool = True) -> str:
        """Store ``data``; returns its id.

        With ``check`` an existing object is not rewritten; without it, the bytes are
        written and renamed over any existing copy (same content: one syscall cheaper
        when most objects are new).
        """
        oid = hash_bytes(data)
        if check and self.has(oid):
            return oid
        self._write_new(oid, data)
        return oid

    def _write_new(self, oid: str, data: bytes | memoryview, dst: str | None = None) -> int:
        """Write ``data`` (whose id is ``oid``) as the object (or at ``dst``: a chunk
        record), through a temp file beside it; returns the bytes stored (0 when an
        immutable copy was there already)."""
        # Beside its final name: a rename within one directory does not take the file
        # system's global lock for cross-directory renames.
        dst = dst or self.path(oid)
        directory = dst.rpartition("/")[0]
        tmp = tmp_name(directory, oid[7:])
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
        try:
            try:
                write_all(fd, data)
                if len(data) >= _EARLY:  # start writing it back now: flush has less to do
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                faults.point("store.temp-written")
            finally:
                os.close(fd)
        except BaseException:  # a full disk: no temp file left behind
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if not self._publish(tmp, oid, dst):
            return 0
        self.new_bytes += len(data)
        return len(data)

    def put_file(self, src: str, size: int | None = None) -> tuple[str, int]:
        """Store the bytes of the file at ``src``: one pass reads, hashes and copies; a
        file of ``chunk_threshold`` bytes or more is stored as chunks.

        With reflink available the file is hashed, then cloned. Returns (oid, size).
        """
        if self.chunk_threshold and (size if size is not None else os.stat(src).st_size) \
                >= self.chunk_threshold:
            return self.put_chunked(src)
        if size is not None and size <= SMALL:
            fd = os.open(src, os.O_RDONLY)
            try:
                data = os.read(fd, size + 1)
            finally:
                os.close(fd)
            if len(data) <= size:
                return self.put_bytes(data, check=False), len(data)
        if self._reflink_ok and "reflink" in self.link_types:
            oid = hash_file(src)
            n = os.stat(src).st_size
            if self.has(oid):
                return oid, n
            tmp = self._new_tmp(oid[5:])
            if self._clone(src, tmp):
                os.chmod(tmp, _RO)
                if hash_file(tmp) == oid:  # the source changed under us otherwise
                    self._publish(tmp, oid)  # shares the source's blocks: nothing new
                    return oid, n
                os.unlink(tmp)
        src_fd = os.open(src, os.O_RDONLY)
        try:
            tmp = self._new_tmp("put")
            if (size if size is not None else os.fstat(src_fd).st_size) >= directio.DIRECT_MIN:
                dst_fd, _ = directio.open_direct(tmp, _RO)
                copy = directio.copy_and_hash
            else:
                dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
                copy = copy_and_hash
            try:
                oid, n = copy(src_fd, dst_fd)
            except BaseException:
                os.close(dst_fd)
                os.unlink(tmp)
                raise
            os.close(dst_fd)
        finally:
            os.close(src_fd)
        if self.has(oid):
            os.unlink(tmp)
        elif self._publish(tmp, oid):
            self.new_bytes += n
        return oid, n

    def put_files(self, files: list[tuple[str, int]],
                  progress: Callable[[int], None] | None = None) -> list[tuple[str, int]]:
        """:meth:`put_file` of each (path, size), split between two processes when many.

        Returns their (oid, size) in order; :attr:`new_bytes` counts the children's too.
        """
        before = self.new_bytes

        def put(f: tuple[str, int]) -> tuple[str, int, int]:
            start = self.new_bytes
            oid, n = self.put_file(*f)
            return oid, n, self.new_bytes - start

        out = forkpool.split_map(put, files, progress)
        if len(files) >= forkpool.MIN_ITEMS:  # a child's writes: flush the file system
            self.wrote_elsewhere()
        self.new_bytes = before + sum(o[2] for o in out)
        return [(o[0], o[1]) for o in out]

    def wrote_elsewhere(self) -> None:
        """Another process (a forked worker) wrote objects into this store: the next
        :meth:`flush` syncs the whole file system."""
        self._dirty = True
        self._written = None

    def put_link(self, src: str, oid: str, st: os.stat_result) -> bool:
        """Make the read-only file ``src`` the object ``oid`` by a hard link: no bytes are
        copied, so a file kept by another tool's cache costs no space twice.

        The caller has just hashed ``src`` to ``oid`` through a descriptor whose ``fstat``
        is ``st``; the link is published only if it is that same inode, unchanged (size
        and mtime) and without write permission. False (nothing published) when that does
        not hold or the file system refuses the link (another device, a link limit).
        """
        if st.st_mode & 0o222 or not stat.S_ISREG(st.st_mode):
            return False
        directory = f"{self.objects}/{oid[5:7]}"
        tmp = tmp_name(directory, oid[7:])
        try:
            try:
                os.link(src, tmp)
            except FileNotFoundError:
                os.makedirs(directory, exist_ok=True)
                os.link(src, tmp)
        except OSError as e:
            if e.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP,
                           errno.EACCES):
                return False
            raise
        now = os.lstat(tmp)
        if (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns, now.st_mode & 0o222) != (
                st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, 0):
            os.unlink(tmp)
            return False
        self._publish(tmp, oid)
        return True

    def _clone(self, src: str, dst: str) -> bool:
        """Reflink ``src`` to a new file ``dst``; False (and no file) when unsupported."""
        if not self._reflink_ok:
            return False
        s = os.open(src, os.O_RDONLY)
        try:
            d = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                fcntl.ioctl(d, _FICLONE, s)
                return True
            except OSError:
                self._reflink_ok = False
                os.close(d)
                d = -1
                os.unlink(dst)
                return False
            finally:
                if d >= 0:
                    os.close(d)
        finally:
            os.close(s)

    def flush(self) -> None:
        """Make every object written by this process durable: an fsync of each when they
        are few, else one ``syncfs`` of the store's file system."""
        if not self._dirty or not self.durable:
            return
        if self._written is not None:
            dirs = set()
            for path in self._written:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                dirs.add(os.path.dirname(path))
            for d in dirs:
                fsync_dir(d)
        else:
            syncfs(self.root)
        self._dirty = False
        self._written = []

    # -- reading ----------------------------------------------------------------
    def read_bytes(self, oid: str, *, what: str = "") -> bytes:
        """The verified bytes of an object (for small objects such as manifests)."""
        try:
            with open(self.path(oid), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if (cl := self.chunk_list(oid)) is None:
                raise MissingObjectError(oid, what) from None
            return self._reader(cl, what).read()  # verified as it is read
        actual = hash_bytes(data)
        if actual != oid:
            raise IntegrityError(oid, actual, self.path(oid))
        return data

    def open(self, oid: str, mode: str = "rb", encoding: str | None = None,
             what: str = "") -> IO[Any]:
        """Object ``oid`` for reading, verified as it is read (gitml/verifiedio.py; a
        chunked file: every chunk it reads, and the whole when read in order). Every
        reader that hands out stored bytes goes through here or :meth:`link`."""
        path = self.path(oid)
        if not os.path.exists(path) and (cl := self.chunk_list(oid)) is not None:
            from gitml.verifiedio import buffered

            return buffered(self._reader(cl, what), mode, encoding)
        from gitml.verifiedio import open_verified

        try:
            return open_verified(path, oid, mode, encoding)
        except FileNotFoundError:
            raise MissingObjectError(oid, what) from None

    def materialise(self, oid: str, dest: str) -> None:
        """Write object ``oid`` (whole or chunked) to the new file ``dest``, verified."""
        self._copy_object(oid, dest, 0o444)

    def verify(self, oid: str) -> str:
        """Re-hash an object; returns the actual hash (equal to ``oid`` when intact). A
        file held as chunks: the hash of its chunks in order (MissingObjectError naming
        a chunk that is gone)."""
        try:
            return hash_file(self.path(oid))
        except FileNotFoundError:
            if (cl := self.chunk_list(oid)) is None:
                raise
        return self._hash_chunks(cl)

    def link(self, oid: str, dest: str, *, executable: bool = False,
             link_types: tuple[str, ...] | None = None) -> os.stat_result:
        """Materialise object ``oid`` at ``dest`` (atomically replacing it), verified.

        Never links a corrupt object: copies are hashed while copying, links are hashed
        before linking. Returns the stat of the new file (of the object, for a symlink).
        """
        src = self.path(oid)
        types = link_types or self.link_types
        if executable:  # a shared inode cannot carry a per-file mode
            types = tuple(t for t in types if t in ("reflink", "copy")) or ("copy",)
        directory, _, name = dest.rpartition("/")
        tmp = tmp_name(directory or ".", name)
        try:
            try:
                st = self._materialise(oid, src, tmp, types, executable)
            except MissingObjectError as e:
                if e.oid != oid or self.chunk_list(oid) is None:
                    raise
                # held as chunks: there is no single file to link, so a verified copy
                st = self._copy_object(oid, tmp, 0o755 if executable else 0o644)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return st

    def _materialise(self, oid: str, src: str, tmp: str, types: tuple[str, ...],
                     executable: bool) -> os.stat_result:
        for t in types:
            if t == "copy":
                return self._copy_verified(oid, src, tmp, 0o755 if executable else 0o644)
            self._check(oid, src)
            if t == "reflink":
                try:
                    if self._clone(src, tmp):
                        os.chmod(tmp, 0o755 if executable else 0o644)
                        return os.lstat(tmp)
                except FileNotFoundError:
                    raise MissingObjectError(oid) from None
                continue
            try:
                if t == "hardlink":
                    os.link(src, tmp)
                    return os.lstat(tmp)
                os.symlink(src, tmp)
                self.protect(src)
                return os.stat(tmp)  # the object's own stat: a later edit through it shows
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
        raise BadInputError(f"none of the link types {','.join(types)} works here")

    def _check(self, oid: str, src: str) -> None:
        try:
            actual = hash_file(src)
        except FileNotFoundError:
            raise MissingObjectError(oid) from None
        if actual != oid:
            raise IntegrityError(oid, actual, src)

    def _copy_verified(self, oid: str, src: str, tmp: str, mode: int) -> os.stat_result:
        try:
            sfd = os.open(src, os.O_RDONLY)
        except FileNotFoundError:
            raise MissingObjectError(oid) from None
        try:
            dfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                data = os.read(sfd, SMALL + 1)
                if len(data) <= SMALL:
                    actual = hash_bytes(data)
                    if actual == oid:
                        write_all(dfd, data)
                else:
                    os.lseek(sfd, 0, os.SEEK_SET)
                    actual, _ = copy_and_hash(sfd, dfd)
                st = os.fstat(dfd)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
        if actual != oid:
            os.unlink(tmp)
            raise IntegrityError(oid, actual, src)
        return st

    def _copy_object(self, oid: str, tmp: str, mode: int) -> os.stat_result:
        """A verified copy of ``oid`` at the new file ``tmp``; a chunked file is assembled,
        its whole hash checked (a mismatch names the bad chunk, or the list)."""
        cl = self.chunk_list(oid)
        if cl is None:
            return self._copy_verified(oid, self.path(oid), tmp, mode)
        return self._assemble(cl, tmp, mode)

    def protect(self, path: str) -> None:
        """Make an object immutable (Linux ``FS_IMMUTABLE_FL``) so that not even root can
        edit it through a symbolic link into the store. Needs root (CAP_LINUX_IMMUTABLE)
        and a file system that has the flag; elsewhere the 0444 mode is the guard. Not for
        hard links: an immutable inode could not be deleted from the workspace either."""
        if self._immutable_ok:
            self._immutable_ok = set_immutable(path, True)

    def is_linked(self, path: str, st: os.stat_result | None = None) -> bool:
        """True when ``path`` shares bytes with the store (a hardlink or a symlink into it)."""
        st = st or os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return os.path.realpath(path).startswith(os.path.realpath(self.objects) + os.sep)
        return st.st_nlink > 1 and not (st.st_mode & 0o222)

    # -- deleting -----------------------------------------------------------------
    def remove(self, oid: str) -> int:
        """Delete one object; returns the bytes freed. Caller holds the exclusive lock."""
        p = self.path(oid)
        try:
            size = os.lstat(p).st_size
            try:
                os.unlink(p)
            except PermissionError:  # made immutable when it was linked: clear, then delete
                if not set_immutable(p, False):
                    raise BadInputError(
                        f"cannot delete {p}: it was made immutable when root linked it into a "
                        "workspace; run this as root (or 'chattr -i' it)") from None
                os.unlink(p)
        except FileNotFoundError:
            return 0
        return size

    def clean_tmp(self) -> int:
        """Drop temp files left by killed writers; returns how many. Caller holds the
        exclusive lock, so no writer is running."""
        junk: list[str] = []
        try:
            tops = [e.path for e in os.scandir(self.objects) if e.is_dir()]
        except FileNotFoundError:
            tops = []
        for top in tops:
            with os.scandir(top) as it:
                junk.extend(e.path for e in it if e.name.startswith(TMP_PREFIX))
        if os.path.isdir(self.tmp):
            junk.extend(e.path for e in os.scandir(self.tmp))
        junk.extend(self._record_tmp())
        for path in junk:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return len(junk)


def parse_link(value: str) -> tuple[str, ...]:
    """``"reflink,copy"`` -> ("reflink", "copy"), validated."""
    types = tuple(t.strip() for t in str(value).split(",") if t.strip())
    bad = [t for t in types if t not in LINK_TYPES]
    if not types or bad:
        raise BadInputError(
            f"invalid link type {value!r}: use one or more of {', '.join(LINK_TYPES)}")
    return types


__all__ = ["Store", "LINK_TYPES", "DEFAULT_LINK", "parse_link", "CHUNK"]
