"""The model registry on real repositories: register, promote, deprecate, list, show, get."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import git, write

import gitml.api
from gitml.errors import BadInputError


def commit_model(repo: Path, cli, data: bytes | str, msg: str, path: str = "models/model.pkl",
                 **files: str) -> str:
    """Write the model (tracked by gitml) and any Git files, commit; returns the commit."""
    write(repo / path, data)
    for name, text in files.items():
        write(repo / name.replace("__", "/").replace("_", "."), text)
    r = cli("add", "-q", path)
    assert r.code == 0, r.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", msg)
    return git(repo, "rev-parse", "HEAD").strip()


def tag_info(repo: Path, tag: str) -> dict[str, str]:
    out = git(repo, "for-each-ref", f"refs/tags/{tag}",
              "--format=%(objecttype)%00%(*objectname)%00%(taggername)%00%(contents)")
    otype, commit, who, contents = out.split("\0")
    return {"type": otype, "commit": commit, "who": who, "message": contents}


def test_register_makes_an_annotated_tag_at_the_commit(repo: Path, cli) -> None:
    c1 = commit_model(repo, cli, b"model one", "train 1")
    r = cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0",
            "-m", "first model\n#42 is fixed")
    assert r.code == 0, r.err
    assert "Registered churn v1.0.0 at " + c1[:7] in r.out
    info = tag_info(repo, "churn@v1.0.0")
    assert info["type"] == "tag" and info["commit"] == c1 and info["who"] == "gitml tests"
    # the user's text (a '#' line survives) and the recorded path, as a trailer
    assert info["message"].startswith("first model\n#42 is fixed\n\nGitml-Path: models/model.pkl")
    assert "churn@v1.0.0" in git(repo, "log", "--tags", "--decorate", "--oneline")
    (m,) = gitml.api.models()
    assert (m.name, m.latest, m.path, m.stages) == ("churn", "v1.0.0", "models/model.pkl", {})


def test_register_an_older_revision_and_bump(repo: Path, cli) -> None:
    c1 = commit_model(repo, cli, b"one", "one")
    git(repo, "branch", "exp-3")
    commit_model(repo, cli, b"two", "two")
    assert cli("model", "register", "churn", "--path", "models/model.pkl",
               "--rev", "exp-3").code == 0  # no version: the first patch version
    assert tag_info(repo, "churn@v0.0.1")["commit"] == c1
    r = cli("model", "register", "churn", "--bump", "minor", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["version"] == "v0.1.0"  # path taken from the last version
    commit_model(repo, cli, b"three", "three")
    assert cli("model", "register", "churn", "--version", "2.0.0-rc.1").code == 0
    commit_model(repo, cli, b"four", "four")
    assert cli("model", "register", "churn", "--bump", "patch").code == 0
    assert gitml.api.models()[0].versions == ("v2.0.0", "v2.0.0-rc.1", "v0.1.0", "v0.0.1")
    commit_model(repo, cli, b"five", "five")
    assert cli("model", "register", "churn", "--bump", "major").code == 0
    assert gitml.api.models()[0].latest == "v3.0.0"


def test_promote_rollback_and_list(repo: Path, cli) -> None:
    commit_model(repo, cli, b"one", "one")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    commit_model(repo, cli, b"two", "two")
    cli("model", "register", "churn", "--version", "v1.1.0")
    r = cli("model", "promote", "churn", "v1.0.0", "--stage", "prod", "-m", "ship it")
    assert r.code == 0 and "tag churn#prod#1" in r.out, r.err
    assert cli("model", "promote", "churn", "v1.1.0", "--stage", "staging").code == 0
    assert cli("model", "promote", "churn", "v1.1.0", "--stage", "prod").code == 0
    assert gitml.api.models()[0].stages == {"prod": "v1.1.0", "staging": "v1.1.0"}
    again = cli("model", "promote", "churn", "v1.1.0", "--stage", "prod")
    assert again.code == 0 and "already in prod" in again.out
    assert cli("model", "promote", "churn", "v1.0.0", "--stage", "prod",
               "-m", "rollback").code == 0  # an older version again: a rollback
    assert tag_info(repo, "churn#prod#4")["message"].strip() == "rollback"
    r = cli("model", "list")
    assert r.out.splitlines() == [
        "model  latest  prod    staging  path",
        "churn  v1.1.0  v1.0.0  v1.1.0   models/model.pkl"]
    (item,) = json.loads(cli("model", "list", "--json").out)
    assert item["stages"] == {"prod": "v1.0.0", "staging": "v1.1.0"}
    assert item["versions"] == ["v1.1.0", "v1.0.0"]


def test_deprecate_version_stage_and_model(repo: Path, cli) -> None:
    commit_model(repo, cli, b"one", "one")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    commit_model(repo, cli, b"two", "two")
    cli("model", "register", "churn", "--version", "v1.1.0")
    cli("model", "promote", "churn", "v1.0.0", "-s", "prod")
    cli("model", "promote", "churn", "v1.1.0", "-s", "prod")
    r = cli("model", "deprecate", "churn", "--stage", "prod")  # the holder leaves prod
    assert r.code == 0 and "tag churn#prod!#3" in r.out, r.err
    assert gitml.api.models()[0].stages == {"prod": "v1.0.0"}  # the earlier one is back
    r = cli("model", "deprecate", "churn", "v1.1.0", "-m", "leaks labels")
    assert r.code == 0 and "tag churn@v1.1.0!" in r.out
    m = gitml.api.models()[0]
    assert (m.latest, m.versions) == ("v1.0.0", ("v1.0.0",))
    assert cli("model", "get", "churn@v1.1.0").err.strip() == "error: churn v1.1.0 is deprecated"
    assert cli("model", "deprecate", "churn", "-m", "replaced").code == 0
    assert "churn@deprecated#4" in git(repo, "tag")
    assert "No active models (1 deprecated" in cli("model", "list").out
    assert "churn (deprecated)" in cli("model", "list", "--all").out
    # a new version brings the model back, as in GTO
    commit_model(repo, cli, b"three", "three")
    assert cli("model", "register", "churn", "--bump", "minor").code == 0
    assert cli("model", "list").out.splitlines()[1].startswith("churn  v1.2.0")  # v1.1.0 is taken


def test_get_by_stage_version_and_latest(repo: Path, cli) -> None:
    commit_model(repo, cli, b"model one", "one")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    commit_model(repo, cli, b"model two", "two")
    cli("model", "register", "churn", "--version", "v1.1.0")
    cli("model", "promote", "churn", "v1.0.0", "--stage", "prod")
    r = cli("model", "get", "churn@prod", "-o", "serving/model.pkl")
    assert r.code == 0, r.err
    assert (repo / "serving" / "model.pkl").read_bytes() == b"model one"
    assert os.stat(repo / "serving" / "model.pkl").st_mode & 0o200  # a copy, writable
    assert "unchanged" in cli("model", "get", "churn@prod", "-o", "serving/model.pkl").out
    r = cli("model", "get", "churn@latest", "-o", "serving/model.pkl")
    assert r.code == 2 and "already exists and differs; use --force" in r.err
    assert (repo / "serving" / "model.pkl").read_bytes() == b"model one"
    assert cli("model", "get", "churn@latest", "-o", "serving/model.pkl", "-f").code == 0
    assert (repo / "serving" / "model.pkl").read_bytes() == b"model two"
    os.chdir(repo / "serving")
    assert cli("model", "get", "churn@v1.0.0", "-o", "old.pkl").code == 0
    assert (repo / "serving" / "old.pkl").read_bytes() == b"model one"
    (repo / "serving" / "model.pkl").unlink()
    assert cli("model", "get", "churn#prod").code == 0  # GTO's shortcut; default name
    assert (repo / "serving" / "model.pkl").read_bytes() == b"model one"


def test_python_api_model_path(repo: Path, cli) -> None:
    commit_model(repo, cli, b"model one", "one")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    commit_model(repo, cli, b"model two", "two")
    cli("model", "register", "churn", "--version", "v1.1.0")
    cli("model", "promote", "churn", "v1.0.0", "--stage", "prod")
    assert Path(gitml.api.model_path("churn", stage="prod")).read_bytes() == b"model one"
    assert Path(gitml.api.model_path("churn", version="1.1.0")).read_bytes() == b"model two"
    assert Path(gitml.api.model_path("churn")).read_bytes() == b"model two"
    assert Path(gitml.api.model_path("churn@prod")).read_bytes() == b"model one"
    with pytest.raises(BadInputError, match="no version of churn is in stage 'staging'"):
        gitml.api.model_path("churn", stage="staging")
    with pytest.raises(BadInputError, match="not both"):
        gitml.api.model_path("churn", stage="prod", version="v1.0.0")


def test_directory_model(repo: Path, cli) -> None:
    write(repo / "models" / "bert" / "config.json", "{}")
    write(repo / "models" / "bert" / "weights" / "w.bin", b"\x00\x01")
    assert cli("add", "-q", "models/bert").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bert")
    assert cli("model", "register", "bert", "--path", "models/bert", "-m", "dir").code == 0
    cli("model", "promote", "bert", "v0.0.1", "-s", "prod")
    target = Path(gitml.api.model_path("bert", stage="prod"))
    assert (target / "weights" / "w.bin").read_bytes() == b"\x00\x01"
    assert cli("model", "get", "bert@prod", "-o", "out/bert").code == 0
    assert sorted(p.relative_to(repo / "out" / "bert").as_posix()
                  for p in (repo / "out" / "bert").rglob("*") if p.is_file()) == [
        "config.json", "weights/w.bin"]
    assert cli("model", "get", "bert@prod", "-o", "out/bert").code == 2
    assert cli("model", "get", "bert@prod", "-o", "out/bert", "--force").code == 0


LOCK = """\
gitml-lock: 1
stages:
  train:
    cmd: python train.py
    deps:
      - path: data/train.parquet
        hash: xxh3:0123456789abcdef0123456789abcdef
    outs:
      - path: models/model.pkl
        hash: xxh3:fedcba9876543210fedcba9876543210
"""


def test_show_versions_metrics_params_data_and_history(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "models:\n  churn:\n    path: models/model.pkl\n"
          "    type: model\n    description: Churn classifier\n")
    commit_model(repo, cli, b"one", "one", metrics_json='{"acc": 0.91, "val": {"auc": 0.8}}',
                 params_yaml="lr: 0.1\n", gitml_lock=LOCK)
    assert cli("model", "register", "churn", "--version", "v1.0.0", "-m", "first").code == 0
    commit_model(repo, cli, b"two", "two", metrics_json='{"acc": 0.93, "val": {"auc": 0.85}}',
                 params_yaml="lr: 0.05\n")
    cli("model", "register", "churn", "--version", "v1.1.0", "-m", "tuned")
    cli("model", "promote", "churn", "v1.1.0", "-s", "prod", "-m", "better auc")
    info = json.loads(cli("model", "show", "churn", "--json").out)
    assert (info["type"], info["description"], info["latest"]) == (
        "model", "Churn classifier", "v1.1.0")
    v11, v10 = info["versions"]
    assert v11["version"] == "v1.1.0" and v11["stages"] == ["prod"]
    assert v11["metrics"] == {"acc": 0.93, "val.auc": 0.85} and v11["params"] == {"lr": 0.05}
    assert v10["metrics"]["acc"] == 0.91 and v10["message"] == "first"
    assert v10["size"] == 3 and v10["hash"].startswith("xxh3:")
    assert {(d["kind"], d["path"]) for d in v10["data"]} == {
        ("dep", "data/train.parquet"), ("out", "models/model.pkl")}
    assert [(e["action"], e["version"], e["stage"], e["message"]) for e in info["history"]] == [
        ("register", "v1.0.0", None, "first"), ("register", "v1.1.0", None, "tuned"),
        ("assign", "v1.1.0", "prod", "better auc")]
    assert all(e["who"] == "gitml tests" and e["when"] for e in info["history"])
    text = cli("model", "show", "churn").out
    assert "latest: v1.1.0; prod: v1.1.0" in text and "Churn classifier" in text
    assert "data/train.parquet" in text and "better auc" in text and "val.auc" in text


def test_metadata_from_gto_files(repo: Path, cli) -> None:
    # dvc.yaml's artifacts (GTO) give the path; gitml.yaml gives what it declares
    write(repo / "dvc.yaml", "stages: {}\nartifacts:\n  rf:\n    path: models/rf.pkl\n"
          "    type: model\n    desc: Random forest\n")
    write(repo / "artifacts.yaml", "nn:\n  path: models/nn.pkl\n  description: Network\n"
          "remote:\n  path: s3://bucket/x.pkl\n  virtual: true\n")
    write(repo / "gitml.yaml", "models:\n  rf:\n    description: Declared here\n")
    write(repo / "models" / "nn.pkl", b"nn")
    assert cli("add", "-q", "models/nn.pkl").code == 0
    commit_model(repo, cli, b"rf", "models", path="models/rf.pkl")
    assert cli("model", "register", "rf", "--version", "v1.0.0").code == 0
    assert cli("model", "register", "nn", "--version", "v1.0.0").code == 0
    by_name = {m.name: m for m in gitml.api.models()}
    assert (by_name["rf"].path, by_name["rf"].type, by_name["rf"].description) == (
        "models/rf.pkl", "model", "Declared here")
    assert (by_name["nn"].path, by_name["nn"].description) == ("models/nn.pkl", "Network")
    assert by_name["remote"].path is None and by_name["remote"].latest is None
    assert Path(gitml.api.model_path("nn")).read_bytes() == b"nn"


def test_reads_an_existing_gto_registry_as_is(repo: Path, cli, monkeypatch) -> None:
    """Tags written the way GTO writes them (names, annotated, tagger times) read the same."""
    c1 = commit_model(repo, cli, b"rf one", "one", path="models/rf.pkl",
                      artifacts_yaml="rf:\n  path: models/rf.pkl\n  type: model\n")
    c2 = commit_model(repo, cli, b"rf two", "two", path="models/rf.pkl")
    t = 1_700_000_000

    def tag(name: str, commit: str, msg: str) -> None:
        nonlocal t
        t += 60
        monkeypatch.setenv("GIT_COMMITTER_DATE", f"{t} +0200")
        git(repo, "tag", "-a", name, "-m", msg, commit)

    tag("rf@v0.1.0", c1, "Registering artifact rf version v0.1.0")
    tag("rf@v0.1.1", c2, "Registering artifact rf version v0.1.1")
    tag("rf#prod#1", c1, "Assigning stage prod to artifact rf version v0.1.0")
    tag("rf#staging", c2, "simple notation")
    tag("rf#prod#2", c2, "Assigning stage prod to artifact rf version v0.1.1")
    tag("rf#prod!#3", c2, "Unassigning stage 'prod'")
    tag("rf@v0.1.0!", c1, "Deregistering artifact rf version v0.1.0")
    git(repo, "tag", "rf#dev#9", c1)  # lightweight: GTO ignores it, so do we
    git(repo, "tag", "-a", "v1.0", "-m", "an ordinary release tag", c2)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    (m,) = gitml.api.models()
    assert (m.latest, m.stages, m.versions) == ("v0.1.1", {"staging": "v0.1.1"}, ("v0.1.1",))
    info = json.loads(cli("model", "show", "rf", "--json").out)
    assert info["history"][0]["when"] == "2023-11-15T00:14:20+02:00"
    assert [e["action"] for e in info["history"]] == [
        "register", "register", "assign", "assign", "assign", "unassign", "deregister"]
    assert Path(gitml.api.model_path("rf", stage="staging")).read_bytes() == b"rf two"
    # our next stage tag continues GTO's counter (the lightweight #9 included, as GTO does)
    assert cli("model", "promote", "rf", "v0.1.1", "-s", "prod").code == 0
    assert "rf#prod#10" in git(repo, "tag")


def test_concurrent_promotions_all_land_with_distinct_counters(repo: Path, cli) -> None:
    import subprocess
    import sys

    commit_model(repo, cli, b"one", "one")
    cli("model", "register", "churn", "--path", "models/model.pkl", "--version", "v1.0.0")
    env = {**os.environ, "PYTHONPATH": str(Path(gitml.__file__).parent.parent)}
    procs = [subprocess.Popen(
        [sys.executable, "-c", "from gitml.cli.main import main; main()",
         "model", "promote", "churn", "v1.0.0", "--stage", f"s{i}"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    counters = sorted(int(t.rpartition("#")[2]) for t in git(repo, "tag").split() if "#s" in t)
    assert counters == [1, 2, 3, 4]
    assert gitml.api.models()[0].stages == {f"s{i}": "v1.0.0" for i in range(4)}
