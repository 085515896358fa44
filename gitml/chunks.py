"""Big files as content-defined chunks (docs/formats.md, "Chunked objects, versions 1 and 2").

A file at or above ``core.chunk_threshold`` is cut with FastCDC into chunks, each an
ordinary object; a chunk list (an object) names them in order; the record
``chunked/<2 hex>/<30 hex>`` of the whole file's id names the list. This module owns
the formats and the cutting; :class:`gitml.store.Store` owns where they live, and
:class:`ChunkedReader` reads a chunked file back, verified.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import xxhash

from gitml.errors import FormatError, IntegrityError
from gitml.hashing import PREFIX, is_oid
from gitml.verifiedio import PositionedReader

FORMAT, VERSION = "gitml-chunks", 2  # the version written
MAX_OF = {1: 1 << 20, 2: 4 << 20}  # the largest chunk each list version allows
MAX = MAX_OF[VERSION]
# FastCDC parameters (average, minimum, maximum) of version 2 by file size (formats.md):
# small chunks dedup best; a big file takes larger ones so that a transfer of it is a
# quarter of the requests
SMALL, LARGE = (256 << 10, 64 << 10, 1 << 20), (1 << 20, 256 << 10, 4 << 20)
LARGE_FROM = 256 << 20
DEFAULT_THRESHOLD = 64 << 20
THRESHOLD_MIN = 1 << 20  # a smaller file is never chunked: no lookup for small objects
_LINE = re.compile(rb"xxh3:([0-9a-f]{32}) ([1-9][0-9]{0,6})\n")
_RECORD = re.compile(rb"(xxh3:[0-9a-f]{32})\n")


@dataclass(frozen=True)
class ChunkList:
    """A chunked file: its id, size, and its chunks' ids, lengths and start offsets."""

    oid: str
    size: int
    ids: tuple[str, ...]
    sizes: tuple[int, ...]
    offsets: tuple[int, ...]  # start of each chunk; offsets[i] + sizes[i] = the next

    def __len__(self) -> int:
        return len(self.ids)

    def span(self, start: int, end: int) -> range:
        """Indexes of the chunks that bytes ``[start, end)`` touch."""
        if start >= end or not self.ids:
            return range(0)
        first = bisect.bisect_right(self.offsets, start) - 1
        last = bisect.bisect_left(self.offsets, end) - 1
        return range(max(first, 0), last + 1)

    def distinct(self) -> dict[str, int]:
        """{chunk id: length} of its distinct chunks."""
        return dict(zip(self.ids, self.sizes, strict=True))


def header(oid: str, size: int, version: int = VERSION) -> bytes:
    return json.dumps({"format": FORMAT, "version": version, "hash": oid, "size": size},
                      separators=(",", ":")).encode() + b"\n"


def dumps(oid: str, chunks: Iterable[tuple[str, int]]) -> bytes:
    """The canonical bytes of a chunk list."""
    chunks = list(chunks)
    size = sum(n for _, n in chunks)
    return header(oid, size) + b"".join(f"{c} {n}\n".encode() for c, n in chunks)


def loads(data: bytes, what: str) -> ChunkList:
    """Parse and validate a chunk list (:class:`FormatError` naming ``what``)."""
    first, _, rest = data.partition(b"\n")
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise FormatError(what, "not a gitml chunk list")
    version = head.get("version")
    most = MAX_OF.get(version) if type(version) is int else None
    if most is None:
        raise FormatError(what, f"unsupported chunk list version {version!r} "
                                "(written by a newer gitml; upgrade gitml)")
    oid, size = head.get("hash"), head.get("size")
    if not is_oid(oid) or type(size) is not int or size < 0 or \
            first + b"\n" != header(oid, size, version):
        raise FormatError(what, "malformed chunk list header")
    ids: list[str] = []
    sizes: list[int] = []
    offsets: list[int] = []
    pos = at = 0
    match = _LINE.match
    while pos < len(rest):
        m = match(rest, pos)
        if m is None or int(m.group(2)) > most:
            raise FormatError(what, f"malformed chunk line {len(ids) + 2}")
        n = int(m.group(2))
        ids.append(PREFIX + m.group(1).decode())
        sizes.append(n)
        offsets.append(at)
        at += n
        pos = m.end()
    if at != size:
        raise FormatError(what, f"its chunks add up to {at} bytes, not {size}")
    return ChunkList(oid, size, tuple(ids), tuple(sizes), tuple(offsets))


def record_bytes(list_oid: str) -> bytes:
    return list_oid.encode() + b"\n"


def parse_record(data: bytes, what: str) -> str:
    """The chunk list id a record names."""
    m = _RECORD.fullmatch(data)
    if m is None:
        raise FormatError(what, "not a gitml chunked-file record")
    return m.group(1).decode()


def params(size: int) -> tuple[int, int, int]:
    """The FastCDC (average, minimum, maximum) for a file of ``size`` bytes."""
    return LARGE if size >= LARGE_FROM else SMALL


def parse_threshold(value: Any) -> int:
    """``core.chunk_threshold``: bytes, or a size such as ``64MiB``; 0 turns it off."""
    from gitml.errors import ConfigError

    text = str(value).strip()
    m = re.fullmatch(r"(\d+)\s*(|B|KiB|MiB|GiB|K|M|G)", text, re.IGNORECASE)
    if m is None:
        raise ConfigError(f"expected a size in bytes (e.g. 67108864 or 64MiB), not {value!r}")
    unit = m.group(2).upper().rstrip("IB").rstrip("B")
    n = int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]
    if 0 < n < THRESHOLD_MIN:
        raise ConfigError(f"a chunk threshold is 0 (off) or at least 1 MiB, not {value!r}")
    return n


# -- cutting ---------------------------------------------------------------------------
def cut(src_fd: int, write: Callable[[str, memoryview | bytes], int]
        ) -> tuple[str, int, list[tuple[str, int]], int]:
    """Cut the file open at ``src_fd`` into chunks. ``write(chunk id, bytes)`` stores one
    chunk (run on a second thread, so cutting and writing overlap) and returns the bytes
    it newly stored (0 when the store had it). Returns (whole-file id, size, chunks, new
    bytes stored)."""
    import queue
    import threading

    from pyfastcdc import FastCDC

    avg, least, most = params(os.fstat(src_fd).st_size)
    cdc = FastCDC(avg, min_size=least, max_size=most)
    whole = xxhash.xxh3_128()
    chunk_id = xxhash.xxh3_128_hexdigest
    todo: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=64)
    failed: list[BaseException] = []
    new = [0]
    seen: set[str] = set()

    def writer() -> None:
        while (item := todo.get()) is not None:
            if failed:
                continue
            try:
                new[0] += write(*item)
            except BaseException as e:  # noqa: BLE001 - re-raised by the cutting thread
                failed.append(e)

    thread = threading.Thread(target=writer, name="gitml-chunk-writer", daemon=True)
    thread.start()
    chunks: list[tuple[str, int]] = []
    size = 0
    try:
        with open(src_fd, "rb", buffering=0, closefd=False) as f:
            for c in cdc.cut_stream(f):
                data = c.data
                whole.update(data)
                cid = PREFIX + chunk_id(data)
                chunks.append((cid, c.length))
                size += c.length
                if cid not in seen:
                    seen.add(cid)
                    todo.put((cid, bytes(data)))  # the stream's buffer is reused
                if failed:
                    break
    finally:
        todo.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return PREFIX + whole.hexdigest(), size, chunks, new[0]


# -- reading ---------------------------------------------------------------------------
class ChunkedReader(PositionedReader):
    """The bytes of a chunked file, read from its chunks: every chunk is hashed before
    any of its bytes is handed out; a read in order from the start also hashes the whole
    file and checks it before the last bytes go out. ``load(chunk id, length)`` returns
    a chunk's bytes (from the store, or a remote), unverified."""

    def __init__(self, cl: ChunkList, load: Callable[[str, int], bytes], name: str,
                 on_close: Callable[[], None] | None = None) -> None:
        super().__init__(cl.size, on_close)
        self.cl = cl
        self._load = load
        self.name = name
        self._cur = -1  # index of the chunk in _data
        self._data = b""
        self._whole: Any = xxhash.xxh3_128()
        self._hashed = 0  # chunks hashed into _whole, in order from the first
        self.fetched = 0  # bytes loaded

    def chunk(self, i: int) -> bytes:
        """Chunk ``i``, verified."""
        if i != self._cur:
            cid, n = self.cl.ids[i], self.cl.sizes[i]
            data = self._load(cid, n)
            self.fetched += len(data)
            actual = PREFIX + xxhash.xxh3_128_hexdigest(data)
            if actual != cid:
                raise IntegrityError(cid, actual, f"chunk {i} of {self.name}")
            self._cur, self._data = i, data
            if i == self._hashed:
                self._whole.update(data)
                self._hashed += 1
                if self._hashed == len(self.cl):
                    actual = PREFIX + self._whole.hexdigest()
                    if actual != self.cl.oid:
                        raise IntegrityError(self.cl.oid, actual, self.name)
        return self._data

    def readinto(self, b: Any) -> int:
        cl = self.cl
        if self._pos >= cl.size or not len(b):
            return 0
        i = bisect.bisect_right(cl.offsets, self._pos) - 1
        data = self.chunk(i)
        at = self._pos - cl.offsets[i]
        n = min(len(b), len(data) - at)
        memoryview(b)[:n] = data[at:at + n]
        self._pos += n
        return n

    def _release(self) -> None:
        self._data = b""
