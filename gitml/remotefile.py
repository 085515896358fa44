"""Reading an object that is only on a remote, without downloading it whole.

What can be verified, and when (docs/reading.md, "What is verified"):

- An object of up to :data:`WHOLE` bytes is fetched whole on the first read (one request)
  and hashed before any byte of it is handed out.
- A larger object read in order from its start is hashed as it is read; the read that
  reaches its end checks the hash *before* returning its bytes, so a corrupt object never
  ends normally (:class:`~gitml.errors.IntegrityError` instead).
- A larger object read out of order (a Parquet reader takes the footer first, then column
  chunks) is fetched by ranged requests: each range is checked to be as long as the
  pointer's size says, but cannot be hashed — the hash covers the whole object. Such a
  reader says :attr:`RemoteBlob.verified` is False; ``verify=True`` (``api.open``, the
  ``gitml://`` file system) fetches the object into the store first, verified, instead.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING, Any

import xxhash

from gitml.errors import IntegrityError
from gitml.hashing import PREFIX, hash_bytes
from gitml.remotes.base import RemoteError
from gitml.verifiedio import PositionedReader, buffered

if TYPE_CHECKING:
    from gitml.remotes.base import Backend

WHOLE = 16 << 20


class RemoteBlob:
    """Ranges of the object ``oid`` (``size`` bytes, as its pointer says) on ``backend``."""

    def __init__(self, backend: Backend, oid: str, size: int, where: str) -> None:
        self.backend, self.oid, self.size, self.where = backend, oid, size, where
        self._data: bytes | None = None
        self._hash: Any = xxhash.xxh3_128()
        self._hashed = 0  # bytes hashed in order from the start
        self._in_order = True
        self.verified = False
        self.fetched = 0  # bytes received from the remote
        self._lock = threading.Lock()

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` (clipped to the object)."""
        start, end = max(0, start), min(end, self.size)
        if start >= end:
            return b""
        with self._lock:
            if self.size <= WHOLE:
                return self._whole()[start:end]
            data = self.backend.read_range(self.oid, start, end - start)
            self.fetched += len(data)
            if len(data) != end - start:
                raise RemoteError(f"{self.where} sent {len(data)} bytes of {self.oid} at "
                                  f"{start}, not {end - start}: it is not the object its "
                                  "pointer names")
            if self._in_order and start == self._hashed:
                self._hash.update(data)
                self._hashed = end
                if end == self.size:  # the whole object, in order: check before handing out
                    self._check(PREFIX + self._hash.hexdigest())
            elif start > self._hashed:
                self._in_order = False  # a gap: the hash can no longer be completed
            return data

    def _whole(self) -> bytes:
        if self._data is None:
            data = self.backend.read(self.oid)
            if data is None:
                raise RemoteError(f"{self.where} lacks {self.oid}")
            self.fetched += len(data)
            self._check(hash_bytes(data))
            self._data = data
        return self._data

    def _check(self, actual: str) -> None:
        if actual != self.oid:
            raise IntegrityError(self.oid, actual, self.where)
        self.verified = True


class RemoteReader(PositionedReader):
    """A seekable binary file over a :class:`RemoteBlob` (for ``api.open`` and
    ``gitml://``). Reads in order grow a read-ahead window from 64 KiB to 8 MiB, so a
    file read through costs few requests; a seek starts again at 64 KiB, so a Parquet
    reader's footer and column reads fetch about what they ask for."""

    _MIN, _MAX = 64 << 10, 8 << 20

    def __init__(self, blob: RemoteBlob, on_close: Any = None) -> None:
        super().__init__(blob.size, on_close)
        self.blob = blob
        self.name = f"{blob.where}:{blob.oid}"
        self._buf = b""
        self._buf_at = 0
        self._window = self._MIN

    def readinto(self, b: Any) -> int:
        want = len(b)
        offset = self._pos - self._buf_at
        if not (0 <= offset < len(self._buf)):
            sequential = self._pos == self._buf_at + len(self._buf)
            self._window = min(self._window * 2, self._MAX) if sequential else self._MIN
            self._buf = self.blob.fetch(self._pos, self._pos + max(want, self._window))
            self._buf_at, offset = self._pos, 0
        chunk = self._buf[offset:offset + want]
        n = len(chunk)
        memoryview(b)[:n] = chunk
        self._pos += n
        return n

    def _release(self) -> None:
        self._buf = b""


def open_remote(blob: RemoteBlob, mode: str = "rb", encoding: str | None = None,
                on_close: Any = None) -> io.BufferedReader | io.TextIOWrapper:
    """A buffered binary (``rb``) or text (``r``) file reading ``blob``."""
    return buffered(RemoteReader(blob, on_close), mode, encoding, 64 << 10)
