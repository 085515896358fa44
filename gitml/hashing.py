"""XXH3-128 hashing of bytes and files, streaming with large buffers."""

from __future__ import annotations

import os
import re

import xxhash

PREFIX = "xxh3:"
CHUNK = 4 << 20  # 4 MiB: big enough to amortise syscalls, small enough for bounded memory
SMALL = 1 << 20  # files up to this size are read in one call
_OID_RE = re.compile(r"^xxh3:[0-9a-f]{32}$")


def is_oid(value: object) -> bool:
    """True for a well-formed object id: ``xxh3:`` + 32 lowercase hex digits."""
    return isinstance(value, str) and _OID_RE.match(value) is not None


def hash_bytes(data: bytes | memoryview) -> str:
    """The object id of ``data``."""
    return PREFIX + xxhash.xxh3_128_hexdigest(data)


def hash_file(path: str | os.PathLike[str]) -> str:
    """The object id of a file's bytes: small files in one read, others in 4 MiB chunks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size <= SMALL:
            data = os.read(fd, size + 1)
            if len(data) <= size:
                return PREFIX + xxhash.xxh3_128_hexdigest(data)
            os.lseek(fd, 0, os.SEEK_SET)  # grew while we looked: stream it
    finally:
        os.close(fd)
    with open(path, "rb", buffering=0) as f:
        return hash_fileobj(f)


def hash_fileobj(f: object) -> str:
    """The object id of everything readable from a binary unbuffered file object."""
    h = xxhash.xxh3_128()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    readinto = f.readinto  # type: ignore[attr-defined]
    while True:
        n = readinto(view)
        if not n:
            break
        h.update(view[:n])
    return PREFIX + h.hexdigest()


WRITEBACK = 64 << 20  # start writing a big copy to disk every 64 MiB


def copy_and_hash(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy ``src_fd`` to ``dst_fd`` while hashing, in one pass. Returns (oid, size).

    Every 64 MiB the kernel is asked to start writing the copy back (asynchronously), so
    the flush that makes it durable later has little left to do.
    """
    h = xxhash.xxh3_128()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = flushed = 0
    while True:
        n = os.readv(src_fd, [buf])
        if not n:
            break
        chunk = view[:n]
        h.update(chunk)
        while chunk:
            chunk = chunk[os.write(dst_fd, chunk):]
        size += n
        if size - flushed >= WRITEBACK:
            os.posix_fadvise(dst_fd, flushed, size - flushed, os.POSIX_FADV_DONTNEED)
            flushed = size
    return PREFIX + h.hexdigest(), size
