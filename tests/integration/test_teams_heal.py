"""Self-healing reads: checkout, pull, api.read and fetch that meet a corrupt object in the
store move it into the quarantine, fetch a verified copy from the default remote and go
on; fsck --repair does it for every corrupt or missing object (directory remote and a
real S3 server)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import s3server
from test_remote import add_remote, clone, make_data, s3  # noqa: F401 - the S3 fixture

import gitml
from gitml import pointer
from gitml.hashing import hash_bytes


@pytest.fixture(params=["dir", "s3"])
def remote(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    return add_remote(request.param, repo, tmp_path, cli, request)


def damage(oid: str) -> bytes:
    """Flip a byte of a stored object in place (same size, same name); returns the good
    bytes."""
    path = gitml.Repo().store.path(oid)
    good = Path(path).read_bytes()
    os.chmod(path, 0o644)
    Path(path).write_bytes(bytes([good[0] ^ 0xFF]) + good[1:] if good else b"x")
    os.chmod(path, 0o444)
    return good


def quarantined(root: Path) -> list[Path]:
    q = root / ".gitml" / "cache" / "quarantine"
    return sorted(q.iterdir()) if q.exists() else []


def test_checkout_pull_and_read_heal_a_corrupt_object(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    assert cli("push", "-q").code == 0
    big = pointer.load(str(repo / "data/big.bin.gitml")).oid
    damage(big)
    (repo / "data/big.bin").unlink()
    r = cli("checkout")
    assert r.code == 0, r.err
    assert r.err.startswith("repaired 1 corrupt object from remote storage (the bad copy: "
                            ".gitml/cache/quarantine/)")
    assert (repo / "data/big.bin").read_bytes() == files["data/big.bin"]
    bad = quarantined(repo)
    assert len(bad) == 1 and bad[0].name.startswith(big[5:])
    assert hash_bytes(bad[0].read_bytes()) != big  # kept as it was, for inspection
    assert cli("fsck", "-q").code == 0

    # api.read of a corrupt object inside a tracked directory
    img = next(e for e in gitml.manifest.loads(gitml.Repo().store.read_bytes(
        pointer.load(str(repo / "images.gitml")).oid), "x") if e.size > 10)
    good = damage(img.oid)
    assert gitml.api.read(f"images/{img.path}", rev="HEAD") == good
    assert len(quarantined(repo)) == 2

    # a teammate's clone: pull meets a corrupt copy the fetch half already replaces
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    assert cli("pull", "-q").code == 0
    damage(big)
    (dest / "data/big.bin").unlink()
    r = cli("pull")
    assert r.code == 0, r.err
    assert "fetched 1 object" in r.out and "1 corrupt copy replaced" in r.out
    assert (dest / "data/big.bin").read_bytes() == files["data/big.bin"]
    damage(big)  # fetch alone replaces a present but corrupt object too
    r = cli("fetch", "--json")
    assert json.loads(r.out)["replaced"] == 1
    assert cli("fsck", "-q").code == 0


def test_fsck_repair_heals_every_corrupt_and_missing_object(
        repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    files = make_data(repo, cli)
    assert cli("push", "-q").code == 0
    store = gitml.Repo().store
    small = pointer.load(str(repo / "data/small.txt.gitml")).oid
    manifest = pointer.load(str(repo / "images.gitml")).oid
    damage(small)
    damage(manifest)
    img = next(e for e in gitml.manifest.loads(remote.objects()[manifest], "x"))
    os.unlink(store.path(img.oid))
    r = cli("fsck")
    assert r.code == 1
    r = cli("fsck", "--repair")
    assert r.code == 0, r.err
    assert "3 of 3 repaired from remote storage" in r.out
    assert f"corrupt: {small} at" in r.out and "repaired" in r.out
    assert cli("fsck").code == 0
    assert (repo / "data/small.txt").read_bytes() == files["data/small.txt"]  # untouched
    r = cli("fsck", "--repair", "--json")
    assert json.loads(r.out)["ok"] is True and json.loads(r.out)["corrupt"] == []


def test_no_healthy_copy_anywhere_is_exit_1_and_nothing_corrupt_reaches_the_workspace(
        repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    make_data(repo, cli)
    assert cli("push", "-q").code == 0
    oid = pointer.load(str(repo / "data/big.bin.gitml")).oid
    remote.put_raw(oid, b"not it")  # the remote's copy is bad too
    damage(oid)
    (repo / "data/big.bin").unlink()
    r = cli("checkout")
    assert r.code == 1
    assert r.err.strip().splitlines()[-1].startswith("error: checkout incomplete")
    assert not (repo / "data/big.bin").exists()
    assert len(quarantined(repo)) == 1  # the bad local copy is kept aside, not lost
    r = cli("fsck", "--repair")
    assert r.code == 1
    assert r.err.strip().splitlines() == [r.err.strip().splitlines()[0]]
    assert "could not be repaired" in r.err and "corrupt on remote storage" in r.err


def test_without_a_remote_corruption_is_reported_as_before(repo: Path, cli) -> None:
    make_data(repo, cli)
    oid = pointer.load(str(repo / "data/small.txt.gitml")).oid
    damage(oid)
    (repo / "data/small.txt").unlink()
    r = cli("checkout")
    assert r.code == 1 and "corrupt" in r.err
    assert not (repo / "data/small.txt").exists() and quarantined(repo) == []
    r = cli("fsck", "--repair")
    assert r.code == 1 and "no default remote" in r.err
