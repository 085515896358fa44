"""Data and models from other repositories: gitml ls / get / import / update, status of
imports, model get --repo; the source served as a path, file:// and git:// (a real git
daemon), its objects on its own directory or S3 remote."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import gitdaemon
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3server
from conftest import git, write
from test_remote import add_remote, s3  # noqa: F401 - the S3 server fixture

from gitml import pointer
from gitml.hashing import hash_bytes


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITML_REPO_CACHE", str(tmp_path / "repo-cache"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def parquet(path: Path, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    table = pa.table({"id": list(range(n)), "x": [rng.random() for _ in range(n)]})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path.read_bytes()


class Registry:
    """Someone else's repository: tracked data on its own remote, a Git-kept file, a
    registered model."""

    def __init__(self, root: Path, remote: s3server.RemoteHandle, files: dict[str, bytes]):
        self.root, self.remote, self.files = root, remote, files

    def commit(self) -> str:
        return git(self.root, "rev-parse", "HEAD").strip()


@pytest.fixture(params=["dir", "s3"])
def registry(request, repo: Path, tmp_path: Path, cli, monkeypatch) -> Registry:
    root = tmp_path / "registry"
    root.mkdir()
    git(root, "init", "-q")
    monkeypatch.chdir(root)
    assert cli("init", "-q").code == 0
    rng = random.Random(3)
    files = {"data/train.parquet": parquet(root / "data/train.parquet", 200, 1),
             "models/model.bin": rng.randbytes(5000),
             "docs/README.md": b"# the registry\n"}
    for i in range(30):
        files[f"data/images/{'ab'[i % 2]}/img{i:02}.png"] = rng.randbytes(rng.randrange(10, 900))
    files["data/images/run.sh"] = b"#!/bin/sh\necho hi\n"
    for p, data in files.items():
        if not p.endswith(".parquet"):
            write(root / p, data)
    os.chmod(root / "data/images/run.sh", 0o755)
    (root / "data/images/kept-empty").mkdir()  # an empty folder the manifest keeps
    assert cli("add", "-q", "data/train.parquet", "data/images", "models/model.bin").code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")
    handle = add_remote(request.param, root, tmp_path, cli, request)
    assert cli("push", "-q").code == 0
    r = cli("model", "register", "churn", "--path", "models/model.bin", "--version", "v1.0.0")
    assert r.code == 0, r.err
    assert cli("model", "promote", "churn", "v1.0.0", "--stage", "prod").code == 0
    if handle.kind == "s3":  # the consumer signs with its own AWS chain
        assert handle.server is not None
        for k, v in handle.server.env().items():
            if k != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(k, v)
    monkeypatch.chdir(repo)
    return Registry(root, handle, files)


def test_ls_get_and_model_get_from_another_repository(
        repo: Path, registry: Registry, cli, tmp_path: Path) -> None:
    url = str(registry.root)
    r = cli("ls", url, "--json")
    assert r.code == 0, r.err
    top = {row["path"]: row for row in json.loads(r.out)}
    assert {"data", "docs", "models"} <= set(top) and top["docs"]["tracked"] == "git"
    rows = {row["path"]: row for row in json.loads(cli("ls", url, "data", "--json").out)}
    assert rows["train.parquet"]["tracked"] == "gitml"
    assert rows["train.parquet"]["size"] == len(registry.files["data/train.parquet"])
    assert rows["images"]["type"] == "dir" and rows["images"]["files"] == 31
    r = cli("ls", url, "data/images", "-R", "--json")
    assert len(json.loads(r.out)) == 31
    r = cli("ls", url, "data/images")
    assert r.out.splitlines()[0].split() == ["path", "type", "tracked", "size"]
    assert [line.split()[0] for line in r.out.splitlines()[1:]] == ["a/", "b/", "run.sh"]

    # a tracked directory, a file inside one, a Git-kept file: bytes and exec bits as there
    r = cli("get", url, "data/images", "-o", "imgs")
    assert r.code == 0, r.err
    assert "Downloaded data/images (31 files" in r.out
    for p, data in registry.files.items():
        if p.startswith("data/images/"):
            assert (repo / "imgs" / p[len("data/images/"):]).read_bytes() == data, p
    assert os.access(repo / "imgs/run.sh", os.X_OK)
    assert not os.access(repo / "imgs/a/img00.png", os.X_OK)
    assert (repo / "imgs/kept-empty").is_dir() and not list((repo / "imgs/kept-empty").iterdir())
    assert cli("get", url, "data/images/run.sh").code == 0  # one file: its exec bit too
    assert os.access(repo / "run.sh", os.X_OK)
    assert cli("get", url, "data/images/b/img01.png").code == 0
    assert (repo / "img01.png").read_bytes() == registry.files["data/images/b/img01.png"]
    assert cli("get", url, "docs/README.md").code == 0
    assert (repo / "README.md").read_bytes() == b"# the registry\n"
    # nothing of it is tracked here, no temp left beside the outputs
    assert not list(repo.glob("?*.gitml")) and not list(repo.glob(".gitml-tmp-*"))
    bad = cli("get", url, "docs/README.md")
    assert bad.code == 2 and "already exists; use --force" in bad.err
    assert cli("get", url, "docs/README.md", "--force").code == 0

    r = cli("model", "get", "--repo", f"file://{registry.root}", "churn@prod", "-o", "m.bin")
    assert r.code == 0, r.err
    assert (repo / "m.bin").read_bytes() == registry.files["models/model.bin"]


def test_import_records_its_source_and_update_follows_it(
        repo: Path, registry: Registry, cli, tmp_path: Path) -> None:
    url = str(registry.root)
    first = registry.commit()
    r = cli("import", url, "data/train.parquet", "-o", "data/")
    assert r.code == 0, r.err
    assert "git add data/.gitignore data/train.parquet.gitml" in r.out
    ptr = pointer.load(str(repo / "data/train.parquet.gitml"))
    assert ptr.oid == hash_bytes(registry.files["data/train.parquet"])  # the source's object
    assert ptr.meta["import"] == {"version": 1, "url": url, "path": "data/train.parquet",
                                  "commit": first}
    assert ptr.meta["rows"] == 200  # its Parquet meta came along
    assert (repo / "data/train.parquet").read_bytes() == registry.files["data/train.parquet"]
    r = cli("import", url, "data/images", "--rev", "main", "-o", "imgs")
    assert r.code == 0, r.err
    assert pointer.load(str(repo / "imgs.gitml")).meta["import"]["rev"] == "main"
    r = cli("import", url, "docs/README.md", "--rev", first)  # a Git-kept file, pinned
    assert r.code == 0, r.err
    assert pointer.load(str(repo / "README.md.gitml")).kind == "file"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "imports")
    st = cli("status", "--json")
    assert not [x for x in json.loads(st.out) if x.get("kind") == "import"]

    # the registry moves on
    os.chdir(registry.root)
    new = parquet(registry.root / "data/train.parquet", 300, 2)
    assert cli("add", "-q", "data/train.parquet").code == 0
    git(registry.root, "commit", "-qam", "more rows")
    assert cli("push", "-q").code == 0
    os.chdir(repo)
    r = cli("status")
    assert r.code == 0, r.err
    assert f"Import data/train.parquet: its source moved (default branch {first[:7]} -> " \
           f"{registry.commit()[:7]}" in r.out
    assert "Import imgs" in r.out  # main moved too; README.md is pinned: never asked
    assert "README.md" not in r.out
    r = cli("update", "data/train.parquet")
    assert r.code == 0, r.err
    assert f"data/train.parquet: updated {first[:7]} -> {registry.commit()[:7]}" in r.out
    assert (repo / "data/train.parquet").read_bytes() == new
    assert pointer.load(str(repo / "data/train.parquet.gitml")).meta["import"]["commit"] == \
        registry.commit()
    assert "up to date" in cli("update", "data/train.parquet").out
    r = cli("update", "imgs", "--rev", first)  # back to a given revision, recorded
    assert r.code == 0, r.err
    assert pointer.load(str(repo / "imgs.gitml")).meta["import"]["rev"] == first
    # a local edit is not thrown away by an update
    (repo / "data/train.parquet").unlink()
    write(repo / "data/train.parquet", b"mine")
    git(registry.root, "commit", "-q", "--allow-empty", "-m", "empty")
    r = cli("update", "data/train.parquet")
    assert r.code == 2 and "changed here since it was imported" in r.err
    assert (repo / "data/train.parquet").read_bytes() == b"mine"
    r = cli("update", "imgs/a")  # a path inside an import: that import
    assert r.code == 0 and "imgs: up to date" in r.out, r.err


def test_a_git_daemon_url(repo: Path, registry: Registry, cli, tmp_path: Path) -> None:
    daemon = gitdaemon.GitDaemon(tmp_path)
    daemon.start("registry")
    try:
        url = daemon.url("registry")
        r = cli("get", url, "data/train.parquet", "-o", "t.parquet")
        assert r.code == 0, r.err
        assert (repo / "t.parquet").read_bytes() == registry.files["data/train.parquet"]
        r = cli("model", "get", "--repo", url, "churn@v1.0.0", "-o", "m.bin")
        assert r.code == 0, r.err
        assert (repo / "m.bin").read_bytes() == registry.files["models/model.bin"]
        assert cli("import", url, "models/model.bin").code == 0
        assert pointer.load(str(repo / "model.bin.gitml")).meta["import"]["url"] == url
    finally:
        daemon.stop()


def test_bad_input_is_one_line_and_leaves_nothing(
        repo: Path, registry: Registry, cli, tmp_path: Path) -> None:
    url = str(registry.root)

    def one_line(r, code: int, text: str) -> None:
        assert r.code == code, (r.code, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], r.err

    one_line(cli("get", str(tmp_path / "nowhere"), "x"), 2, "no repository at")
    one_line(cli("get", "ext::sh -c touch% /tmp/gitml-pwned", "x"), 2, "remote helpers")
    assert not Path("/tmp/gitml-pwned").exists()
    one_line(cli("get", "--", "-uhoh", "x"), 2, "invalid repository URL")
    one_line(cli("get", url, "nope"), 2, "nope does not exist in")
    one_line(cli("get", url, "../etc/passwd"), 2, "must not contain '..'")
    one_line(cli("get", url, ".git/config"), 2, "reserved component")
    one_line(cli("get", url, "data/train.parquet", "--rev", "no-such-branch"), 2,
             "has no revision 'no-such-branch'")
    one_line(cli("import", url, "data/images/nope"), 2, "does not exist")
    assert cli("import", "-q", url, "data/images").code == 0
    one_line(cli("import", url, "data/images"), 2, "images is tracked already")
    one_line(cli("import", url, "models/model.bin", "-o", "images/m.bin"), 2,
             "inside the tracked directory images")
    one_line(cli("update", "nothing-here"), 2, "nothing-here")
    assert sorted(p.name for p in repo.iterdir()) == sorted(
        [".git", ".gitattributes", ".gitml", ".gitignore", "images", "images.gitml"])


def test_a_strangers_config_and_manifest_are_data(
        repo: Path, registry: Registry, cli, tmp_path: Path) -> None:
    """The source's committed config cannot lend us credentials or a profile, and a
    manifest that names a path outside the output is refused before anything is written."""
    from gitml.imports.source import Source

    cfg = registry.root / ".gitml/config.yaml"
    text = cfg.read_text()
    cfg.write_text(text.replace("  storage:\n", "  storage:\n    profile: admin\n"
                                                "    secret_access_key: leaked\n", 1))
    entries = b'{"format":"gitml-manifest","version":1}\n["../../escaped","' + \
        hash_bytes(b"x").encode() + b'",1,false]\n'
    moid = hash_bytes(entries)
    registry.remote.put_raw(moid, entries)
    registry.remote.put_raw(hash_bytes(b"x"), b"x")
    write(registry.root / "evil.gitml", f"gitml: 1\npath: evil\nkind: dir\nhash: {moid}\n"
          "size: 1\nfiles: 1\n")
    git(registry.root, "add", "-A")
    git(registry.root, "commit", "-qm", "evil")
    src = Source(str(registry.root))
    src.resolve(None)
    storage = src.config.section("remote.storage")
    assert "profile" not in storage and "secret_access_key" not in storage
    (tmp_path / "out").mkdir()
    r = cli("get", str(registry.root), "evil", "-o", str(tmp_path / "out" / "evil"))
    assert r.code == 2 and "'..'" in r.err
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out" / "evil").exists()
    assert cli("get", str(registry.root), "models/model.bin").code == 0  # the rest is fine
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and "leaked" in p.read_bytes(
    ).decode(errors="ignore") and "registry" not in p.parts and "repo-cache" not in p.parts]
    assert not leaked
