"""Reading without checkout: gitml.api.open(repo=, rev=) and the gitml:// fsspec file
system under pandas, pyarrow.dataset and DuckDB; ranged reads of objects that are only on
the remote (directory remote and a real S3 server), and what is verified."""

from __future__ import annotations

import io
import random
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import s3server
from conftest import git
from test_remote import add_remote, clone, s3  # noqa: F401 - the S3 server fixture

import gitml
from gitml import pointer
from gitml.errors import IntegrityError
from gitml.filesystem import GitmlFileSystem
from gitml.remotefile import WHOLE


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITML_REPO_CACHE", str(tmp_path / "repo-cache"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def table(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table({"id": pa.array(range(n), pa.int64()),
                     "x": pa.array([rng.random() for _ in range(n)], pa.float64()),
                     "y": pa.array([rng.random() for _ in range(n)], pa.float64())})


@pytest.fixture(params=["dir", "s3"])
def project(request, repo: Path, tmp_path: Path, cli, monkeypatch) -> s3server.RemoteHandle:
    """v1 and v2 of data/train.parquet and of a directory of Parquet parts; a big
    Parquet file (more than WHOLE bytes); all pushed; then a fresh clone as the cwd,
    with nothing in its store."""
    data = repo / "data"
    data.mkdir()
    (data / "parts").mkdir()
    for v in (1, 2):
        pq.write_table(table(100 * v, v), data / "train.parquet")
        for i in range(3):
            pq.write_table(table(10 * v + i, 10 * v + i), data / "parts" / f"part{i}.parquet")
        assert cli("add", "-q", "data/train.parquet", "data/parts").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"v{v}")
        git(repo, "tag", f"v{v}")
    rng = random.Random(5)
    n = WHOLE // 10  # two float columns of random values: about 1.3 x WHOLE of Parquet
    big = pa.table({"a": pa.array([rng.random() for _ in range(n)]),
                    "b": pa.array([rng.random() for _ in range(n)])})
    pq.write_table(big, data / "big.parquet", compression="none", row_group_size=n // 4)
    assert (data / "big.parquet").stat().st_size > WHOLE
    assert cli("add", "-q", "data/big.parquet").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "big")
    handle = add_remote(request.param, repo, tmp_path, cli, request)
    assert cli("push", "-q", "--all-branches", "--all-tags").code == 0
    clone(repo, tmp_path / "clone", monkeypatch, handle)
    return handle


def store_oids() -> set[str]:
    return set(gitml.Repo().store.iter_oids())


def test_api_open_streams_from_the_remote_without_writing(
        project: s3server.RemoteHandle, repo: Path, tmp_path: Path) -> None:
    clone_root = tmp_path / "clone"
    before = store_oids()
    with gitml.api.open("data/train.parquet", rev="v1") as f:
        assert pq.read_table(f).equals(table(100, 1))
    with gitml.api.open("data/parts/part2.parquet", rev="v2") as f:  # inside a directory
        assert pq.read_table(f).num_rows == 22
    assert not (clone_root / "data" / "train.parquet").exists()  # the workspace: untouched
    # only the parts' manifest came into the store; the files were streamed
    v2 = pointer.loads(git(clone_root, "show", "v2:data/parts.gitml"), "x")
    assert store_oids() - before == {v2.oid}
    # another repository by path and by file:// URL: nothing written here at all
    for url in (str(repo), f"file://{repo}"):
        with gitml.api.open("data/train.parquet", repo=url, rev="v2") as f:
            assert pq.read_table(f).equals(table(200, 2))
    assert gitml.api.read("data/train.parquet", repo=str(repo), rev="v1") == \
        gitml.api.read("data/train.parquet", rev="v1")
    assert pq.read_table(io.BytesIO(gitml.api.read("data/train.parquet", repo=str(repo),
                                                   rev="v1"))).equals(table(100, 1))


def test_pandas_pyarrow_and_duckdb_read_any_revision(
        project: s3server.RemoteHandle, repo: Path, tmp_path: Path) -> None:
    df = pd.read_parquet("gitml://data/train.parquet", storage_options={"rev": "v1"})
    assert len(df) == 100 and list(df.columns) == ["id", "x", "y"]
    df = pd.read_parquet("gitml://data/train.parquet", storage_options={"rev": "v2"})
    assert df["x"].tolist() == table(200, 2)["x"].to_pylist()
    other = pd.read_parquet("gitml://data/train.parquet",
                            storage_options={"repo": str(repo), "rev": "v1"})
    assert len(other) == 100

    fs = GitmlFileSystem(rev="v2")
    assert sorted(fs.ls("data", detail=False)) == ["data/.gitignore", "data/parts",
                                                    "data/train.parquet"]  # as at v2
    assert fs.info("data/parts")["type"] == "directory"
    assert fs.info("data/train.parquet")["size"] == pointer.loads(
        git(tmp_path / "clone", "show", "v2:data/train.parquet.gitml"), "x").size
    dataset = pads.dataset("data/parts", filesystem=fs, format="parquet")
    assert dataset.to_table().num_rows == 20 + 21 + 22
    fs1 = GitmlFileSystem(rev="v1")
    assert pads.dataset("data/parts", filesystem=fs1, format="parquet").count_rows() == 33

    con = duckdb.connect()
    con.register_filesystem(fs)
    rows = con.sql("select count(*), max(id) from read_parquet('gitml://data/train.parquet')"
                   ).fetchall()
    assert rows == [(200, 199)]
    con.close()
    with pytest.raises(FileNotFoundError):
        fs.open("data/nope.parquet")
    with pytest.raises(PermissionError):
        fs.open("data/train.parquet", "wb")


def test_range_reads_fetch_part_of_a_big_remote_object_and_full_reads_are_verified(
        project: s3server.RemoteHandle, tmp_path: Path) -> None:
    clone_root = tmp_path / "clone"
    big = pointer.loads((clone_root / "data/big.parquet.gitml").read_bytes(), "x")
    before = store_oids()
    fs = GitmlFileSystem()
    with fs.open("data/big.parquet") as f:
        schema = pq.read_schema(f)
    assert schema.names == ["a", "b"]
    with fs.open("data/big.parquet") as f:
        col = pq.read_table(f, columns=["b"])
    assert col.num_rows == WHOLE // 10
    assert 0 < fs.remote_bytes < big.size * 0.7  # the footer and one column: not the whole
    assert store_oids() == before  # nothing was written
    with fs.open("data/big.parquet") as f:  # every byte, in order: hashed, then checked
        assert len(f.read()) == big.size

    # the remote's copy is damaged: a full read fails before it ends normally
    data = bytearray(project.objects()[big.oid])
    data[len(data) // 2] ^= 0xFF
    project.put_raw(big.oid, bytes(data))
    with pytest.raises(IntegrityError), GitmlFileSystem().open("data/big.parquet") as f:
        while f.read(1 << 20):
            pass
    small = pointer.loads((clone_root / "data/train.parquet.gitml").read_bytes(), "x")
    bad = bytearray(project.objects()[small.oid])
    bad[-1] ^= 0xFF
    project.put_raw(small.oid, bytes(bad))
    with pytest.raises(IntegrityError):  # a small object is hashed before any byte goes out
        pd.read_parquet("gitml://data/train.parquet")
    with pytest.raises(IntegrityError):  # verify=True: into the store first, verified
        GitmlFileSystem(verify=True).open("data/train.parquet")
    assert not gitml.Repo().store.has(small.oid)
