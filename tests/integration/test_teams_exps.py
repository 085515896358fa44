"""Experiments travel: teammates in two clones of one bare Git remote, with a data remote
(a directory, and a real S3 server) — exp show of remote-tracking branches and --remote,
exp push / exp pull, and apply/diff of an experiment whose data is not local."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import s3server
from conftest import git
from test_exp_run import make_project
from test_remote import add_remote, clone, s3  # noqa: F401 - the S3 server fixture

import gitml


@pytest.fixture(params=["dir", "s3"])
def team(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    """Alice's clone (the cwd): a project with two experiments, a data remote and a bare
    Git remote 'origin' that has main (and no experiment yet)."""
    make_project(repo, cli)
    handle = add_remote(request.param, repo, tmp_path, cli, request)
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    assert cli("push", "-q").code == 0  # main's data
    git(repo, "push", "-q", "origin", "main")
    for lr in ("0.05", "0.2"):
        r = cli("exp", "run", "-q", "-S", f"train.lr={lr}")
        assert r.code == 0, r.err
    return handle


def model_of(root: Path, rev: str) -> bytes:
    return gitml.api.read("models/model.txt", rev=rev, repo=gitml.Repo(root))


def heads(root: Path) -> dict[str, str]:
    out = git(root, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split() for line in out.splitlines())


def test_pushed_experiments_reach_a_teammate_with_their_data_and_run_cache(
        repo: Path, team: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    alice = repo
    models = {n: model_of(alice, n) for n in ("exp-1", "exp-2")}
    r = cli("exp", "push", "origin", "--all")
    assert r.code == 0, r.err
    assert r.out.startswith("Pushed 2 experiments to origin: exp-1, exp-2\n")
    assert "data: pushed 2 objects to storage" in r.out  # the two models
    assert "run cache: pushed 2 entries" in r.out
    assert sorted(ref.split("/")[-1] for ref in git(
        tmp_path / "origin.git", "for-each-ref", "--format=%(refname)").split()) == \
        ["exp-1", "exp-2", "main"]
    assert "Already the same on origin: exp-1, exp-2" in cli("exp", "push", "origin",
                                                            "--all").out

    bob = clone(tmp_path / "origin.git", tmp_path / "bob", monkeypatch, team)
    r = cli("exp", "show", "--json")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert set(rows) == {"main", "origin/exp-1", "origin/exp-2"}  # the index did not travel
    assert rows["origin/exp-2"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert rows["origin/exp-1"]["overrides"] == ["train.lr=0.05"]
    r = cli("exp", "show", "--remote", "origin", "--csv")
    assert [line.split(",")[0] for line in r.out.splitlines()[1:]] == ["main", "exp-1", "exp-2"]

    # apply an experiment whose outputs are only on the data remote: fetched, one line
    r = cli("exp", "apply", "exp-1")  # the only experiment of that name: origin/exp-1
    assert r.code == 0, r.err
    assert "fetched 1 object of origin/exp-1 from storage" in r.err
    assert (bob / "models" / "model.txt").read_bytes() == models["exp-1"]
    r = cli("exp", "diff", "exp-1", "--json")
    assert json.loads(r.out)["params"]["changes"][0]["new"] == 0.05
    git(bob, "checkout", "-q", "--", ".")
    assert cli("pull", "-q").code == 0

    # pull one: a local branch, its data and its run-cache entry
    r = cli("exp", "pull", "origin", "exp-2")
    assert r.code == 0, r.err
    assert r.out.startswith("Pulled 1 experiment from origin: exp-2\n")
    assert "run cache: fetched 1 entry" in r.out
    assert heads(bob)["exp-2"] == heads(alice)["exp-2"]
    names = [row["name"] for row in json.loads(cli("exp", "show", "--json").out)]
    assert names == ["main", "origin/exp-1", "exp-2"]
    # the same params as Alice's exp-2: restored from the run cache, not run again
    r = cli("exp", "run", "-S", "train.lr=0.2")
    assert r.code == 0, r.err
    assert "Restored stage 'train' from the run cache" in r.out
    assert "Experiment exp-3 done" in r.out  # exp-1 and exp-2 are taken, here or there
    assert model_of(bob, "exp-3") == models["exp-2"]
    assert "Already here: exp-2" in cli("exp", "pull", "origin", "exp-2").out


def test_exp_show_remote_fetches_only_commits_and_pull_all_makes_every_branch(
        repo: Path, team: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    bob = clone(tmp_path / "origin.git", tmp_path / "bob", monkeypatch, team)
    monkeypatch.chdir(repo)
    assert cli("exp", "push", "origin", "exp-1", "exp-2", "-q").code == 0
    monkeypatch.chdir(bob)
    assert "No experiments yet" in cli("exp", "show").out  # not fetched yet
    store = gitml.Repo().store
    before = set(store.iter_oids())
    r = cli("exp", "show", "--remote", "origin", "--json")
    assert r.code == 0, r.err
    assert [row["name"] for row in json.loads(r.out)] == ["main", "exp-1", "exp-2"]
    assert set(store.iter_oids()) == before  # commits only: no data
    assert "origin/exp-1" in git(bob, "branch", "-r")
    r = cli("exp", "pull", "origin", "--all", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["experiments"] == ["exp-1", "exp-2"]
    assert set(heads(bob)) == {"main", "exp-1", "exp-2"}
    assert [row["name"] for row in json.loads(cli("exp", "show", "--json").out)] == \
        ["main", "exp-1", "exp-2"]
    git(bob, "switch", "-q", "exp-1")
    r = cli("checkout")  # the data came with the pull
    assert r.code == 0, r.err
    assert (bob / "models" / "model.txt").read_bytes() == model_of(repo, "exp-1")
    git(bob, "switch", "-q", "main")
    assert cli("exp", "remove", "exp-1").code == 0  # pulled ones are ordinary experiments


def test_bad_input_and_clashing_experiments_change_nothing(
        repo: Path, team: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    def one_line(r, code: int, text: str) -> None:
        assert r.code == code, (r.code, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], r.err

    one_line(cli("exp", "push", "nosuch", "--all"), 2, "'nosuch' is not a Git remote")
    one_line(cli("exp", "push", "origin"), 2, "name the experiments, or give --all")
    one_line(cli("exp", "push", "origin", "exp-1", "--all"), 2, "or give --all")
    one_line(cli("exp", "push", "origin", "exp-9"), 2, "'exp-9' is not an experiment")
    one_line(cli("exp", "pull", "origin", "main"), 2, "'main' on origin is not an experiment")
    one_line(cli("exp", "pull", "origin", "nope"), 2, "origin has no branch 'nope'")
    one_line(cli("exp", "show", "--remote", "-x"), 2, "is not a Git remote")

    # the data push fails (an output missing here): no branch reaches origin
    store = gitml.Repo().store
    lost = json.loads(cli("exp", "show", "--json").out)[1]["rev"]
    oid = gitml.pointer.loads(git(repo, "show", f"{lost}:models/model.txt.gitml"), "x").oid
    os.rename(store.path(oid), tmp_path / "saved")
    one_line(cli("exp", "push", "origin", "exp-1"), 1, "no branch was pushed to origin")
    assert "exp-1" not in git(tmp_path / "origin.git", "branch")
    os.rename(tmp_path / "saved", store.path(oid))
    assert cli("exp", "push", "origin", "exp-1", "-q").code == 0

    # Bob made his own exp-1 before seeing Alice's: neither side is overwritten silently
    bob = clone(tmp_path / "origin.git", tmp_path / "bob", monkeypatch, team)
    assert cli("pull", "-q").code == 0
    assert cli("exp", "run", "-q", "-n", "exp-1", "-S", "train.lr=0.3").code == 0
    mine = heads(bob)["exp-1"]
    one_line(cli("exp", "pull", "origin", "exp-1"), 2, "your exp-1 differs from origin's")
    assert heads(bob)["exp-1"] == mine
    theirs = git(tmp_path / "origin.git", "rev-parse", "exp-1").strip()
    one_line(cli("exp", "push", "origin", "exp-1"), 2, "origin has another exp-1")
    assert git(tmp_path / "origin.git", "rev-parse", "exp-1").strip() == theirs
    r = cli("exp", "pull", "origin", "exp-1", "--force")
    assert r.code == 0, r.err
    assert heads(bob)["exp-1"] == theirs


def test_show_and_diff_fetch_tracked_metrics_of_a_teammates_experiment_and_say_so(
        repo: Path, cli, tmp_path: Path, monkeypatch, request) -> None:
    """Metrics kept in the store (cache: true) are data: a teammate's exp show and exp diff
    fetch them from the default remote, with one line saying so, and show their values."""
    make_project(repo, cli)
    (repo / "gitml.yaml").write_text((repo / "gitml.yaml").read_text().replace(
        "metrics: [metrics.json]", "metrics: [{metrics.json: {cache: true}}]", 1))
    git(repo, "rm", "-q", "--cached", "metrics.json")
    r = cli("repro", "-q")
    assert r.code == 0, r.err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "metrics in the store")
    handle = add_remote("dir", repo, tmp_path, cli, request)
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    assert cli("push", "-q").code == 0
    for lr in ("0.05", "0.2"):
        assert cli("exp", "run", "-q", "-S", f"train.lr={lr}").code == 0
    acc = {n: json.loads(gitml.api.read("metrics.json", rev=n, repo=gitml.Repo(repo)))
           for n in ("exp-1", "exp-2")}
    assert cli("exp", "push", "origin", "--all", "-q").code == 0

    bob = clone(tmp_path / "origin.git", tmp_path / "bob", monkeypatch, handle)
    assert cli("pull", "-q").code == 0  # main's data, not the experiments'
    r = cli("exp", "diff", "main", "origin/exp-2", "--json")
    assert r.code == 0, r.err
    assert r.err == "fetched 1 object (metrics.json) from storage\n"
    new = {c["key"]: c["new"] for c in json.loads(r.out)["metrics"]["changes"]}
    assert new["val.acc"] == acc["exp-2"]["val"]["acc"]
    r = cli("exp", "show", "--json")
    assert r.code == 0, r.err
    assert r.err == "fetched 1 object (metrics.json) from storage\n"  # exp-1's; exp-2's is here
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert rows["origin/exp-1"]["metrics"]["metrics.json"]["val.acc"] == acc["exp-1"]["val"]["acc"]
    r = cli("exp", "show")
    assert r.code == 0 and r.err == ""  # nothing more to fetch: nothing said
    assert (bob / "metrics.json").exists()
