"""Chunked files on both remotes (issue 21): push and fetch move only the chunks the other
side lacks, status --remote counts bytes, gc --remote follows chunk lists, reads without a
checkout take only the chunks they touch, and bad remote data is named, never stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import s3server
from conftest import git
from test_remote import add_remote, clone, s3  # noqa: F401 - the S3 fixture

import gitml
from gitml import chunks, pointer
from gitml.hashing import hash_bytes

MiB = 1 << 20


@pytest.fixture(params=["dir", "s3"])
def remote(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    assert cli("config", "core.chunk_threshold", "4MiB").code == 0
    return add_remote(request.param, repo, tmp_path, cli, request)


def oid_of(repo: Path, rel: str) -> str:
    return pointer.load(str(repo / f"{rel}.gitml")).oid


def commit_version(repo: Path, cli, data: bytes, msg: str) -> str:
    (repo / "big.bin").write_bytes(data)
    r = cli("add", "big.bin")
    assert r.code == 0, r.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", msg)
    return oid_of(repo, "big.bin")


def test_push_sends_only_new_chunks_and_a_clone_pulls_them(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    v1 = os.urandom(20 * MiB)
    h1 = commit_version(repo, cli, v1, "v1")
    r = cli("push", "--json")
    assert r.code == 0, r.err
    first = json.loads(r.out)
    # the file and its chunk list: never more new bytes than the total
    assert 20 * MiB < first["size"] < 20 * MiB + (64 << 10), first
    assert 20 * MiB < first["bytes"] <= first["size"], first
    store = gitml.Repo(repo).store
    cl1 = store.chunk_list(h1)
    objects = remote.objects()
    assert h1 not in objects  # the whole file is never sent
    assert set(cl1.ids) <= set(objects) and store.list_id(h1) in objects
    assert all(hash_bytes(d) == o for o, d in objects.items())
    assert remote.keys("chunked") == {f"chunked/{h1[5:7]}/{h1[7:]}":
                                      chunks.record_bytes(store.list_id(h1))}
    # version 2: 256 KiB inserted near the start; only a few chunks are new
    v2 = v1[:MiB] + os.urandom(256 << 10) + v1[MiB:]
    h2 = commit_version(repo, cli, v2, "v2")
    r = cli("push")
    assert r.code == 0 and "of 20.3 MiB" in r.out, r.out  # 20.25 MiB and its list
    # the chunks v1 sent count as already there (not 0: the summary names what was saved)
    there = int(r.out.rsplit(";", 1)[1].split()[0])
    assert there >= len(set(cl1.ids) & set(store.chunk_list(h2).ids)) > 10, r.out
    second = json.loads(cli("push", "--json", "--rev", "HEAD").out)
    assert second["bytes"] == 0  # everything is there now
    new = set(store.chunk_list(h2).ids) - set(cl1.ids)
    assert 0 < sum(store.chunk_list(h2).distinct()[c] for c in new) < 6 * MiB

    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull", "--json")
    assert r.code == 0, r.err
    assert (dest / "big.bin").read_bytes() == v2
    got = gitml.Repo(dest).store
    assert got.chunk_list(h2) is not None and not os.path.exists(got.path(h2))
    # fetching v1 afterwards takes only the chunks v2 did not have
    r = cli("fetch", "--rev", "HEAD~1", "--json")
    assert r.code == 0, r.err
    fetched = json.loads(r.out)
    assert fetched["bytes"] < 6 * MiB and fetched["bytes"] <= fetched["size"], fetched
    git(dest, "checkout", "-q", "HEAD~1")
    assert cli("checkout").code == 0 and (dest / "big.bin").read_bytes() == v1
    assert cli("fsck").code == 0


def test_status_remote_counts_bytes(repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    v1 = os.urandom(24 * MiB)
    commit_version(repo, cli, v1, "v1")
    r = cli("status", "--remote", "--json")
    st = json.loads(r.out)
    assert st["bytes_not_pushed"] >= 24 * MiB and st["paths"][0]["state"] == "not pushed"
    assert cli("push").code == 0
    commit_version(repo, cli, v1 + os.urandom(MiB), "v2")
    st = json.loads(cli("status", "--remote", "--json").out)
    assert st["paths"][0]["state"] == "not pushed"
    # the appended MiB and the old last chunk it joined (at most 4 MiB), not 25 MiB
    assert MiB <= st["bytes_not_pushed"] <= MiB + chunks.MAX, st
    r = cli("status", "--remote")
    assert "not pushed" in r.out and "MiB" in r.out


def test_gc_remote_follows_chunk_lists(repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    v1 = os.urandom(12 * MiB)
    h1 = commit_version(repo, cli, v1, "v1")
    assert cli("push").code == 0
    store = gitml.Repo(repo).store
    c1 = set(store.chunk_list(h1).ids)
    h2 = commit_version(repo, cli, v1 + os.urandom(2 * MiB), "v2")
    assert cli("push").code == 0
    only1 = c1 - set(store.chunk_list(h2).ids)
    assert cli("gc", "--remote").code == 0  # both versions are referenced
    assert set(store.chunk_list(h2).ids) | c1 <= set(remote.objects())
    # forget v1: rewrite history so only v2 is referenced
    git(repo, "checkout", "-q", "--orphan", "only2")
    git(repo, "commit", "-qm", "v2 alone")
    git(repo, "branch", "-D", "main" if "main" in git(repo, "branch") else "master")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    r = cli("gc", "--remote")
    assert r.code == 0, r.err
    left = remote.objects()
    assert not (only1 & set(left)) and set(store.chunk_list(h2).ids) <= set(left)
    assert list(remote.keys("chunked")) == [f"chunked/{h2[5:7]}/{h2[7:]}"]


def test_bad_chunk_data_on_the_remote_is_named_and_not_stored(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    v1 = os.urandom(12 * MiB)
    h1 = commit_version(repo, cli, v1, "v1")
    assert cli("push").code == 0
    cl = gitml.Repo(repo).store.chunk_list(h1)
    bad = cl.ids[5]
    remote.put_raw(bad, b"garbage")
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    r = cli("pull")
    assert r.code == 1 and bad in r.err and "corrupt" in r.err
    store = gitml.Repo(dest).store
    assert not store.has(h1) and not os.path.exists(store.path(bad))
    assert not (dest / "big.bin").exists()
    # a record naming the list of another file is refused too
    other = chunks.dumps("xxh3:" + "1" * 32, zip(cl.ids, cl.sizes, strict=True))
    lid = hash_bytes(other)
    remote.put_raw(lid, other)
    remote.put_key(f"chunked/{h1[5:7]}/{h1[7:]}", chunks.record_bytes(lid))
    r = cli("pull")
    assert r.code == 1 and "another file" in r.err and not store.has(h1)
    remote.put_key(f"chunked/{h1[5:7]}/{h1[7:]}", b"junk")
    r = cli("pull")
    assert r.code == 1 and "not a gitml chunked-file record" in r.err


def test_range_read_from_the_remote_reads_only_the_chunks_it_covers(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    v1 = os.urandom(16 * MiB)
    commit_version(repo, cli, v1, "v1")
    assert cli("push").code == 0
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    from gitml.reading import Snapshot

    snap = Snapshot(str(dest), "HEAD")
    with snap.open("big.bin") as f:
        f.seek(-8, os.SEEK_END)  # a Parquet reader's first read: the footer
        assert f.read() == v1[-8:]
        f.seek(9 * MiB)
        assert f.read(1000) == v1[9 * MiB:9 * MiB + 1000]
    assert snap.remote_bytes <= 2 * chunks.MAX < len(v1), snap.remote_bytes  # two chunks
    assert not gitml.Repo(dest).store.has(oid_of(dest, "big.bin"))  # nothing was stored
    with snap.open("big.bin") as f:  # read in order: every chunk and the whole checked
        assert f.read() == v1


def test_a_corrupt_local_chunk_is_healed_from_the_remote(
        repo: Path, remote: s3server.RemoteHandle, cli) -> None:
    from conftest import corrupt

    v1 = os.urandom(12 * MiB)
    h1 = commit_version(repo, cli, v1, "v1")
    assert cli("push").code == 0
    store = gitml.Repo(repo).store
    bad = store.chunk_list(h1).ids[4]
    corrupt(store.path(bad), b"rot")
    os.unlink(repo / "big.bin")
    r = cli("checkout")
    assert r.code == 0, r.err
    assert "repaired" in r.err and (repo / "big.bin").read_bytes() == v1
    assert cli("fsck").code == 0
    assert any(p.name.startswith(bad[5:]) for p in (repo / ".gitml/cache/quarantine").iterdir())


def test_push_and_fetch_killed_midway_leave_no_record_then_finish(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:

    v1 = os.urandom(12 * MiB)
    h1 = commit_version(repo, cli, v1, "v1")

    def killed(cwd: Path, *args: str) -> None:
        env = dict(os.environ, GITML_TEST_FAIL_AFTER="5", GITML_TEST_FAIL_ACTION="sigkill")
        p = subprocess.run([sys.executable, "-m", "gitml.cli.main", *args], cwd=cwd, env=env,
                           capture_output=True, text=True)
        assert p.returncode == -9, p.stderr

    killed(repo, "push", "-j", "1")
    assert remote.keys("chunked") == {}  # no record names chunks that did not all arrive
    assert cli("push").code == 0
    assert list(remote.keys("chunked")) == [f"chunked/{h1[5:7]}/{h1[7:]}"]
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    killed(dest, "fetch", "-j", "1")
    store = gitml.Repo(dest).store
    assert not store.has(h1) and not list(store.iter_chunked())
    r = cli("pull")
    assert r.code == 0, r.err
    assert (dest / "big.bin").read_bytes() == v1 and cli("fsck").code == 0


def test_get_writes_a_chunked_file_from_its_chunks_each_verified(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    """``gitml get`` of a file another repository's remote holds as chunks: written from
    the chunks (a repeated chunk at each of its places), byte-identical; a bad or missing
    chunk is refused and named, and nothing is left beside the output."""
    from gitml.remotes import config as rconfig
    from gitml.remotes.chunked import fetch_whole, remote_list

    block = os.urandom(12 * MiB)  # ten chunks: the copy re-aligns within it
    data = block + os.urandom(MiB) + block + os.urandom(3 * MiB)  # chunks that repeat
    h = commit_version(repo, cli, data, "v1")
    assert cli("push").code == 0
    store = gitml.Repo(repo).store
    cl = store.chunk_list(h)
    assert len(set(cl.ids)) < len(cl.ids)
    monkeypatch.setenv("GITML_REPO_CACHE", str(tmp_path / "repo-cache"))
    if remote.kind == "s3":  # the consumer signs with its own AWS chain
        assert remote.server is not None
        for k, v in remote.server.env().items():
            if k != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(k, v)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    r = cli("get", str(repo), "big.bin", "--json")
    assert r.code == 0, r.err
    assert (out / "big.bin").read_bytes() == data
    assert json.loads(r.out)["fetched"] == len(set(cl.ids)) + 1  # its chunks and its list
    assert os.listdir(out) == ["big.bin"]

    # the function itself: a bad chunk is named, a missing one too
    src = gitml.Repo(repo)
    rs = rconfig.spec(src, None)
    backend = rconfig.open_backend(src, rs, jobs=4)
    try:
        assert remote_list(backend, h, "there") == cl
        bad = cl.ids[len(cl) // 2]
        good = Path(store.path(bad)).read_bytes()
        remote.put_raw(bad, good[:-1] + bytes([good[-1] ^ 1]))
        with pytest.raises(gitml.errors.IntegrityError, match=bad[5:]):
            fetch_whole(backend, cl, str(tmp_path / "w1"), 4, "there")
        remote.delete(bad)
        with pytest.raises(gitml.errors.MissingObjectError, match=bad[5:]):
            fetch_whole(backend, cl, str(tmp_path / "w2"), 4, "there")
    finally:
        backend.close()

    remote.put_raw(bad, good[:-1] + bytes([good[-1] ^ 1]))
    r = cli("get", str(repo), "big.bin", "-o", "again.bin")
    assert r.code == 1 and bad in r.err and "corrupt" in r.err, r.err
    remote.delete(bad)
    r = cli("get", str(repo), "big.bin", "-o", "again.bin")
    assert r.code == 1 and bad in r.err and "missing" in r.err, r.err
    assert os.listdir(out) == ["big.bin"]  # nothing half-written, no temp left
    remote.put_raw(bad, good)
    assert cli("get", str(repo), "big.bin", "-o", "again.bin").code == 0
    assert (out / "again.bin").read_bytes() == data
    if remote.kind == "s3":  # keys in the environment: signed here, boto3 never imported
        probe = ("import atexit, runpy, sys; atexit.register(lambda: print("
                 "sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')),"
                 " file=sys.stderr)); runpy.run_module('gitml', run_name='__main__')")
        p = subprocess.run([sys.executable, "-c", probe, "get", str(repo), "big.bin", "-o",
                            "third.bin"], capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr.strip() == "[]", p.stderr
        assert (out / "third.bin").read_bytes() == data
