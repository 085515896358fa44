"""The registry travels with the repository: a clone that shares nothing but what was pushed
(tags and branches to a bare repo, objects to a directory remote) resolves the same models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, write

import gitml.api


@pytest.fixture
def origin(repo: Path, cli, tmp_path: Path) -> Path:
    """churn v1.0.0 (prod) and v1.1.0 (staging) pushed: Git to a bare repo, data to a
    directory remote. Returns the bare repo."""
    assert cli("remote", "add", "nas", str(tmp_path / "nas"), "--default").code == 0
    for data, version, stage in ((b"model one", "v1.0.0", "prod"),
                                 (b"model two", "v1.1.0", "staging")):
        write(repo / "models" / "model.pkl", data)
        assert cli("add", "-q", "models/model.pkl").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"train {version}")
        r = cli("model", "register", "churn", "--path", "models/model.pkl", "--version", version)
        assert r.code == 0, r.err
        assert cli("model", "promote", "churn", version, "--stage", stage).code == 0
    r = cli("push", "--all-tags")  # every registered version's data, not just the workspace's
    assert r.code == 0, r.err
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "push", "-q", "origin", "--tags")
    return bare


def test_clone_gets_the_same_bytes_from_the_remote(origin: Path, repo: Path, cli,
                                                   tmp_path: Path, monkeypatch) -> None:
    listing = cli("model", "list", "--json").out
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    monkeypatch.chdir(clone)
    store = gitml.Repo().store
    assert not list(store.iter_oids())  # nothing local: every byte comes from the remote
    assert cli("model", "list", "--json").out == listing
    r = cli("model", "get", "churn@prod", "-o", "serving/model.pkl")
    assert r.code == 0, r.err
    assert (clone / "serving" / "model.pkl").read_bytes() == b"model one"
    assert Path(gitml.api.model_path("churn", stage="staging")).read_bytes() == b"model two"
    assert len(list(store.iter_oids())) == 2  # just the two models, fetched on demand

    # the clone promotes; the tag goes back; the original sees the new prod
    assert cli("model", "promote", "churn", "v1.1.0", "--stage", "prod", "-m", "ok").code == 0
    git(clone, "push", "-q", "origin", "--tags")
    git(repo, "fetch", "-q", "origin", "--tags")
    monkeypatch.chdir(repo)
    assert gitml.api.models()[0].stages == {"prod": "v1.1.0", "staging": "v1.1.0"}
    history = json.loads(cli("model", "show", "churn", "--json").out)["history"]
    assert history[-1]["message"] == "ok"


def test_clone_with_a_shared_store(repo: Path, cli, tmp_path: Path, monkeypatch) -> None:
    """Without a remote: a clone pointed at the original's store resolves tag -> pointer."""
    write(repo / "models" / "model.pkl", b"model one")
    cli("add", "-q", "models/model.pkl")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "model")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    cli("model", "promote", "churn", "v1.0.0", "--stage", "prod")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))  # tags come along
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    monkeypatch.chdir(clone)
    r = cli("model", "get", "churn@prod", "-o", "m.pkl")
    assert r.code == 2 and "is not in the store" in r.err  # no remote, empty store
    shared = gitml.Repo(repo).store.root
    assert cli("config", "--local", "core.cache_dir", shared).code == 0
    assert cli("model", "get", "churn@prod", "-o", "m.pkl").code == 0
    assert (clone / "m.pkl").read_bytes() == b"model one"
