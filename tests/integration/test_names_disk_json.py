"""Long names, a full disk and strict JSON output (issue 19, item 8).

The CSV header that is not UTF-8 is in test_bounded_parsing.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

from gitml import Repo, pointer
from gitml.fsutil import NAME_MAX, tmp_base, tmp_name


def gitml(cwd: Path, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitml.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def temp_files(root: Path) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
            if f.startswith(".gitml-tmp-")]


@pytest.mark.parametrize("length", [220, 236, 249])
def test_names_up_to_the_limit_add_and_check_out(repo: Path, cli, length: int) -> None:
    name = "é" * (length // 2) + "a" * (length % 2)  # two bytes a character: cuts fall inside
    assert len(name.encode()) == length
    write(repo / "d" / name, b"payload")
    r = cli("add", f"d/{name}")
    assert r.code == 0, r.err
    os.unlink(repo / "d" / name)
    r = cli("checkout")
    assert r.code == 0, r.err
    assert (repo / "d" / name).read_bytes() == b"payload"
    assert temp_files(repo) == []


def test_a_name_whose_pointer_cannot_exist_is_refused(repo: Path, cli) -> None:
    name = "n" * 250  # name.gitml would be 256 bytes
    write(repo / name, b"x")
    r = cli("add", name)
    assert r.code == 2
    assert "too long for its pointer file (256 bytes with .gitml" in r.err
    assert r.err.count("\n") == 1 and not (repo / ".gitml" / "cache" / "objects").exists()


def test_temp_names_stay_within_name_max_and_apart() -> None:
    a, b = "x" * 300 + "1", "x" * 300 + "2"
    for base in (a, b, "é" * 200, "short"):
        name = os.path.basename(tmp_name("/d", base))
        assert len(name.encode()) <= NAME_MAX and name.startswith(".gitml-tmp-")
        name.encode("utf-8")  # cut on a character boundary
    assert tmp_base(a) != tmp_base(b) and tmp_base("short") == "short"


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 4 MiB tmpfs mounted for the test (tests run as root), or None."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       capture_output=True)
    if p.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_disk_is_one_clear_error_and_leaves_nothing(small_fs: Path | None,
                                                           tmp_path: Path) -> None:
    if small_fs is None:  # no mount here: the same error raised at a fixed point
        root = tmp_path / "r"
        root.mkdir()
        git(root, "init", "-q")
        assert gitml(root, "init").returncode == 0
        write(root / "small.bin", b"x" * 100)
        p = gitml(root, "add", "small.bin", env={"GITML_FAULT": "store.temp-written:enospc"})
        assert p.returncode == 2 and p.stderr.startswith("error: no space left on device")
        assert temp_files(root) == [] and not (root / "small.bin.gitml").exists()
        return
    root = small_fs / "r"
    root.mkdir()
    git(root, "init", "-q")
    assert gitml(root, "init").returncode == 0
    # add: the store's copy does not fit (the file itself does); small files take another path
    data = os.urandom(2_800_000)
    write(root / "big.bin", data)
    write(root / "small.bin", os.urandom(600_000))
    p = gitml(root, "add", "small.bin", "big.bin")
    assert p.returncode == 2, p.stderr
    assert p.stderr == ("error: no space left on device; free some space and run the "
                        "command again\n")
    assert temp_files(root) == [] and not (root / "big.bin.gitml").exists()
    # checkout: the store has room elsewhere, the workspace is full
    os.unlink(root / "small.bin")
    cache = tmp_path / "cache"
    assert gitml(root, "config", "core.cache_dir", str(cache)).returncode == 0
    assert gitml(root, "add", "big.bin").returncode == 0
    _checkout_when_full(root, data)


def _checkout_when_full(root: Path, data: bytes) -> None:
    """Check out big.bin (``data``) where a filler leaves no room: one error line, nothing
    left behind; with room again, the rerun completes."""
    os.unlink(root / "big.bin")
    write(root / "filler", os.urandom(2_500_000))
    p = gitml(root, "checkout")
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: no space left on device")
    assert temp_files(root) == [] and not (root / "big.bin").exists()
    os.unlink(root / "filler")
    assert gitml(root, "checkout").returncode == 0
    assert (root / "big.bin").read_bytes() == data


def test_a_full_disk_while_assembling_a_chunked_file_is_one_clear_error(
        small_fs: Path | None, tmp_path: Path) -> None:
    """A chunked file is assembled with its writes on a second thread: a write that fails
    there is the same one line, and nothing is left."""
    if small_fs is None:
        pytest.skip("needs a small tmpfs (root); the whole-file case above covers the message")
    root = small_fs / "r"
    root.mkdir()
    git(root, "init", "-q")
    assert gitml(root, "init").returncode == 0
    assert gitml(root, "config", "core.cache_dir", str(tmp_path / "cache")).returncode == 0
    assert gitml(root, "config", "core.chunk_threshold", "1MiB").returncode == 0
    data = os.urandom(2_800_000)
    write(root / "big.bin", data)
    assert gitml(root, "add", "big.bin").returncode == 0
    oid = pointer.load(str(root / "big.bin.gitml")).oid
    assert len(Repo(str(root)).store.chunk_list(oid).ids) > 1  # type: ignore[union-attr]
    _checkout_when_full(root, data)


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_strict_json(repo: Path, cli) -> None:
    write(repo / "metrics.json", '{"acc": NaN, "loss": Infinity, "f1": -Infinity, "ok": 0.5}')
    write(repo / "gitml.yaml", "metrics: [metrics.json]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "m")
    r = cli("exp", "show", "--json")
    assert r.code == 0, r.err
    row = _strict(r.out)[0]["metrics"]["metrics.json"]
    assert row == {"acc": None, "loss": None, "f1": None, "ok": 0.5}
    for args in (("metrics", "show", "--json"), ("metrics", "diff", "--json")):
        r = cli(*args)
        assert r.code == 0, r.err
        _strict(r.out)
