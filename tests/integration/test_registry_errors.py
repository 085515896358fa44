"""Bad input to the model registry: one clear line, exit 2, and no tag created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, write

import gitml


@pytest.fixture
def registry(repo: Path, cli) -> Path:
    """churn v1.0.0 registered at the second commit; the first has no model."""
    write(repo / "README", "no model yet")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "before the model")
    git(repo, "tag", "-a", "before", "-m", "the commit without a model")
    write(repo / "models" / "model.pkl", b"model one")
    assert cli("add", "-q", "models/model.pkl").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "model")
    r = cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    assert r.code == 0, r.err
    return repo


def refused(repo: Path, cli, *args: str) -> str:
    """Run a command that must fail with exit 2 and one line, creating no tag."""
    before = git(repo, "for-each-ref", "refs/tags")
    r = cli(*args)
    assert r.code == 2, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err
    assert r.out == ""
    assert git(repo, "for-each-ref", "refs/tags") == before
    return lines[0]


@pytest.mark.parametrize("version", ["1.0", "v1", "v1.0.0.0", "v01.0.0", "latest", "v1.0.0-"])
def test_version_not_semver(registry: Path, cli, version: str) -> None:
    msg = refused(registry, cli, "model", "register", "churn", "--version", version,
                  "--rev", "HEAD")
    assert f"version {version!r} is not semantic versioning" in msg


def test_version_already_exists(registry: Path, cli) -> None:
    write(registry / "models" / "model.pkl", b"model two")
    cli("add", "-q", "models/model.pkl")
    git(registry, "commit", "-qam", "two")
    msg = refused(registry, cli, "model", "register", "churn", "--version", "1.0.0")
    assert msg.startswith("error: churn v1.0.0 already exists (at commit ")


def test_commit_already_registered(registry: Path, cli) -> None:
    msg = refused(registry, cli, "model", "register", "churn", "--version", "v2.0.0")
    assert "is already churn v1.0.0; promote that version" in msg


def test_promote_a_version_that_does_not_exist(registry: Path, cli) -> None:
    msg = refused(registry, cli, "model", "promote", "churn", "v9.0.0", "--stage", "prod")
    assert msg == "error: churn has no version v9.0.0 (versions: v1.0.0)"
    msg = refused(registry, cli, "model", "promote", "ranker", "v1.0.0", "--stage", "prod")
    assert msg == "error: no model named 'ranker' is registered (models: churn)"


def test_register_where_the_path_is_not_tracked(registry: Path, cli) -> None:
    msg = refused(registry, cli, "model", "register", "churn", "--version", "v0.9.0",
                  "--rev", "before")
    assert "models/model.pkl at commit" in msg
    assert "is not tracked by gitml there (no models/model.pkl.gitml)" in msg
    write(registry / "models" / "small.pkl", b"in git")  # committed to Git, not gitml
    git(registry, "add", "models/small.pkl")
    git(registry, "commit", "-qm", "small")
    msg = refused(registry, cli, "model", "register", "small", "--path", "models/small.pkl")
    assert "is committed to Git, not tracked by gitml" in msg
    msg = refused(registry, cli, "model", "register", "ghost", "--path", "models/nothing.pkl")
    assert "models/nothing.pkl at commit" in msg


def test_unknown_stage_when_stages_are_declared(registry: Path, cli) -> None:
    write(registry / "gitml.yaml", "models:\n  stages: [staging, prod]\n")
    msg = refused(registry, cli, "model", "promote", "churn", "v1.0.0", "--stage", "qa")
    assert msg == "error: unknown stage 'qa': gitml.yaml allows staging, prod (models.stages)"
    assert cli("model", "promote", "churn", "v1.0.0", "--stage", "prod").code == 0


@pytest.mark.parametrize(("args", "expected"), [
    (("register", "Churn_Model", "--path", "models/model.pkl"), "invalid model name"),
    (("register", "churn", "--version", "v2.0.0", "--bump", "major"), "not both"),
    (("register", "churn", "--bump", "minor", "--rev", "no-such-branch"),
     "unknown revision 'no-such-branch'"),
    (("register", "ranker"), "no path for model 'ranker': pass --path"),
    (("register", "other", "--path", "../outside.pkl"), "outside the repository"),
    (("promote", "churn", "v1.0.0", "--stage", "Prod!"), "invalid stage name 'Prod!'"),
    (("deprecate", "churn", "v3.0.0"), "churn has no version v3.0.0"),
    (("deprecate", "churn", "v1.0.0", "--stage", "prod"), "churn v1.0.0 is not in stage 'prod'"),
    (("get", "churn@prod"), "no version of churn is in stage 'prod' (stages: none)"),
    (("get", "churn@v2.0.0"), "churn has no version v2.0.0"),
    (("get", "ranker@latest"), "no model named 'ranker' is registered"),
    (("show", "ranker"), "no model named 'ranker' (models: churn)"),
])
def test_other_bad_input(registry: Path, cli, args: tuple[str, ...], expected: str) -> None:
    assert expected in refused(registry, cli, "model", *args)


def test_deprecated_version_cannot_be_promoted_or_deprecated_again(registry: Path, cli) -> None:
    assert cli("model", "deprecate", "churn", "v1.0.0").code == 0
    msg = refused(registry, cli, "model", "promote", "churn", "v1.0.0", "--stage", "prod")
    assert msg == "error: churn v1.0.0 is deprecated; register a new version instead"
    refused(registry, cli, "model", "deprecate", "churn", "v1.0.0")


@pytest.mark.parametrize(("section", "expected"), [
    ("models:\n  churn:\n    pth: x.pkl\n", "models.churn: unknown key 'pth'"),
    ("models:\n  stages: prod\n", "models.stages: expected a list of stage names"),
    ("models:\n  churn:\n    path: ../x.pkl\n", "must not contain '..'"),
    ("models: [churn]\n", "models: expected a mapping"),
])
def test_malformed_models_section_names_the_file(registry: Path, cli, section: str,
                                                 expected: str) -> None:
    write(registry / "gitml.yaml", section)
    msg = refused(registry, cli, "model", "promote", "churn", "v1.0.0", "--stage", "prod")
    assert "gitml.yaml" in msg and expected in msg


def test_get_with_the_object_missing_or_corrupt(registry: Path, cli) -> None:
    store = gitml.Repo().store
    oid = next(store.iter_oids())
    obj = Path(store.path(oid))
    os.chmod(obj, 0o644)
    obj.write_bytes(b"model 0ne")  # same size, different bytes
    r = cli("model", "get", "churn@v1.0.0", "-o", "out.pkl")
    assert r.code == 1 and "corrupt object" in r.err
    assert not (registry / "out.pkl").exists()
    obj.unlink()
    r = cli("model", "get", "churn@v1.0.0", "-o", "out.pkl")
    assert r.code == 2 and "is not in the store" in r.err
    assert not (registry / "out.pkl").exists()


def test_a_tag_naming_an_unsafe_path_is_refused(registry: Path, cli) -> None:
    git(registry, "tag", "-a", "evil@v1.0.0", "-m", "x\n\nGitml-Path: ../../etc/passwd", "HEAD")
    r = cli("model", "get", "evil@v1.0.0", "-o", "out.pkl")
    assert r.code == 2 and "tag evil@v1.0.0" in r.err and "'..'" in r.err
    assert not (registry / "out.pkl").exists()
