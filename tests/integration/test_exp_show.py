"""exp show / diff / best / apply / remove on real experiment branches (issue 5)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import pytest
from conftest import git, write
from test_exp_run import branches, make_project, state

from gitml import experiments


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with three experiments (made once for the read-only tests)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("three") / "repo"
    root.mkdir()
    old = os.getcwd()
    os.chdir(root)
    try:
        git(root, "init", "-q")
        assert run_cli("init", "-q").code == 0
        make_project(root, run_cli)
        for name, lr in (("slow", "0.01"), ("good", "0.05"), ("fast", "0.3")):
            r = run_cli("exp", "run", "-q", "-n", name, "-S", f"train.lr={lr}")
            assert r.code == 0, r.err
    finally:
        os.chdir(old)
    return root


@pytest.fixture
def in_three(three: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(three)
    return three


def test_show_table(in_three: Path, cli) -> None:
    r = cli("exp", "show")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["Experiment", "Created", "val.acc", "val.loss", "train.lr",
                                "train.depth", "train.fail"]
    assert lines[1].split() == ["main", "HEAD", "0.82", "0.18", "0.1", "3", "false"]
    # oldest first (same second: by name)
    assert sorted(ln.split()[0] for ln in lines[2:]) == ["fast", "good", "slow"]
    good = next(ln for ln in lines if ln.startswith("good "))
    assert good.split()[-5:] == ["0.87", "0.13", "0.05", "3", "false"]


def test_show_sort_and_only_changed(in_three: Path, cli) -> None:
    r = cli("exp", "show", "--sort-by", "val.acc", "--only-changed")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["Experiment", "Created", "val.acc", "val.loss", "train.lr"]
    # declared 'higher': best first; the baseline stays on top
    assert [ln.split()[0] for ln in lines[1:]] == ["main", "good", "slow", "fast"]
    r = cli("exp", "show", "--sort-by", "train.lr", "--sort-order", "desc")
    assert [ln.split()[0] for ln in r.out.splitlines()[1:]] == ["main", "fast", "good", "slow"]
    r = cli("exp", "show", "--sort-by", "nope")
    assert r.code == 2 and "no metric or param 'nope' (known: val.acc" in r.err


def test_show_md_csv_json(in_three: Path, cli) -> None:
    md = cli("exp", "show", "--md", "--only-changed").out.splitlines()
    assert md[0] == "| Experiment | Created | val.acc | val.loss | train.lr |"
    assert md[1] == "|---|---|---|---|---|" and md[2].startswith("| main | HEAD | 0.82 |")
    rows = list(csv.DictReader(io.StringIO(cli("exp", "show", "--csv", "--sort-by",
                                               "train.lr").out)))
    assert [(r["experiment"], r["type"], r["val.acc"]) for r in rows] == [
        ("main", "baseline", "0.82"), ("slow", "experiment", "0.83"),
        ("good", "experiment", "0.87"), ("fast", "experiment", "0.62")]
    assert len(rows[1]["rev"]) == 40
    data = json.loads(cli("exp", "show", "--json").out)
    good = next(x for x in data if x["name"] == "good")
    assert good["metrics"] == {"metrics.json": {"val.acc": 0.87, "val.loss": 0.13}}
    assert good["params"]["params.yaml"]["train.lr"] == 0.05
    assert good["overrides"] == ["train.lr=0.05"] and good["status"] == "done"
    assert good["rev"] == git(in_three, "rev-parse", "good").strip()
    assert cli("exp", "show", "--md", "--json").code == 2


def test_best(in_three: Path, cli) -> None:
    assert cli("exp", "best", "--metric", "val.acc", "--max").out == "good\n"
    assert cli("exp", "best", "-m", "val.acc", "--min").out == "fast\n"
    assert cli("exp", "best", "-m", "val.loss").out == "good\n"  # declared lower
    assert cli("exp", "best", "-m", "metrics.json:val.acc").out == "good\n"
    out = json.loads(cli("exp", "best", "-m", "val.acc", "--json").out)
    assert out == {"name": "good", "rev": git(in_three, "rev-parse", "good").strip(),
                   "metric": "metrics.json:val.acc", "value": 0.87, "baseline_wins": False}
    r = cli("exp", "best", "-m", "train.lr", "--max")
    assert r.code == 2 and "no metric 'train.lr'" in r.err
    assert experiments.best("val.acc", maximize=True) == "good"


def test_diff(in_three: Path, cli) -> None:
    r = cli("exp", "diff", "main", "good")
    assert r.code == 0, r.err
    assert "Params (main -> good)" in r.out and "Metrics (main -> good)" in r.out
    assert any(ln.split() == ["params.yaml", "train.lr", "0.1", "0.05", "-0.05"]
               for ln in r.out.splitlines())
    assert any(ln.split() == ["metrics.json", "val.acc", "0.82", "0.87", "+0.05", "better"]
               for ln in r.out.splitlines())
    assert cli("exp", "diff", "good").out == r.out  # one name: against its base
    data = json.loads(cli("exp", "diff", "slow", "fast", "--json").out)
    assert [c["key"] for c in data["params"]["changes"]] == ["train.lr"]
    assert {c["key"]: c["verdict"] for c in data["metrics"]["changes"]} == {
        "val.acc": "worse", "val.loss": "worse"}
    md = cli("exp", "diff", "main", "fast", "--md").out
    assert "## Metrics (main -> fast)" in md and "| metrics.json | val.acc |" in md
    r = cli("exp", "diff", "nope")
    assert r.code == 2 and "'nope' is not an experiment" in r.err
    r = cli("exp", "diff", "main", "nope")
    assert r.code == 2 and "unknown revision 'nope'" in r.err


def test_show_is_empty_before_experiments(repo: Path, cli) -> None:
    r = cli("exp", "show")
    assert r.code == 0 and "No experiments yet" in r.out


def test_show_marks_a_param_only_some_rows_have(repo: Path, cli) -> None:
    make_project(repo, cli)
    r = cli("exp", "run", "-q", "-n", "drop", "-S", "+train.dropout=0.2")
    assert r.code == 0, r.err
    for fmt in ((), ("--md",)):
        out = cli("exp", "show", *fmt).out
        assert "object at 0x" not in out
        main = next(ln for ln in out.splitlines() if "main" in ln and "HEAD" in ln)
        assert main.replace("|", " ").split()[-1] == "-"  # main has no train.dropout
        drop = next(ln for ln in out.splitlines() if ln.lstrip("| ").startswith("drop"))
        assert drop.replace("|", " ").split()[-1] == "0.2"


def test_apply_brings_params_metrics_and_outputs(repo: Path, cli) -> None:
    make_project(repo, cli)
    assert cli("exp", "run", "-q", "-n", "e", "-S", "train.depth=8").code == 0
    head, index = git(repo, "rev-parse", "HEAD"), (repo / ".git" / "index").read_bytes()
    r = cli("exp", "apply", "e")
    assert r.code == 0, r.err
    assert "Applied e: 4 files" in r.out and "1 output checked out" in r.out
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".git" / "index").read_bytes() == index  # nothing staged
    assert sorted(git(repo, "status", "--porcelain").splitlines()) == [
        " M gitml.lock", " M metrics.json", " M models/model.txt.gitml", " M params.yaml"]
    assert (repo / "models" / "model.txt").read_text() == "4 rows lr=0.1 depth=8\n"
    assert "depth: 8" in (repo / "params.yaml").read_text()
    assert cli("status").code == 0  # data matches the applied pointers
    assert "up to date" in cli("repro", "--dry").out  # the lock matches too


def test_apply_refuses_to_overwrite_edits(repo: Path, cli) -> None:
    make_project(repo, cli)
    assert cli("exp", "run", "-q", "-n", "e", "-S", "train.depth=8").code == 0
    write(repo / "params.yaml", "train:\n  lr: 9\n  depth: 9\n  fail: false\n")
    before = state(repo)
    r = cli("exp", "apply", "e")
    assert r.code == 2 and "uncommitted changes to params.yaml" in r.err
    assert state(repo) == before
    git(repo, "checkout", "-q", "params.yaml")
    write(repo / "models" / "model.txt", "hand edited\n")  # data changed, not stored
    before = state(repo)
    r = cli("exp", "apply", "e")
    assert r.code == 2 and "models/model.txt changed since it was added" in r.err
    assert state(repo) == before
    r = cli("exp", "apply", "e", "--force")
    assert r.code == 0, r.err
    assert (repo / "models" / "model.txt").read_text() == "4 rows lr=0.1 depth=8\n"
    assert cli("exp", "apply", "nope").code == 2


def test_remove_variants(repo: Path, cli) -> None:
    make_project(repo, cli)
    for n in ("a", "b", "c"):
        assert cli("exp", "run", "-q", "-n", n, "-S", "train.depth=5").code == 0
    r = cli("exp", "remove", "main")
    assert r.code == 2 and "'main' is not an experiment" in r.err
    r = cli("exp", "remove")
    assert r.code == 2 and "name the experiments" in r.err
    r = cli("exp", "remove", "--older-than", "soon")
    assert r.code == 2 and "expected a number and a unit" in r.err
    assert cli("exp", "remove", "--older-than", "30d").out.strip() == "Nothing to remove."
    # a branch the user built on is not deleted behind their back
    git(repo, "checkout", "-q", "b")
    r = cli("exp", "remove", "b")
    assert r.code == 2 and "'b' is checked out" in r.err
    write(repo / "notes.txt", "more work\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "more")
    git(repo, "checkout", "-q", "main")
    r = cli("exp", "rm", "b")
    assert r.code == 2 and "has commits beyond the experiment" in r.err
    assert cli("exp", "rm", "b", "--force").code == 0
    time.sleep(1.1)
    r = cli("exp", "rm", "--older-than", "1s")
    assert r.code == 0 and r.out.strip() == "Removed 2: a, c"
    assert branches(repo) == ["refs/heads/main"]


def test_branch_deleted_with_git_is_forgotten(repo: Path, cli) -> None:
    make_project(repo, cli)
    assert cli("exp", "run", "-q", "-n", "gone", "-S", "train.depth=5").code == 0
    git(repo, "branch", "-D", "gone")
    assert "gone" not in cli("exp", "show").out
    r = cli("exp", "clean")
    assert "Forgot 1 experiment whose branch was deleted: gone" in r.out
    assert branches(repo) == ["refs/heads/main"]
    assert cli("exp", "run", "-q", "-n", "gone", "-S", "train.depth=6").code == 0
