"""Copying big files around the page cache (``O_DIRECT``), hashing on the way.

Writing a large file through the page cache costs 0.2-2.7 s of kernel time per GiB on
a VM (pages allocated, reclaimed, then flushed by the fsync that makes an object
durable); ``O_DIRECT`` sends the bytes straight to the device: a durable 1 GiB copy
took 0.5-0.8 s here against 1.5-3.9 s for ``cp`` then ``sync``. Two more threads write
blocks while the first reads and hashes the next.

Where the file system refuses ``O_DIRECT`` (tmpfs before Linux 6.6, some network file
systems) the copy falls back to ordinary writes; the result is the same file.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import queue
import threading

import xxhash

from gitml.hashing import PREFIX

DIRECT_MIN = 32 << 20  # smaller files go through the page cache: not worth a thread
BLOCK = 8 << 20  # per write; a multiple of every device's logical block size
_ALIGN = 4096
_WRITERS = 2  # blocks in flight: 12 % faster than one on this VM's disk, four no better
_O_DIRECT = getattr(os, "O_DIRECT", 0)


def open_direct(path: str, mode: int) -> tuple[int, bool]:
    """Create ``path`` (must not exist) for writing; (fd, True) when it bypasses the cache."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if _O_DIRECT:
        try:
            return os.open(path, flags | _O_DIRECT, mode), True
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
    return os.open(path, flags, mode), False


def copy_and_hash(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy ``src_fd`` to ``dst_fd`` (opened by :func:`open_direct`) while hashing.

    Returns (oid, size). Two writer threads keep two blocks in flight at the device; the
    last block is written padded to the alignment and the file then truncated to size.
    """
    h = xxhash.xxh3_128()
    free: queue.Queue[mmap.mmap] = queue.Queue()
    full: queue.Queue[tuple[mmap.mmap, int, int] | None] = queue.Queue()
    for _ in range(_WRITERS + 2):
        free.put(mmap.mmap(-1, BLOCK))  # page-aligned, as O_DIRECT needs
    failed: list[BaseException] = []

    def writer() -> None:
        direct = True
        while (item := full.get()) is not None:
            buf, n, offset = item
            try:
                if not failed:
                    direct = _write(dst_fd, memoryview(buf)[:n], offset, direct)
            except BaseException as e:  # noqa: BLE001 - re-raised by the reading thread
                failed.append(e)
            free.put(buf)

    threads = [threading.Thread(target=writer, name="gitml-direct-writer", daemon=True)
               for _ in range(_WRITERS)]
    for t in threads:
        t.start()
    size = 0
    try:
        while not failed:
            buf = free.get()
            view = memoryview(buf)
            n = 0
            while n < BLOCK and (k := os.readv(src_fd, [view[n:]])):
                n += k
            if not n:
                free.put(buf)
                break
            h.update(view[:n])
            if n < BLOCK:  # the tail: pad to the alignment, truncate after the write
                padded = -(-n // _ALIGN) * _ALIGN
                view[n:padded] = bytes(padded - n)
                full.put((buf, padded, size))
                size += n
                break
            full.put((buf, n, size))
            size += n
    finally:
        for _ in threads:
            full.put(None)
        for t in threads:
            t.join()
    if failed:
        raise failed[0]
    os.ftruncate(dst_fd, size)
    return PREFIX + h.hexdigest(), size


def _write(fd: int, data: memoryview, offset: int, direct: bool) -> bool:
    """Write all of ``data`` at ``offset``; drops to ordinary writes if the device refuses
    the alignment. Returns whether the file still bypasses the cache."""
    while data:
        try:
            n = os.pwrite(fd, data, offset)
        except OSError as e:
            if not direct or e.errno != errno.EINVAL:
                raise
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_O_DIRECT)
            direct = False
            continue
        data, offset = data[n:], offset + n
    return direct
