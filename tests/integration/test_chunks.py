"""Big files stored as content-defined chunks (issue 21): add, checkout, gc, fsck, crashes,
and bad input (a missing chunk, a corrupt chunk, a list whose whole hash is wrong)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from conftest import corrupt, git
from test_crash import gitml_proc

import gitml
from gitml import api, chunks
from gitml.errors import IntegrityError
from gitml.hashing import hash_bytes, hash_file

MiB = 1 << 20


@pytest.fixture
def big(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    """A repository whose chunk threshold is 4 MiB, with a 24 MiB random file."""
    assert cli("config", "core.chunk_threshold", "4MiB").code == 0
    data = os.urandom(24 * MiB)
    (repo / "big.bin").write_bytes(data)
    return repo


def chunk_list(repo: Path, oid: str) -> chunks.ChunkList:
    cl = gitml.Repo(repo).store.chunk_list(oid)
    assert cl is not None
    return cl


def pointer_oid(repo: Path, rel: str) -> str:
    from gitml import pointer

    return pointer.load(str(repo / f"{rel}.gitml")).oid


def test_big_file_is_stored_as_chunks_and_checked_out_exactly(big: Path, cli) -> None:
    original = (big / "big.bin").read_bytes()
    r = cli("add", "big.bin")
    assert r.code == 0, r.err
    assert "stored 24.0 MiB new of 24.0 MiB" in r.out
    oid = pointer_oid(big, "big.bin")
    assert oid == hash_file(big / "big.bin")  # the pointer names the whole file
    store = gitml.Repo(big).store
    assert not os.path.exists(store.path(oid)) and os.path.exists(store.record_path(oid))
    cl = chunk_list(big, oid)
    avg = chunks.params(len(original))[0]
    assert cl.size == len(original) and len(original) // (2 * avg) < len(cl) < 200
    assert max(cl.sizes) <= chunks.MAX
    for cid in cl.ids:  # every chunk is an ordinary object named by its hash
        assert hash_file(store.path(cid)) == cid
    os.unlink(big / "big.bin")
    r = cli("checkout")
    assert r.code == 0, r.err
    assert (big / "big.bin").read_bytes() == original
    assert cli("status", "-q").code == 0


def test_big_files_are_cut_into_larger_chunks(big: Path, cli, monkeypatch) -> None:
    """Version 2 cuts a file of LARGE_FROM bytes or more with four times the chunk size
    (fewer requests to move it), a smaller one as version 1 did (better dedup)."""
    monkeypatch.setattr(chunks, "LARGE_FROM", 16 * MiB)  # 256 MiB for real
    (big / "small.bin").write_bytes(os.urandom(12 * MiB))
    assert cli("add", "big.bin", "small.bin").code == 0
    large = chunk_list(big, pointer_oid(big, "big.bin"))  # 24 MiB
    small = chunk_list(big, pointer_oid(big, "small.bin"))
    assert large.size / len(large) > 2 * small.size / len(small)  # ~1.2 MiB vs ~320 KiB
    assert max(small.sizes) <= chunks.SMALL[2] < max(large.sizes) <= chunks.LARGE[2]
    store = gitml.Repo(big).store
    for cl in (large, small):
        head = store.read_bytes(store.list_id(cl.oid)).split(b"\n", 1)[0]
        assert json.loads(head)["version"] == 2


def test_a_new_version_stores_only_what_changed(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    data = (big / "big.bin").read_bytes()
    # 64 KiB inserted in the middle: every byte after it moves, yet the chunks re-align
    (big / "big.bin").write_bytes(data[:12 * MiB] + os.urandom(64 << 10) + data[12 * MiB:])
    r = cli("add", "--json", "big.bin")
    new = json.loads(r.out)[0]["new_bytes"]
    assert 64 << 10 <= new < 6 * MiB, new  # a chunk or two around it, not 24 MiB
    r = cli("add", "big.bin")
    assert "unchanged: big.bin (stored 0 B new of 24.1 MiB)" in r.out


def test_no_chunk_and_threshold_zero_store_the_file_whole(big: Path, cli) -> None:
    assert cli("add", "--no-chunk", "big.bin").code == 0
    oid = pointer_oid(big, "big.bin")
    store = gitml.Repo(big).store
    assert os.path.exists(store.path(oid)) and not os.path.exists(store.record_path(oid))
    assert cli("config", "core.chunk_threshold", "0").code == 0
    (big / "big.bin").write_bytes(os.urandom(5 * MiB))
    assert cli("add", "big.bin").code == 0
    assert not list(gitml.Repo(big).store.iter_chunked())


@pytest.mark.parametrize("value, says", [("512KiB", "at least 1 MiB"), ("1.5MiB", "a size"),
                                         ("lots", "a size")])
def test_bad_threshold_is_refused(repo: Path, cli, value: str, says: str) -> None:
    r = cli("config", "core.chunk_threshold", value)
    assert r.code == 2 and says in r.err and r.err.count("\n") == 1, r


@pytest.mark.parametrize("link", ["hardlink", "symlink", "reflink,copy"])
def test_chunked_file_is_always_checked_out_as_a_copy(big: Path, cli, link: str) -> None:
    assert cli("config", "core.link", link).code == 0
    original = (big / "big.bin").read_bytes()
    assert cli("add", "big.bin").code == 0
    st = os.lstat(big / "big.bin")
    assert not os.path.islink(big / "big.bin") and st.st_nlink == 1
    os.unlink(big / "big.bin")
    assert cli("checkout").code == 0
    st = os.lstat(big / "big.bin")
    assert not os.path.islink(big / "big.bin") and st.st_nlink == 1 and st.st_mode & 0o200
    assert (big / "big.bin").read_bytes() == original
    (big / "big.bin").write_bytes(b"edited in place")  # cannot reach the store
    assert cli("fsck").code == 0


def test_corrupt_chunk_is_named_and_never_reaches_the_workspace(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    oid = pointer_oid(big, "big.bin")
    cl = chunk_list(big, oid)
    store = gitml.Repo(big).store
    bad = cl.ids[len(cl) // 2]
    data = Path(store.path(bad)).read_bytes()
    corrupt(store.path(bad), data[:-1] + bytes([data[-1] ^ 1]))
    os.unlink(big / "big.bin")
    r = cli("checkout")
    assert r.code == 1 and "corrupt" in r.err and "big.bin" in r.err
    assert not (big / "big.bin").exists()
    assert not [p for p in os.listdir(big) if p.startswith(".gitml-tmp")]
    r = cli("fsck", "--json")
    assert r.code == 1
    assert [c["oid"] for c in json.loads(r.out)["corrupt"]] == [bad]
    with pytest.raises(IntegrityError) as e:
        gitml.Repo(big).store.read_bytes(oid)
    assert bad in str(e.value)


def test_missing_chunk_and_wrong_whole_hash(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    oid = pointer_oid(big, "big.bin")
    store = gitml.Repo(big).store
    cl = chunk_list(big, oid)
    # a list whose chunks are all intact but do not make the file: two chunks swapped
    lid = store.list_id(oid)
    swapped = list(zip(cl.ids, cl.sizes, strict=True))
    swapped[0], swapped[1] = swapped[1], swapped[0]
    forged = store.put_bytes(chunks.dumps(oid, swapped))
    rec = store.record_path(oid)
    os.chmod(rec, 0o644)
    Path(rec).write_bytes(chunks.record_bytes(forged))
    os.unlink(big / "big.bin")
    r = cli("checkout")
    assert r.code == 1 and "corrupt" in r.err
    assert not (big / "big.bin").exists()
    r = cli("fsck", "--json")
    assert r.code == 1 and json.loads(r.out)["corrupt"][0]["oid"] == oid
    # back to the true list, then a chunk goes missing
    Path(rec).write_bytes(chunks.record_bytes(lid))
    os.chmod(store.path(cl.ids[3]), 0o644)
    os.unlink(store.path(cl.ids[3]))
    r = cli("checkout")
    assert r.code == 1 and "missing" in r.err and not (big / "big.bin").exists()
    r = cli("fsck", "--json")
    assert r.code == 1 and json.loads(r.out)["missing"][0]["oid"] == cl.ids[3]


def test_malformed_record_or_list_is_a_clear_error(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    oid = pointer_oid(big, "big.bin")
    store = gitml.Repo(big).store
    rec = store.record_path(oid)
    os.chmod(rec, 0o644)
    Path(rec).write_bytes(b"not a record\n")
    os.unlink(big / "big.bin")
    r = cli("checkout")
    assert r.code == 2 and "not a gitml chunked-file record" in r.err
    for bad in (b'{"format":"gitml-chunks","version":9,"hash":"%s","size":1}\n' % oid.encode(),
                chunks.header(oid, 10) + b"xxh3:" + b"0" * 32 + b" 9\n",
                chunks.header(oid, 10) + b"xxh3:" + b"0" * 32 + b" 010\n"):
        Path(rec).write_bytes(chunks.record_bytes(store.put_bytes(bad)))
        r = cli("checkout")
        assert r.code == 2 and "chunk list" in r.err, r.err
        assert not (big / "big.bin").exists()


def _hand_list(store, data: bytes, piece: int, version: int) -> str:  # type: ignore[no-untyped-def]
    """Store ``data`` as fixed ``piece``-byte chunks under a list of ``version``, the way an
    older gitml (version 1) left it; returns the list's id."""
    parts = [data[i:i + piece] for i in range(0, len(data), piece)]
    ids = [store.put_bytes(p) for p in parts]
    oid = hash_bytes(data)
    body = b"".join(f"{c} {len(p)}\n".encode() for c, p in zip(ids, parts, strict=True))
    return store.put_bytes(chunks.header(oid, len(data), version) + body)


def test_lists_of_both_versions_read_and_each_keeps_its_limit(big: Path, cli) -> None:
    data = (big / "big.bin").read_bytes()
    oid = hash_bytes(data)
    store = gitml.Repo(big).store
    # a store written by gitml before version 2: 1 MiB chunks under a version 1 list
    old = _hand_list(store, data, 1 << 20, 1)
    store.write_record(oid, old)
    assert cli("add", "big.bin").code == 0
    assert store.list_id(oid) == old  # the file is held already: its record stays
    os.unlink(big / "big.bin")
    assert cli("checkout").code == 0 and (big / "big.bin").read_bytes() == data
    assert cli("fsck").code == 0
    rec = store.record_path(oid)
    for piece, version, ok in ((2 << 20, 1, False), (4 << 20, 2, True), (6 << 20, 2, False)):
        os.chmod(rec, 0o644)
        Path(rec).write_bytes(chunks.record_bytes(_hand_list(store, data, piece, version)))
        store = gitml.Repo(big).store  # no list remembered from before
        os.unlink(big / "big.bin")
        r = cli("checkout")
        if ok:
            assert r.code == 0 and (big / "big.bin").read_bytes() == data
        else:  # longer than its version allows: refused, nothing written
            assert r.code == 2 and "malformed chunk line 2" in r.err, r.err
            assert not (big / "big.bin").exists()
            (big / "big.bin").write_bytes(data)
    Path(rec).write_bytes(chunks.record_bytes(_hand_list(store, data, 1 << 20, 3)))
    os.unlink(big / "big.bin")
    r = cli("checkout")
    assert r.code == 2 and "unsupported chunk list version 3" in r.err
    assert "upgrade gitml" in r.err and not (big / "big.bin").exists()


def test_gc_follows_chunk_lists(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    git(big, "add", "-A")
    git(big, "commit", "-qm", "v1")
    v1 = chunk_list(big, pointer_oid(big, "big.bin"))
    data = (big / "big.bin").read_bytes()
    (big / "big.bin").write_bytes(data + os.urandom(3 * MiB))  # appended
    assert cli("add", "big.bin").code == 0
    v2 = chunk_list(big, pointer_oid(big, "big.bin"))
    only_v2 = set(v2.ids) - set(v1.ids)
    assert only_v2 and len(only_v2) < len(v2) // 2
    assert cli("gc").code == 0  # v1 is committed, v2 in the workspace: both stay
    store = gitml.Repo(big).store
    assert all(store.has(c) for c in set(v1.ids) | set(v2.ids))
    (big / "big.bin").write_bytes(data)  # back to v1: v2 is garbage once re-added
    assert cli("add", "big.bin").code == 0
    assert cli("gc").code == 0
    assert not os.path.exists(store.record_path(v2.oid))
    assert not any(os.path.exists(store.path(c)) for c in only_v2)
    assert all(os.path.exists(store.path(c)) for c in v1.ids)
    assert cli("fsck").code == 0
    os.unlink(big / "big.bin")
    assert cli("checkout").code == 0 and (big / "big.bin").read_bytes() == data


def test_gc_refuses_when_a_kept_chunk_list_is_missing(big: Path, cli) -> None:
    assert cli("add", "big.bin").code == 0
    store = gitml.Repo(big).store
    oid = pointer_oid(big, "big.bin")
    ids = chunk_list(big, oid).ids
    lid = store.list_id(oid)
    os.chmod(store.path(lid), 0o644)
    os.unlink(store.path(lid))
    r = cli("gc")
    assert r.code == 1 and "chunk list" in r.err and "nothing was deleted" in r.err
    assert all(os.path.exists(store.path(c)) for c in ids)


@pytest.mark.parametrize("fault", ["store.object-written:kill@8", "store.chunks-written:kill",
                                   "add.before-pointers:kill"])
def test_add_killed_while_chunking_then_rerun(big: Path, fault: str) -> None:
    killed = gitml_proc(big, "add", "big.bin", fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = gitml.Repo(big).store
    if fault != "add.before-pointers:kill":  # no record names chunks that may not be durable
        assert not list(store.iter_chunked())
    assert not (big / "big.bin.gitml").exists()
    done = gitml_proc(big, "add", "big.bin")
    assert done.returncode == 0, done.stderr
    oid = pointer_oid(big, "big.bin")
    assert oid == hash_file(big / "big.bin")
    assert gitml_proc(big, "fsck").returncode == 0
    assert gitml_proc(big, "gc").returncode == 0
    original = (big / "big.bin").read_bytes()
    os.unlink(big / "big.bin")
    assert gitml_proc(big, "checkout").returncode == 0
    assert (big / "big.bin").read_bytes() == original


def test_du_shows_size_against_bytes_stored(big: Path, cli) -> None:
    data = (big / "big.bin").read_bytes()
    (big / "small.txt").write_text("hello\n")
    assert cli("add", "big.bin", "small.txt").code == 0
    git(big, "add", "-A")
    git(big, "commit", "-qm", "v1")
    (big / "big.bin").write_bytes(data + os.urandom(MiB))
    assert cli("add", "big.bin").code == 0
    git(big, "add", "-A")
    git(big, "commit", "-qm", "v2")
    u = json.loads(cli("du", "--json").out)
    by = {p["path"]: p for p in u["paths"]}
    assert by["big.bin"]["size"] == 25 * MiB and by["big.bin"]["chunked"] == 1
    assert 25 * MiB <= by["big.bin"]["stored"] < 26 * MiB
    assert by["small.txt"] == {"path": "small.txt", "kind": "file", "size": 6, "stored": 6,
                               "chunked": 0, "missing": 0}
    # the store holds both versions: 49 MiB of files in about 26 MiB
    assert u["store_files"] == 3 and u["store_size"] == 49 * MiB + 6
    # v1, then the appended MiB and the old last chunk it joined (at most chunks.MAX)
    assert 25 * MiB < u["store_bytes"] < 25 * MiB + chunks.MAX + (64 << 10)
    old = json.loads(cli("du", "--json", "--rev", "HEAD~1", "big.bin").out)
    assert [p["size"] for p in old["paths"]] == [24 * MiB]
    r = cli("du")
    assert r.code == 0 and "big.bin" in r.out and "store: 3 files of 49.0 MiB" in r.out
    r = cli("du", "--rev", "nope")
    assert r.code == 2 and r.err.startswith("error:")


def _table(rows: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(3)
    return pa.table({"id": np.arange(rows), "x": rng.random(rows),
                     "cat": pa.array(rng.integers(0, 50, rows).astype(str))})


def test_write_parquet_dedups_and_add_v_names_what_defeats_it(big: Path, cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = _table(3_000_000)  # about 30 MiB: 25 chunks
    pq.write_table(t, big / "plain.parquet", row_group_size=500_000)
    r = cli("add", "-v", "plain.parquet")
    assert r.code == 0
    assert "not written by gitml.api.write_parquet" in r.err and "6 row groups" in r.err
    api.write_parquet(t, big / "t.parquet")
    assert pq.read_table(big / "t.parquet").drop_columns([]).equals(
        t.replace_schema_metadata(pq.read_table(big / "t.parquet").schema.metadata))
    r = cli("add", "-v", "--json", "t.parquet")
    res = json.loads(r.out)[0]
    assert res["notes"] == [] and pq.ParquetFile(big / "t.parquet").metadata.num_row_groups == 1
    # 1 % more rows: most chunks are shared with the first version
    more = pa.concat_tables([t, _table(3_030_000).slice(3_000_000)])
    api.write_parquet(more, big / "t.parquet")
    res = json.loads(cli("add", "--json", "t.parquet").out)[0]
    assert res["new_bytes"] < res["size"] * 0.2, res
    pq.write_table(more, big / "t.parquet")  # pyarrow's defaults: almost all new
    res2 = json.loads(cli("add", "--json", "t.parquet").out)[0]
    assert res2["new_bytes"] > res["new_bytes"]


def test_reads_without_checkout_assemble_and_verify(big: Path, cli) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    t = _table(600_000)
    api.write_parquet(t, big / "t.parquet")
    assert (big / "t.parquet").stat().st_size > 4 * MiB
    assert cli("add", "t.parquet").code == 0
    git(big, "add", "-A")
    git(big, "commit", "-qm", "table")
    oid = pointer_oid(big, "t.parquet")
    assert gitml.Repo(big).store.chunk_list(oid) is not None
    with api.open("t.parquet", rev="HEAD") as f:  # the footer first, then column chunks
        got = pq.ParquetFile(f).read(columns=["x"])
    assert got.column("x").equals(t.column("x"))
    df = pd.read_parquet("gitml://t.parquet", storage_options={"rev": "HEAD"})
    assert len(df) == 600_000 and list(df.columns) == ["id", "x", "cat"]
    assert api.read("t.parquet", rev="HEAD") == (big / "t.parquet").read_bytes()
    # a corrupt chunk: reading the range that holds it fails, naming the chunk
    store = gitml.Repo(big).store
    cl = store.chunk_list(oid)
    bad = cl.ids[1]
    corrupt(store.path(bad), b"x" * cl.sizes[1])
    with api.open("t.parquet", rev="HEAD") as f:
        f.seek(cl.offsets[1] + 10)
        with pytest.raises(IntegrityError) as e:
            f.read(100)
    assert bad in str(e.value)
    with pytest.raises(IntegrityError):
        api.read("t.parquet", rev="HEAD")
    r = cli("data", "profile", "HEAD:t.parquet")
    assert r.code == 1 and bad in r.err, (r.code, r.err)
