"""Reading an object's bytes so that corruption never goes unnoticed.

A sequential reader hashes as it reads, and the read that reaches the end checks the
hash *before* handing over its bytes: a corrupt object raises
:class:`~gitml.errors.IntegrityError` instead of ending normally. The first read that is
not in order (a seek, as a Parquet reader makes for the footer) hashes the whole object
first, so random access only ever sees verified bytes.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

import xxhash

from gitml.errors import IntegrityError
from gitml.hashing import PREFIX, hash_file


class VerifiedReader(io.RawIOBase):
    """The bytes of the object ``oid`` stored at ``path``, verified as described above."""

    def __init__(self, path: str, oid: str) -> None:
        super().__init__()
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self.name = path
        self._oid = oid
        self._size = os.fstat(self._f.fileno()).st_size
        self._pos = 0
        self._hash: Any = xxhash.xxh3_128()
        self._hashed = 0  # bytes hashed so far, in order from the start
        self._ok = False  # the whole object was checked

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _check(self, actual: str) -> None:
        if actual != self._oid:
            raise IntegrityError(self._oid, actual, self.name)
        self._ok = True

    def _verify_whole(self) -> None:
        self._check(hash_file(self.name))

    def readinto(self, b: Any) -> int:
        if not self._ok and self._pos != self._hashed:
            self._verify_whole()
        n = self._f.readinto(b)
        if not self._ok:
            self._hash.update(memoryview(b)[:n])
            self._hashed += n
            if self._hashed >= self._size or n == 0:
                self._check(PREFIX + self._hash.hexdigest())  # before these bytes go out
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._f.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


class PositionedReader(io.RawIOBase):
    """A readable, seekable raw file of ``size`` bytes whose subclass reads at ``_pos``
    (``readinto``); closing it calls ``on_close`` once and drops ``_release``'s buffers."""

    def __init__(self, size: int, on_close: Any = None) -> None:
        super().__init__()
        self.size = size
        self._pos = 0
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _release(self) -> None:
        """Drop buffers (subclasses)."""

    def close(self) -> None:
        if not self.closed:
            self._release()
            if self._on_close is not None:
                self._on_close()
        super().close()


def buffered(raw: io.RawIOBase, mode: str = "rb", encoding: str | None = None,
             buffer_size: int = 1 << 20) -> io.BufferedReader | io.TextIOWrapper:
    """A buffered binary (``rb``) or text (``r``) file over ``raw``."""
    reader = io.BufferedReader(raw, buffer_size=buffer_size)  # type: ignore[arg-type]
    if mode == "r":
        return io.TextIOWrapper(reader, encoding=encoding or "utf-8")
    return reader


def open_verified(path: str, oid: str, mode: str = "rb", encoding: str | None = None
                  ) -> IO[Any]:
    """A buffered binary (``rb``) or text (``r``) file over :class:`VerifiedReader`."""
    return buffered(VerifiedReader(path, oid), mode, encoding)
