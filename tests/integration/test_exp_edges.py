"""exp run at its edges (issue 17, items 7-10): checks before any stage runs, changed
tracked data travels, no metrics it did not produce, params shown once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import git, write
from test_exp_run import branches, make_project, state

from gitml import api


@pytest.fixture
def project(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    make_project(repo, cli)
    return repo


# -- 7. everything that can fail is checked first ---------------------------------------------

def test_without_a_git_identity_nothing_runs(project: Path, cli, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    git(project, "config", "user.useConfigOnly", "true")
    before = state(project)
    for args in (("-S", "train.lr=0.2"), ("-S", "train.lr=0.2", "--queue")):
        r = cli("exp", "run", *args)
        assert r.code == 2
        assert r.err.strip() == (
            "error: Git does not know who you are, and an experiment is a commit: set it "
            "with git config user.name 'Your Name' && git config user.email you@example.com")
        assert "Running stage" not in r.out
    assert state(project) == before
    assert [b for b in branches(project) if b != "refs/heads/main"] == []


# -- 8. changed tracked data travels ----------------------------------------------------------

def test_changed_tracked_data_travels_into_the_experiment(project: Path, cli) -> None:
    write(project / "data" / "raw.txt", "a b c d e f g\n")  # not 'gitml add'-ed
    porcelain = git(project, "status", "--porcelain")
    r = cli("exp", "run", "-n", "more-rows")
    assert r.code == 0, r.err
    assert ("Carrying changed tracked data into the experiment: data/raw.txt (stored; your "
            "workspace keeps it uncommitted)") in r.out
    assert "Running stage 'train' (dep data/raw.txt modified)" in r.out
    # the experiment's commit carries the new pointer; its model saw 7 rows
    assert git(project, "show", "more-rows:data/raw.txt.gitml") != \
        git(project, "show", "main:data/raw.txt.gitml")
    assert api.read("data/raw.txt", rev="more-rows") == b"a b c d e f g\n"
    assert api.read("models/model.txt", rev="more-rows").startswith(b"7 rows")
    # the workspace keeps its uncommitted state: new data, old pointer
    assert (project / "data" / "raw.txt").read_text() == "a b c d e f g\n"
    assert git(project, "status", "--porcelain") == porcelain
    assert "modified  data/raw.txt" in cli("status").out


# -- 9. no metrics it did not produce ---------------------------------------------------------

def test_a_run_where_no_stage_runs_makes_no_experiment_unless_asked(project: Path,
                                                                   cli) -> None:
    r = cli("exp", "run", "-n", "same")
    assert r.code == 0, r.err
    assert ("Experiment same: no stage ran (every stage is up to date with these params), so "
            "it has no metrics of its own; no branch made (--allow-empty records it anyway)"
            ) in r.out
    assert "refs/heads/same" not in branches(project)
    assert json.loads(cli("exp", "run", "-n", "same", "--json").out)[0]["status"] == "empty"
    r = cli("exp", "run", "-n", "kept", "--allow-empty")
    assert r.code == 0 and "kept as branch kept" in r.out and "marked empty" in r.out
    assert "Gitml-Status: empty" in git(project, "log", "-1", "--format=%B", "kept")
    assert cli("exp", "run", "-q", "-n", "real", "-S", "train.lr=0.3").code == 0
    show = cli("exp", "show").out
    assert "kept (empty)" in show
    # an empty run never wins, even with the best number (it is main's)
    assert cli("exp", "best", "-m", "val.acc", "--max").out == "real\n"
    rows = cli("exp", "show", "--sort-by", "val.acc", "--sort-order", "desc").out.splitlines()
    assert [ln.split()[0] for ln in rows[1:]] == ["main", "real", "kept"]


FAILING = """\
import json, sys
import yaml
p = yaml.safe_load(open("params.yaml"))
json.dump({"acc": 0.9 + p["k"] / 100}, open("m.json", "w"))   # looks great ...
if p["k"] > 1:
    sys.exit("boom")                            # ... but the stage failed
"""


def test_keep_failed_marks_what_the_failed_stage_wrote(repo: Path, cli) -> None:
    write(repo / "fit.py", FAILING)
    write(repo / "params.yaml", "k: 1\n")
    write(repo / "gitml.yaml", f"stages:\n  fit:\n    cmd: {sys.executable} fit.py\n"
                               "    deps: [fit.py]\n    params: [k]\n    metrics: [m.json]\n")
    assert cli("repro", "-q").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "fit")
    r = cli("exp", "run", "-n", "bad", "-S", "k=2", "--keep-failed")
    assert r.code == 1
    assert ("Experiment bad failed (kept as branch bad, marked failed; m.json written by the "
            "failed stage, marked so)") in r.err
    msg = git(repo, "log", "-1", "--format=%B", "bad")
    assert "Gitml-Status: failed" in msg and "Gitml-Failed-Output: m.json" in msg
    assert "acc=0.92" not in msg
    rows = {x["name"]: x for x in json.loads(cli("exp", "show", "--json").out)}
    assert rows["bad"]["status"] == "failed"
    assert rows["bad"]["failed_outputs"] == ["m.json"]
    assert "m.json" not in rows["bad"]["metrics"]  # never shown as its result
    r = cli("exp", "best", "-m", "acc", "--max")
    assert r.code == 2 and "no finished experiment has a number for acc" in r.err


def test_best_says_when_the_baseline_beats_every_experiment(project: Path, cli) -> None:
    assert cli("exp", "run", "-q", "-n", "worse", "-S", "train.lr=0.5").code == 0
    r = cli("exp", "best", "-m", "val.acc", "--max")
    assert r.code == 0 and r.out == "worse\n"
    assert r.err.strip() == ("note: the baseline main (val.acc=0.82) beats every experiment; the "
                             "best experiment is worse (0.42)")
    d = json.loads(cli("exp", "best", "-m", "val.acc", "--max", "--json").out)
    assert d["baseline_wins"] is True and d["baseline"]["name"] == "main"
    assert d["baseline"]["value"] == 0.82
    assert cli("exp", "best", "-m", "val.acc", "--max", "-q").out == ""


# -- 10. params shown once -------------------------------------------------------------------

def test_logged_params_that_params_yaml_holds_are_shown_once(project: Path, cli) -> None:
    write(project / "gitml-live" / "params.yaml",
          "train:\n  lr: 0.1\n  depth: 3\n  fail: false\nbatch: 32\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "logged params")
    files = json.loads(cli("params", "show", "--json").out)["workspace"]["files"]
    assert files["gitml-live/params.yaml"] == {"data": {"batch": 32}}
    assert files["params.yaml"]["data"]["train.lr"] == 0.1
    # both change together in a run: one row in params diff, one column in exp show
    write(project / "params.yaml", (project / "params.yaml").read_text().replace("0.1", "0.2"))
    write(project / "gitml-live" / "params.yaml", "train:\n  lr: 0.2\n  depth: 3\n"
                                                   "  fail: false\nbatch: 32\n")
    r = cli("params", "diff", "--json")
    assert [(c["path"], c["key"]) for c in json.loads(r.out)["changes"]] == \
        [("params.yaml", "train.lr")]
    head = cli("exp", "show").out.splitlines()[0].split()
    assert head.count("train.lr") == 1 and "batch" in head
    assert not any(":" in h for h in head)
    # a logged value that differs from params.yaml is shown, from where it was logged
    write(project / "gitml-live" / "params.yaml", "train:\n  lr: 0.7\nbatch: 32\n")
    files = json.loads(cli("params", "show", "--json").out)["workspace"]["files"]
    assert files["gitml-live/params.yaml"]["data"] == {"train.lr": 0.7, "batch": 32}
