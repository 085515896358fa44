"""Files the store holds as chunks (docs/formats.md, "Chunked files"): the record
``chunked/<2 hex>/<30 hex>`` names a chunk list, an ordinary object that names the chunks,
ordinary objects too. Writing stores the chunks, then the list, flushes, and only then the
record; reading assembles from the chunks and verifies each, and the whole file.

:class:`ChunkedObjects` is the chunked half of :class:`gitml.store.Store` (which inherits
it): where records live, cutting, assembling, verifying. The formats and the cutting are
:mod:`gitml.chunks`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import xxhash

from gitml import chunks, faults
from gitml.chunks import ChunkList
from gitml.errors import FormatError, IntegrityError, MissingObjectError
from gitml.fsutil import TMP_PREFIX, write_all
from gitml.hashing import PREFIX, is_oid


class ChunkedObjects:
    """Records, chunk lists and chunks of the store at ``root`` (a mixin of Store)."""

    root: str
    _lists: dict[str, ChunkList]  # chunk lists read by this process, by file id

    if TYPE_CHECKING:  # provided by Store
        def path(self, oid: str) -> str: ...
        def has(self, oid: str) -> bool: ...
        def put_bytes(self, data: bytes, *, check: bool = True) -> str: ...
        def read_bytes(self, oid: str, *, what: str = "") -> bytes: ...
        def flush(self) -> None: ...
        def _write_new(self, oid: str, data: bytes | memoryview, dst: str | None = None
                       ) -> int: ...
        def _check(self, oid: str, src: str) -> None: ...

    # -- naming ---------------------------------------------------------------
    def record_path(self, oid: str) -> str:
        """Where the record of a file held as chunks lives (docs/formats.md)."""
        return f"{self.root}/chunked/{oid[5:7]}/{oid[7:]}"

    def chunk_list(self, oid: str) -> ChunkList | None:
        """The chunk list of ``oid`` when the store holds it as chunks and not whole, else
        None. A record or list that cannot be read raises (FormatError, IntegrityError,
        MissingObjectError naming the list)."""
        cl = self._lists.get(oid)
        if cl is not None or os.path.exists(self.path(oid)):
            return cl
        rec = self.record_path(oid)
        try:
            with open(rec, "rb") as f:
                data = f.read(64)
        except FileNotFoundError:
            return None
        lid = chunks.parse_record(data, rec)
        cl = chunks.loads(self.read_bytes(lid, what=f"the chunk list of {oid}"),
                          f"chunk list {lid} of {oid}")
        if cl.oid != oid:
            raise FormatError(rec, f"names the chunk list of another file ({cl.oid})")
        self._lists[oid] = cl
        return cl

    def list_id(self, oid: str) -> str | None:
        """The id of the chunk list the record of ``oid`` names, or None (no record)."""
        rec = self.record_path(oid)
        try:
            with open(rec, "rb") as f:
                return chunks.parse_record(f.read(64), rec)
        except FileNotFoundError:
            return None

    def iter_chunked(self) -> Iterator[str]:
        """Every file id the store holds as chunks (it has a record of)."""
        base = os.path.join(self.root, "chunked")
        try:
            tops = [e for e in os.scandir(base) if len(e.name) == 2 and e.is_dir()]
        except FileNotFoundError:
            return
        for top in tops:
            with os.scandir(top.path) as it:
                for e in it:
                    oid = PREFIX + top.name + e.name
                    if is_oid(oid):
                        yield oid

    # -- writing ----------------------------------------------------------------
    def _put_chunk(self, oid: str, data: bytes) -> int:
        if os.path.exists(self.path(oid)):
            return 0
        return self._write_new(oid, data)

    def put_chunked(self, src: str) -> tuple[str, int]:
        """Store the file at ``src`` as chunks, a chunk list and its record (in that order,
        the record only once the rest is durable). Returns (oid, size)."""
        fd = os.open(src, os.O_RDONLY)
        try:
            oid, n, cut, _ = chunks.cut(fd, self._put_chunk)
        finally:
            os.close(fd)
        if self.has(oid):
            return oid, n
        lid = self.put_bytes(chunks.dumps(oid, cut))
        faults.point("store.chunks-written")
        self.flush()  # chunks and list durable before the record names them
        self.write_record(oid, lid)
        return oid, n

    def write_record(self, oid: str, lid: str) -> None:
        """Record that ``oid`` is held as the chunk list ``lid`` (whose chunks are durable)."""
        self._write_new(oid, chunks.record_bytes(lid), self.record_path(oid))

    def remove_record(self, oid: str) -> None:
        """Forget that ``oid`` is held as chunks (gc; its chunks go as garbage after)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.record_path(oid))
        self._lists.pop(oid, None)

    # -- reading ----------------------------------------------------------------
    def chunk_bytes(self, cid: str, of: str) -> bytes:
        """The stored bytes of chunk ``cid`` of file ``of``, unverified (callers hash)."""
        try:
            with open(self.path(cid), "rb", buffering=0) as f:
                return f.read(chunks.MAX + 1)
        except FileNotFoundError:
            raise MissingObjectError(cid, f"a chunk of {of}") from None

    def _reader(self, cl: ChunkList, what: str = "") -> chunks.ChunkedReader:
        return chunks.ChunkedReader(cl, lambda cid, _: self.chunk_bytes(cid, what or cl.oid),
                                    what or cl.oid)

    def _each_chunk(self, cl: ChunkList, take: Callable[[], bytearray] | None = None
                    ) -> Iterator[tuple[str, bytearray, int]]:
        """(id, buffer, length) of each chunk of the file in order, its stored bytes
        (unverified) read into ``take()``'s buffer, or one reused buffer: its bytes are
        valid until the next chunk (a fresh buffer per chunk cost half again as much CPU in
        page faults). MissingObjectError names a chunk gone."""
        if take is None:
            one = bytearray(chunks.MAX + 1)
            take = lambda: one  # noqa: E731 - the one reused buffer
        for cid in cl.ids:
            buf = take()
            try:
                fd = os.open(self.path(cid), os.O_RDONLY)
            except FileNotFoundError:
                raise MissingObjectError(cid, f"a chunk of {cl.oid}") from None
            try:
                n = os.readv(fd, [buf])
            finally:
                os.close(fd)
            yield cid, buf, n

    def _hash_chunks(self, cl: ChunkList) -> str:
        """The hash of the file's chunks in order (MissingObjectError naming one gone)."""
        whole = xxhash.xxh3_128()
        for _, buf, n in self._each_chunk(cl):
            whole.update(memoryview(buf)[:n])
        return PREFIX + whole.hexdigest()

    def _assemble(self, cl: ChunkList, tmp: str, mode: int) -> os.stat_result:
        """The chunked file at the new file ``tmp``, its whole hash checked (a mismatch
        names the bad chunk, or the list); no file is left behind on failure. Reading and
        hashing here overlap the writes on a second thread (both copies are in the page
        cache and xxhash lets go of the GIL): a checkout of 1 GiB took 1.7x ``cp``
        with the three in turn."""
        oid = cl.oid
        whole = xxhash.xxh3_128()
        dfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        ok = False
        try:
            writes = _Writes(dfd)
            try:
                for _, buf, n in self._each_chunk(cl, writes.buffer):
                    whole.update(memoryview(buf)[:n])
                    writes.put(buf, n)
            finally:
                writes.close()
            actual = PREFIX + whole.hexdigest()
            if actual != oid:
                for cid in cl.ids:  # name the culprit
                    self._check(cid, self.path(cid))
                raise IntegrityError(oid, actual, self.record_path(oid))
            st = os.fstat(dfd)
            ok = True
        finally:
            os.close(dfd)
            if not ok:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return st

    # -- deleting -----------------------------------------------------------------
    def _record_tmp(self) -> list[str]:
        """Temp files of records left by killed writers."""
        base = os.path.join(self.root, "chunked")
        junk: list[str] = []
        for top in os.scandir(base) if os.path.isdir(base) else ():
            with os.scandir(top.path) as it:
                junk.extend(e.path for e in it if e.name.startswith(TMP_PREFIX))
        return junk


class _Writes:
    """Writes to ``fd``, in order, on a second thread, from a few buffers handed back and
    forth: :meth:`buffer` gives a free one, :meth:`put` queues its first ``n`` bytes, and
    :meth:`close` waits for the last write. A failed write (ENOSPC ...) is raised by the
    next call here; the rest is dropped."""

    def __init__(self, fd: int, buffers: int = 4) -> None:
        self.fd = fd
        self.free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(buffers):
            self.free.put(bytearray(chunks.MAX + 1))
        self.todo: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gitml-assemble", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.todo.get()) is not None:
            buf, n = item
            if self.error is None:
                try:
                    write_all(self.fd, memoryview(buf)[:n])
                except BaseException as e:  # noqa: BLE001 - raised by the reading thread
                    self.error = e
            self.free.put(buf)

    def buffer(self) -> bytearray:
        if self.error is not None:
            raise self.error
        return self.free.get()

    def put(self, buf: bytearray, n: int) -> None:
        self.todo.put((buf, n))

    def close(self) -> None:
        self.todo.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
