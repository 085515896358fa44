"""A shared run cache: push/fetch/pull --run-cache, and a teammate's repro that restores
what someone else ran instead of running it (directory remote and a real S3 server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import s3server
from conftest import git
from test_pipeline import runs, set_lr, setup_pipeline
from test_remote import add_remote, clone, s3  # noqa: F401 - the S3 server fixture

import gitml
from gitml import hashing
from gitml.pipeline import lockfile
from gitml.pipeline.runcache import RunCache, lock_key


@pytest.fixture(params=["dir", "s3"])
def remote(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    return add_remote(request.param, repo, tmp_path, cli, request)


def _two_runs(repo: Path, cli) -> bytes:
    """main runs lr 0.1 (committed); then lr 0.01 is run and not committed. Returns the
    model of the lr 0.01 run."""
    setup_pipeline(repo)
    assert cli("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline, lr 0.1")
    set_lr(repo, "0.01")
    assert cli("repro").code == 0
    model = (repo / "models" / "model.txt").read_bytes()
    git(repo, "checkout", "-q", "--", ".")
    assert cli("checkout").code == 0
    return model


def test_teammate_restores_a_stage_someone_ran_from_the_shared_run_cache(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    model_001 = _two_runs(repo, cli)
    assert runs(repo) == 2  # prepare and train once each, then train again
    local = RunCache(gitml.Repo().store)
    assert len(local.entry_keys()) == 3
    r = cli("push", "--run-cache")
    assert r.code == 0, r.err
    assert "run cache: pushed 3 entries" in r.out
    # layout: runs/<2 hex>/<30 hex> beside objects/, the store's own bytes
    keys = remote.keys("runs")
    assert sorted(k.replace("runs/", "").replace("/", "") for k in keys) == local.entry_keys()
    for k, data in keys.items():
        assert data == local.read_raw(k[5:7] + k[8:])
    r = cli("push", "--run-cache")
    assert "run cache: pushed 0 entries (0 objects) to storage; 3 already there" in r.out

    dest = clone(repo, tmp_path / "teammate", monkeypatch, remote)
    assert cli("pull").code == 0
    set_lr(dest, "0.01")
    r = cli("repro", "--dry")
    assert "train: would run (" in r.out, r.out  # without the run cache it has to run
    r = cli("pull", "--run-cache")
    assert r.code == 0, r.err
    assert "run cache: fetched 3 entries" in r.out
    assert "train: would restore from the run cache" in cli("repro", "--dry").out
    r = cli("repro")
    assert r.code == 0, r.err
    assert "Restored stage 'train' from the run cache" in r.out
    assert runs(dest) == 0  # nothing ran in the teammate's clone
    assert (dest / "models" / "model.txt").read_bytes() == model_001
    assert cli("status", "-q").code == 0
    # the lock names the same run: its key is the entry's key
    assert lock_key(lockfile.load(str(dest))["train"]) in RunCache(
        gitml.Repo().store).entry_keys()
    r = cli("fetch", "--run-cache", "--json")
    assert json.loads(r.out)["run_cache"]["present"] == 3


def test_run_cache_entries_from_a_remote_are_validated_and_incomplete_ones_skipped(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    _two_runs(repo, cli)
    assert cli("push", "--run-cache").code == 0
    good = remote.keys("runs")
    k0, data0 = sorted(good.items())[0]
    entry = json.loads(data0)
    # a malicious teammate: an entry writing outside the repository, and garbage
    evil = dict(entry, outs=[dict(entry["outs"][0], path="../../outside.txt")])
    remote.put_key("runs/aa/" + "1" * 30, json.dumps(evil).encode())
    remote.put_key("runs/bb/" + "2" * 30, b"\x00not json")
    remote.put_key("runs/cc/not-a-key", b"{}")  # not a key: never read
    # an entry whose output object the remote does not have
    ghost = dict(entry, outs=[dict(entry["outs"][0], pointer=dict(
        entry["outs"][0]["pointer"], hash=hashing.hash_bytes(b"ghost"), size=5))])
    remote.put_key("runs/dd/" + "3" * 30, json.dumps(ghost).encode())

    dest = clone(repo, tmp_path / "teammate", monkeypatch, remote)
    r = cli("fetch", "--run-cache")
    assert r.code == 1
    assert "run cache: fetched 3 entries" in r.out
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: run cache: 2 entries skipped: ")
    assert "aa" + "1" * 30 in err[0] and "bb" + "2" * 30 in err[0]
    assert "outside the repository" in err[0] or "'..'" in err[0]
    # the entry whose object the remote lacks is stale: ignored, not stored, no error
    assert "dd" + "3" * 30 not in err[0]
    assert not (tmp_path / "outside.txt").exists()
    have = RunCache(gitml.Repo().store).entry_keys()
    assert sorted(have) == sorted(k.replace("runs/", "").replace("/", "") for k in good)
    assert cli("fsck").code == 0
    # a local entry is never replaced by a remote one
    before = RunCache(gitml.Repo().store).read_raw(k0[5:7] + k0[8:])
    remote.put_key(k0, data0.replace(b'"stage"', b'"stage" ', 1))
    assert cli("fetch", "--run-cache", "-q").code == 1  # the two bad ones again
    assert RunCache(gitml.Repo().store).read_raw(k0[5:7] + k0[8:]) == before
    del dest


def test_gc_remote_drops_the_entries_whose_outputs_it_deletes(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    _two_runs(repo, cli)  # the lr 0.01 run was never committed: nothing references it
    assert cli("push", "--run-cache").code == 0
    assert len(remote.keys("runs")) == 3
    r = cli("gc", "--remote")
    assert r.code == 0, r.err
    assert len(remote.keys("runs")) == 2
    metrics = hashing.hash_bytes((repo / "metrics.json").read_bytes())
    assert metrics in remote.objects()  # a Git-kept output of a kept entry stays
    dest = clone(repo, tmp_path / "teammate", monkeypatch, remote)
    r = cli("pull", "--run-cache")
    assert r.code == 0, r.err
    assert "run cache: fetched 2 entries" in r.out
    (dest / "metrics.json").unlink()
    git(dest, "rm", "-q", "--cached", "metrics.json")
    r = cli("repro")  # lr 0.1 as committed: restored, metrics.json recreated from the store
    assert r.code == 0, r.err
    assert (dest / "metrics.json").exists() and runs(dest) == 0
