"""The experiment queue: --queue, --run-all --jobs N, sweeps, failures in a queue (issue 5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import git, write
from test_exp_run import PARAMS, branches, make_project, state


@pytest.fixture
def project(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    make_project(repo, cli)
    return repo


def params_at(root: Path, rev: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(git(root, "show", f"{rev}:params.yaml"))["train"]


def test_grid_is_queued_then_run_two_at_a_time(project: Path, cli) -> None:
    before = state(project)
    r = cli("exp", "run", "-S", "train.lr=0.1,0.01", "-S", "train.depth=3,5", "--queue")
    assert r.code == 0, r.err
    assert "Queued 4 experiments: exp-1, exp-2, exp-3, exp-4" in r.out
    assert state(project) == before
    assert [b for b in branches(project) if "queue" in b] == [
        f"refs/gitml/queue/exp-{i}" for i in range(1, 5)]
    shown = cli("exp", "show")
    assert "Queued (4)" in shown.out and "exp-2  train.lr=0.1, train.depth=5" in shown.out
    r = cli("exp", "run", "--run-all", "--jobs", "2")
    assert r.code == 0, r.err
    assert "[exp-1] Experiment exp-1 from main" in r.out
    # exp-1 is main's own params: no stage runs, so it makes no experiment
    assert "[exp-1] Experiment exp-1: no stage ran" in r.out
    assert "3 of 4 experiments done" in r.out
    assert state(project) == before
    assert not [b for b in branches(project) if "queue" in b]
    got = {n: (params_at(project, n)["lr"], params_at(project, n)["depth"])
           for n in ("exp-2", "exp-3", "exp-4")}
    assert got == {"exp-2": (0.1, 5), "exp-3": (0.01, 3), "exp-4": (0.01, 5)}
    assert "refs/heads/exp-1" not in branches(project)
    assert os.listdir(project / ".gitml" / "worktrees") == []


def test_failure_in_the_queue_does_not_stop_the_rest(project: Path, cli) -> None:
    assert cli("exp", "run", "-q", "--queue", "-S", "train.lr=0.02").code == 0
    assert cli("exp", "run", "-q", "--queue", "-n", "boom", "-S", "train.fail=true").code == 0
    assert cli("exp", "run", "-q", "--queue", "-S", "train.lr=0.03").code == 0
    r = cli("exp", "run", "--run-all")
    assert r.code == 1
    assert "Experiment boom failed (no branch made): stage 'train' failed" in r.err
    assert r.err.strip().splitlines()[-1] == "error: 1 of 3 experiments failed: boom"
    heads = [b for b in branches(project) if b.startswith("refs/heads/")]
    assert heads == ["refs/heads/exp-1", "refs/heads/exp-2", "refs/heads/main"]
    assert cli("exp", "run", "--run-all").out.startswith("The queue is empty")


def test_queue_in_parallel_reports_failures(project: Path, cli) -> None:
    r = cli("exp", "run", "-S", "train.fail=false,true", "-S", "train.lr=0.3", "-n", "g",
            "--keep-failed", "--queue")
    assert r.code == 0 and "g-1, g-2" in r.out
    r = cli("exp", "run", "--run-all", "-j", "2")
    assert r.code == 1
    assert "[g-2] boom: training diverged" in r.out  # the stage's own error, labelled
    assert "error: 1 of 2 experiments failed: g-2" in r.err
    rows = {x["name"]: x["status"] for x in json.loads(cli("exp", "show", "--json").out)}
    assert rows == {"main": "baseline", "g-1": "done", "g-2": "failed"}


def test_edits_are_captured_when_queued(project: Path, cli) -> None:
    write(project / "params.yaml", PARAMS.replace("depth: 3", "depth: 6"))
    assert cli("exp", "run", "-q", "--queue", "-n", "q", "-S", "train.lr=0.04").code == 0
    write(project / "params.yaml", PARAMS.replace("depth: 3", "depth: 7"))  # later edit
    assert cli("exp", "run", "-q", "--run-all").code == 0
    assert params_at(project, "q") == {"lr": 0.04, "depth": 6, "fail": False}
    assert params_at(project, "main")["depth"] == 3


def test_sweep_without_queue_runs_now(project: Path, cli) -> None:
    r = cli("exp", "run", "-S", "train.lr=0.02,0.03", "-n", "s")
    assert r.code == 0, r.err
    assert "A grid of 2 experiments: s-1, s-2" in r.out and "2 of 2 experiments done" in r.out
    assert params_at(project, "s-2")["lr"] == 0.03


def test_queue_bad_input_queues_nothing(project: Path, cli) -> None:
    r = cli("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-S", "train.nope=1")
    assert r.code == 2 and "no param 'train.nope'" in r.err
    assert cli("exp", "run", "--queue", "-q", "-n", "x", "-S", "train.lr=1").code == 0
    r = cli("exp", "run", "--queue", "-n", "x", "-S", "train.lr=2")
    assert r.code == 2 and "'x' is already queued" in r.err
    r = cli("exp", "run", "--run-all", "-S", "train.lr=2")
    assert r.code == 2 and "--run-all runs the queue as it is" in r.err
    assert [b for b in branches(project) if "queue" in b] == ["refs/gitml/queue/x"]


def test_remove_queued(project: Path, cli) -> None:
    assert cli("exp", "run", "-q", "--queue", "-S", "train.lr=0.1,0.2,0.3").code == 0
    r = cli("exp", "remove", "exp-2")
    assert r.code == 0 and "Removed 1: exp-2" in r.out
    r = cli("exp", "rm", "--queued", "--json")
    assert json.loads(r.out) == {"removed": ["exp-1", "exp-3"]}
    assert branches(project) == ["refs/heads/main"]


def test_queue_json(project: Path, cli) -> None:
    r = cli("exp", "run", "--queue", "--json", "-S", "train.depth=1,2")
    assert json.loads(r.out) == {"queued": ["exp-1", "exp-2"]}
    r = cli("exp", "run", "--run-all", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert [(x["name"], x["status"], x["overrides"]) for x in out] == [
        ("exp-1", "done", ["train.depth=1"]), ("exp-2", "done", ["train.depth=2"])]
    assert out[0]["metrics"]["metrics.json"]["val.acc"] == 0.84


def test_python_api_as_documented(project: Path) -> None:
    """exp.run / queue / run_all / show, each called more than once in one interpreter
    (the submodules once shadowed the package's functions after their first import)."""
    import subprocess
    import sys

    script = """
from gitml import experiments as exp
print(exp.run(set=["train.depth=5"], name="a", stream=False)[0].status)
print(exp.queue(set=["train.depth=6,7"]))
print(exp.queue(set=["train.depth=8"], name="q"))
print([r.status for r in exp.run_all(jobs=1, stream=False)])
print(len(exp.show().rows), len(exp.show().rows))
print(exp.run(set=["train.depth=9"], name="b", stream=False)[0].status)
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "done", "['exp-1', 'exp-2']", "['q']", "['done', 'done', 'done']", "5 5", "done"]
