"""Big copies around the page cache: the copy is byte for byte, whatever the size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xxhash

from gitml import directio

B = directio.BLOCK


def _copy(src: Path, dst: Path) -> tuple[str, int, bool]:
    fd_src = os.open(src, os.O_RDONLY)
    fd_dst, direct = directio.open_direct(str(dst), 0o444)
    try:
        oid, n = directio.copy_and_hash(fd_src, fd_dst)
    finally:
        os.close(fd_src)
        os.close(fd_dst)
    return oid, n, direct


@pytest.mark.parametrize("size", [0, 1, 4095, 4097, B, B + 1, 3 * B - 5])
def test_copy_is_exact_and_hashed(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src"
    src.write_bytes(data)
    oid, n, direct = _copy(src, tmp_path / "dst")
    assert direct  # the test directory's file system takes O_DIRECT (ext4 here)
    assert n == size == os.path.getsize(tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == data
    assert oid == "xxh3:" + xxhash.xxh3_128_hexdigest(data)
    assert os.stat(tmp_path / "dst").st_mode & 0o777 == 0o444


def test_write_the_device_refuses_falls_back_to_ordinary_writes(tmp_path: Path) -> None:
    fd, direct = directio.open_direct(str(tmp_path / "dst"), 0o644)
    assert direct
    data = os.urandom(3 * 4096)
    try:
        # one byte into an aligned buffer: O_DIRECT refuses it with EINVAL
        assert directio._write(fd, memoryview(b"x" + data)[1:], 0, True) is False
        assert directio._write(fd, memoryview(b"tail"), len(data), False) is False
    finally:
        os.close(fd)
    assert (tmp_path / "dst").read_bytes() == data + b"tail"


def test_a_failing_write_is_raised_not_hung(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 * B))
    (tmp_path / "ro").write_bytes(b"")
    fd_src = os.open(src, os.O_RDONLY)
    fd_dst = os.open(tmp_path / "ro", os.O_RDONLY)  # every write fails with EBADF
    try:
        with pytest.raises(OSError):
            directio.copy_and_hash(fd_src, fd_dst)
    finally:
        os.close(fd_src)
        os.close(fd_dst)
