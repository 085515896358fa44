"""push / fetch / pull / status --remote / gc --remote against a directory remote and a
real S3 server (SeaweedFS), the same tests for both (one conformance suite)."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path

import pytest
import s3server
from conftest import git, write

import gitml
from gitml import api, pointer
from gitml.hashing import hash_bytes

_prefix = itertools.count()


@pytest.fixture(scope="session")
def s3() -> s3server.S3Server:
    return s3server.shared()


def add_remote(kind: str, repo: Path, tmp_path: Path, cli, request) -> s3server.RemoteHandle:
    """Remote 'storage' (the default) in ``repo``, committed so that clones know it."""
    if kind == "dir":
        root = tmp_path / "remote-store"
        assert cli("remote", "add", "storage", str(root)).code == 0
        handle = s3server.RemoteHandle("dir", str(root), root=root)
    else:
        srv = request.getfixturevalue("s3")
        url = f"s3://{srv.bucket}/t{next(_prefix)}-{os.getpid()}/store"
        assert cli("remote", "add", "storage", url, "--default").code == 0
        assert cli("remote", "modify", "storage", "endpoint_url", srv.endpoint).code == 0
        assert cli("remote", "modify", "storage", "retries", "2").code == 0
        for k, v in (("access_key_id", srv.access_key), ("secret_access_key", srv.secret_key)):
            r = cli("remote", "modify", "--local", "storage", k, v)
            assert r.code == 0, r.err
        handle = s3server.RemoteHandle("s3", url, server=srv)
    git(repo, "add", ".gitml/config.yaml")
    git(repo, "commit", "-qm", "remote")
    return handle


@pytest.fixture(params=["dir", "s3"])
def remote(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    return add_remote(request.param, repo, tmp_path, cli, request)


@pytest.fixture(params=["dir", "s3", "s3-boto-only"])
def remote3(request, repo: Path, tmp_path: Path, cli, monkeypatch) -> s3server.RemoteHandle:
    """Also S3 through boto3's client alone (no lean small-object path)."""
    if request.param == "s3-boto-only":
        monkeypatch.setenv("GITML_S3_BOTO_ONLY", "1")
    return add_remote(request.param.split("-")[0], repo, tmp_path, cli, request)


def make_data(repo: Path, cli) -> dict[str, bytes]:
    """Tracked: a small file, a 2.5 MiB file, a directory with 40 files (one executable,
    one empty, nested). Returns {path: bytes} of every file."""
    rng = random.Random(6)
    files = {"data/small.txt": b"hello remote\n",
             "data/big.bin": rng.randbytes(5 << 19)}
    for i in range(38):
        files[f"images/{'ab'[i % 2]}/img{i:02}.png"] = rng.randbytes(rng.randrange(50, 3000))
    files["images/run.sh"] = b"#!/bin/sh\necho hi\n"
    files["images/empty"] = b""
    for p, data in files.items():
        write(repo / p, data)
    os.chmod(repo / "images/run.sh", 0o755)
    r = cli("add", "data/small.txt", "data/big.bin", "images")
    assert r.code == 0, r.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    return files


def clone(origin: Path, dest: Path, monkeypatch: pytest.MonkeyPatch,
          remote: s3server.RemoteHandle) -> Path:
    """A fresh clone as the cwd; S3 credentials come from the AWS environment there."""
    git(origin.parent, "clone", "-q", str(origin), str(dest))
    monkeypatch.chdir(dest)
    if remote.kind == "s3":
        assert remote.server is not None
        for k, v in remote.server.env().items():
            if k != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(k, v)
    return dest


def assert_files(root: Path, files: dict[str, bytes]) -> None:
    for p, data in files.items():
        assert (root / p).read_bytes() == data, p
    assert os.access(root / "images/run.sh", os.X_OK)


def test_push_then_pull_into_a_fresh_clone_is_byte_identical(
        repo: Path, remote3: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    remote = remote3
    files = make_data(repo, cli)
    r = cli("push")
    assert r.code == 0, r.err
    assert "pushed 43 objects" in r.out  # 40 dir files + manifest + 2 files
    stored = remote.objects()
    assert len(stored) == 43
    assert all(hash_bytes(data) == oid for oid, data in stored.items())  # layout = store's
    assert cli("push").out.startswith("Everything is on storage already (43 objects)")

    clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull")
    assert r.code == 0, r.err
    assert "fetched 43 objects" in r.out and "checkout: 42 created" in r.out
    assert_files(tmp_path / "clone", files)
    assert cli("fsck").code == 0
    r = cli("pull")
    assert r.out.startswith("Everything is in the store already")


def test_new_bytes_of_a_transfer_count_manifests_in_the_total_too(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    """'X new of Y': a first push or fetch moves everything, so X is Y (manifests are in
    both; they were once in X alone: 'fetched 2 objects (109 B new of 7 B)')."""
    files = make_data(repo, cli)
    r = cli("push")
    assert r.code == 0, r.err
    new, total = re.search(r"\((.+) new of (.+)\)", r.out).groups()  # type: ignore[union-attr]
    assert new == total, r.out
    clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("fetch", "--json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["bytes"] == got["size"] > sum(len(v) for v in files.values())  # + manifest


def test_fetch_then_checkout_and_partial_pull(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    assert cli("push", "-j", "3").code == 0
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull", "images/a", "--json")  # a path inside a tracked directory
    assert r.code == 0, r.err
    assert sorted(p.name for p in (dest / "images").iterdir()) == ["a"]
    assert len(list((dest / "images/a").iterdir())) == 19
    assert not (dest / "data/big.bin").exists()
    bad = cli("pull", "images/nope")
    assert bad.code == 2 and "images/nope does not exist in the tracked directory images" in bad.err
    bad = cli("fetch", "elsewhere.txt")
    assert bad.code == 2 and "elsewhere.txt is not tracked by gitml" in bad.err

    r = cli("fetch", "data")
    assert r.code == 0 and "fetched 2 objects" in r.out
    assert not (dest / "data/big.bin").exists()  # fetch only fills the store
    assert cli("checkout", "data").code == 0
    assert (dest / "data/big.bin").read_bytes() == files["data/big.bin"]
    assert cli("checkout").code == 1  # images/b was never fetched
    assert cli("pull").code == 0
    assert_files(dest, files)


def test_push_and_fetch_by_revision(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    write(repo / "m.bin", b"v1")
    assert cli("add", "m.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "switch", "-qc", "exp")
    write(repo / "m.bin", b"v2")
    assert cli("add", "m.bin").code == 0
    git(repo, "commit", "-qam", "v2")
    git(repo, "switch", "-q", "main")
    assert cli("checkout").code == 0
    v1, v2 = hash_bytes(b"v1"), hash_bytes(b"v2")

    assert cli("push").code == 0  # the workspace: v1 only
    assert set(remote.objects()) == {v1}
    r = cli("push", "--rev", "exp", "--json")
    assert r.code == 0 and '"transferred": 1' in r.out
    assert set(remote.objects()) == {v1, v2}
    assert cli("push", "--all-branches").out.startswith("Everything is on storage")

    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    git(dest, "branch", "-q", "exp", "origin/exp")
    assert cli("fetch", "--rev", "exp").code == 0
    store = gitml.Repo().store
    assert store.has(v2) and not store.has(v1)
    assert api.read("m.bin", rev="exp") == b"v2"
    bad = cli("fetch", "--rev", "nosuch")
    assert bad.code == 2 and "unknown revision 'nosuch'" in bad.err


def test_status_remote_reports_what_is_not_pushed_and_not_fetched(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    make_data(repo, cli)
    r = cli("status", "--remote", "--json")
    assert r.code == 0, r.err
    import json

    st = json.loads(r.out)
    assert st["not_pushed"] == 43 and not st["in_sync"]
    assert "not pushed  images/" in cli("status", "--remote").out
    assert cli("push", "data").code == 0
    out = cli("status", "--remote", "storage", "-v").out
    assert "in sync     data/big.bin" in out and "41 to push" in out
    assert cli("push").code == 0
    assert "In sync with storage" in cli("status", "--remote").out

    clone(repo, tmp_path / "clone", monkeypatch, remote)
    out = cli("status", "images", "--remote").out
    assert "not fetched  images/" in out and "40 to fetch" in out  # manifest read remotely


def test_many_objects_are_checked_by_listing_and_a_gap_is_found(
        repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    """Past a few thousand objects, what the remote has is learnt by listing its 256
    prefixes instead of asking object by object; the answer must be the same."""
    from gitml.remotes import base

    n = 8 * base.LIST_THRESHOLD + 100  # listing on every kind of remote
    for i in range(n):
        write(repo / "many" / f"d{i % 16}" / f"f{i:05d}.txt", f"object {i}\n".encode())
    assert cli("add", "-q", "many").code == 0
    assert cli("push", "-q").code == 0
    assert json.loads(cli("status", "--remote", "--json").out)["in_sync"]
    gone = sorted(o for o in remote.objects() if o != pointer.load(
        str(repo / "many.gitml")).oid)[::700]  # a few files' objects, spread over prefixes
    for oid in gone:
        remote.delete(oid)
    st = json.loads(cli("status", "--remote", "--json").out)
    assert st["not_pushed"] == len(gone) and not st["in_sync"], st
    r = cli("push", "--json")
    assert r.code == 0 and json.loads(r.out)["transferred"] == len(gone), r.out
    assert json.loads(cli("status", "--remote", "--json").out)["in_sync"]


def test_objects_missing_on_the_remote_are_named(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    assert cli("push").code == 0
    big = pointer.load(str(repo / "data/big.bin.gitml")).oid
    remote.delete(big)
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull")
    assert r.code == 1
    assert f"1 object missing on remote storage: {big} (data/big.bin)" in r.err
    assert_files(dest, {k: v for k, v in files.items() if k != "data/big.bin"})
    assert not (dest / "data/big.bin").exists()
    r = cli("fetch", "--json")  # the rest is there now; the missing one is still named
    assert r.code == 1 and '"missing": [' in r.out and big in r.out

    monkeypatch.chdir(repo)  # a push from the origin repairs the remote
    assert cli("push").code == 0
    monkeypatch.chdir(dest)
    assert cli("pull").code == 0
    assert_files(dest, files)


def test_corrupt_object_on_the_remote_is_detected_not_stored_and_named(
        repo: Path, remote3: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    remote = remote3
    files = make_data(repo, cli)
    assert cli("push").code == 0
    small = pointer.load(str(repo / "data/small.txt.gitml")).oid
    big = pointer.load(str(repo / "data/big.bin.gitml")).oid
    remote.put_raw(small, b"evil bytes")
    remote.put_raw(big, b"x" * (3 << 20))  # the streamed path (larger than 1 MiB)
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull")
    assert r.code == 1
    assert "2 corrupt (hash mismatch, not stored)" in r.err
    assert f"{small} (data/small.txt) at remote storage" in r.err and big in r.err
    store = gitml.Repo().store
    assert not store.has(small) and not store.has(big)
    assert not (dest / "data/small.txt").exists() and not (dest / "data/big.bin").exists()
    assert not list(Path(store.root).rglob(".gitml-tmp-*"))  # nothing half-written left
    assert (dest / "images/run.sh").exists()  # the intact rest was checked out
    assert "fetched 41 objects" in r.out and "checkout: 40 created" in r.out
    assert "repair the remote with 'gitml push --force PATH'" in r.err

    monkeypatch.chdir(repo)  # the remote has both names, so only --force sends them again
    assert cli("push", "data").out.startswith("Everything is on storage")
    r = cli("push", "--force", "data")
    assert r.code == 0 and "pushed 2 objects" in r.out
    monkeypatch.chdir(dest)
    assert cli("pull").code == 0
    assert_files(dest, files)


def test_read_api_falls_back_to_the_default_remote(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    assert cli("push").code == 0
    clone(repo, tmp_path / "clone", monkeypatch, remote)
    assert api.read("images/a/img00.png") == files["images/a/img00.png"]
    assert api.read("data/small.txt", rev="HEAD", mode="r") == "hello remote\n"
    with api.open("data/big.bin") as f:
        assert f.read() == files["data/big.bin"]
    store = gitml.Repo().store
    assert store.has(pointer.load("images.gitml").oid)  # the manifest came along


def test_gc_remote_deletes_only_unreferenced_objects(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    write(repo / "scratch.bin", b"never committed")
    assert cli("add", "scratch.bin").code == 0
    assert cli("push").code == 0
    assert cli("remove", "scratch.bin").code == 0
    (repo / "scratch.bin.gitml").unlink(missing_ok=True)
    assert len(remote.objects()) == 44
    r = cli("gc", "--remote", "--dry-run")
    assert r.code == 0 and "storage: would remove 1 object, 15 B; kept 43" in r.out
    assert len(remote.objects()) == 44
    r = cli("gc", "--remote", "storage", "--json")
    assert r.code == 0 and '"removed": 1' in r.out
    assert hash_bytes(b"never committed") not in remote.objects()

    # a fresh clone has no manifests locally: gc fetches them rather than deleting files
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("gc", "--remote")
    assert r.code == 0 and "removed 0 objects" in r.out
    assert cli("pull").code == 0
    assert_files(dest, files)


def test_large_object_goes_in_parts_and_is_verified_on_arrival(
        repo: Path, remote3: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    """A large object comes in ranged parts (S3's lean path), hashed as they land: a bad
    part anywhere, a short object or a missing one is refused, and nothing is left in the
    store (neither under the object's name nor as a temp file)."""
    remote = remote3
    data = random.Random(9).randbytes(20 << 20)  # three 8 MiB parts, the last one 4 MiB
    write(repo / "model.bin", data)
    assert cli("add", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "model")
    r = cli("push", "--json")
    assert r.code == 0 and '"bytes": 20971520' in r.out
    oid = hash_bytes(data)
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    assert cli("pull").code == 0
    assert (dest / "model.bin").read_bytes() == data

    def refused(name: str, bad: bytes | None, message: str) -> None:
        if bad is None:
            remote.delete(oid)
        else:
            remote.put_raw(oid, bad)
        other = clone(repo, tmp_path / name, monkeypatch, remote)
        r = cli("pull")
        assert r.code == 1 and message in r.err, r.err
        assert not (other / "model.bin").exists()
        store = gitml.Repo().store
        assert not store.has(oid) and not os.path.exists(store.path(oid))
        assert not list(Path(store.root).rglob(".gitml-tmp-*"))

    corrupt = f"1 corrupt (hash mismatch, not stored): {oid} (model.bin) at remote storage"
    middle = bytearray(data)
    middle[12 << 20] ^= 1  # one flipped bit in the middle part
    refused("bit", bytes(middle), corrupt)
    last = bytearray(data)
    last[-1] ^= 0x80  # in the last byte, hashed last
    refused("last", bytes(last), corrupt)
    refused("short", data[:(17 << 20) + 5], corrupt)  # the last part is short
    refused("shorter", data[:3 << 20], corrupt)  # the first part is short, the rest absent
    refused("missing", None, f"1 object missing on remote storage: {oid} (model.bin)")

    monkeypatch.chdir(repo)  # repaired, the next clone gets the object whole
    assert cli("push", "--force", "model.bin").code == 0
    good = clone(repo, tmp_path / "good", monkeypatch, remote)
    assert cli("pull").code == 0 and (good / "model.bin").read_bytes() == data
    assert cli("fsck").code == 0


def test_directory_remote_with_two_processes_reports_like_one(
        repo: Path, cli, tmp_path: Path, monkeypatch, request) -> None:
    """Past forkpool.MIN_ITEMS objects a directory remote is pushed and fetched by two
    processes: the counts, a corrupt object in the child's half and the bytes are as with one."""
    from gitml import forkpool

    if forkpool.workers() < 2:
        pytest.skip("needs two CPUs and fork")
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 10)
    remote = add_remote("dir", repo, tmp_path, cli, request)
    files = make_data(repo, cli)
    store = gitml.Repo().store
    # objects go in id order: the largest id is in the second half, the child's
    last = max(hash_bytes(d) for p, d in files.items() if p.startswith("images/"))
    os.chmod(store.path(last), 0o644)
    good = Path(store.path(last)).read_bytes()
    with open(store.path(last), "wb") as f:
        f.write(b"rotten")
    r = cli("push", "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert [c["oid"] for c in report["corrupt"]] == [last] and report["transferred"] == 42, r.out
    assert last not in remote.objects()
    with open(store.path(last), "wb") as f:
        f.write(good)
    r = cli("push")
    assert r.code == 0 and "pushed 1 object " in r.out, r.out + r.err

    remote.put_raw(last, b"rotten on the remote")
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull")
    assert r.code == 1 and "1 corrupt (hash mismatch, not stored)" in r.err and last in r.err
    assert "fetched 42 objects" in r.out
    remote.put_raw(last, good)
    assert cli("pull").code == 0
    assert_files(dest, files)
    assert cli("fsck").code == 0
