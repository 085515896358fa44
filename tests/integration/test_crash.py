"""A gitml process killed at fixed points leaves a usable repository; rerunning finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

import gitml
from gitml import forkpool
from gitml.hashing import hash_file


def gitml_proc(cwd: Path, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if fault:
        env["GITML_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "gitml.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def make_tree(root: Path, n: int = 60) -> None:
    for i in range(n):
        write(root / "data" / f"d{i % 4}" / f"f{i}.bin", os.urandom(64) + str(i).encode())


def every_object_matches_its_name(repo: Path) -> None:
    store = gitml.Repo(repo).store
    for oid in store.iter_oids():
        assert hash_file(store.path(oid)) == oid


_BIG = forkpool.MIN_ITEMS + 100  # stored by two processes (when there are two CPUs)
_TWO = pytest.mark.skipif(forkpool.workers() < 2, reason="needs two CPUs and fork")


@pytest.mark.parametrize("files, fault, code", [
    (60, "store.object-written:kill@1", -signal.SIGKILL),
    (60, "store.object-written:kill@30", -signal.SIGKILL),
    (60, "add.before-pointers:kill", -signal.SIGKILL),
    pytest.param(_BIG, "forkpool.child-item:kill@300", 2, marks=_TWO),  # the child killed
    pytest.param(_BIG, "store.object-written:kill@300", -signal.SIGKILL, marks=_TWO)])
def test_add_killed_then_rerun_gives_the_uninterrupted_result(
        repo: Path, tmp_path: Path, files: int, fault: str, code: int) -> None:
    make_tree(repo, files)
    # the reference: the same data added without interruption in another repository
    ref = tmp_path / "ref"
    ref.mkdir()
    git(ref, "init", "-q")
    assert gitml_proc(ref, "init").returncode == 0
    subprocess.run(["cp", "-r", str(repo / "data"), str(ref)], check=True)
    assert gitml_proc(ref, "add", "data").returncode == 0

    killed = gitml_proc(repo, "add", "data", fault=fault)
    assert killed.returncode == code, killed.stderr
    if code == 2:
        assert "worker process stopped before finishing (signal 9)" in killed.stderr
    assert not (repo / "data.gitml").exists()
    every_object_matches_its_name(repo)
    rerun = gitml_proc(repo, "add", "data")
    assert rerun.returncode == 0, rerun.stderr
    assert (repo / "data.gitml").read_text() == (ref / "data.gitml").read_text()
    every_object_matches_its_name(repo)
    assert gitml_proc(repo, "fsck").returncode == 0
    # gc (which holds the store exclusively) clears the killed writer's temp files
    assert gitml_proc(repo, "gc").returncode == 0
    assert not list(Path(gitml.Repo(repo).store.root).rglob(".gitml-tmp-*"))


def test_checkout_killed_then_rerun_completes(repo: Path) -> None:
    make_tree(repo)
    write(repo / "single.bin", "one file")
    assert gitml_proc(repo, "add", "data", "single.bin").returncode == 0
    expected = {p: p.read_bytes() for p in (repo / "data").rglob("*") if p.is_file()}
    os.rename(repo / "data", repo.parent / "data.moved")
    os.unlink(repo / "single.bin")
    killed = gitml_proc(repo, "checkout", fault="checkout.file-written:kill@20")
    assert killed.returncode == -signal.SIGKILL
    rerun = gitml_proc(repo, "checkout")
    assert rerun.returncode == 0, rerun.stderr
    got = {p: p.read_bytes() for p in (repo / "data").rglob("*") if p.is_file()}
    assert got == expected
    assert (repo / "single.bin").read_text() == "one file"
    assert not [p for p in repo.rglob(".gitml-tmp-*")]
    assert all(s.state == "ok" for s in gitml.Repo(repo).status())


def test_ctrl_c_exits_130_and_leaves_nothing_half_done(repo: Path) -> None:
    make_tree(repo, 10)
    r = gitml_proc(repo, "add", "data", fault="store.object-written:raise@3")
    assert r.returncode == 130 and "interrupted" in r.stderr
    assert not (repo / "data.gitml").exists()
    assert gitml_proc(repo, "add", "data").returncode == 0


def test_second_process_waits_for_the_workspace_lock(repo: Path, tmp_path: Path) -> None:
    write(repo / "a.bin", "a")
    write(repo / "b.bin", "b")
    assert gitml_proc(repo, "config", "--local", "core.lock_timeout", "0.3").returncode == 0
    gate = tmp_path / "gate"
    env = dict(os.environ, GITML_FAULT=f"add.before-pointers:wait={gate}")
    first = subprocess.Popen([sys.executable, "-m", "gitml.cli.main", "add", "a.bin"], cwd=repo,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (tmp_path / "gate.reached").exists():
            assert first.poll() is None
        second = gitml_proc(repo, "add", "b.bin")
        assert second.returncode == 2 and "another gitml process" in second.stderr
        assert not (repo / "b.bin.gitml").exists()
        # readers take no lock
        assert gitml_proc(repo, "status").returncode == 0
    finally:
        gate.touch()
        assert first.wait(timeout=60) == 0
    assert gitml_proc(repo, "add", "b.bin").returncode == 0
