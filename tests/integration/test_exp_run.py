"""gitml exp run: a worktree per run, a branch per result, the user's workspace untouched
(issue 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import git, write

from gitml import pointer

TRAIN = """\
import json, os, sys
import yaml
p = yaml.safe_load(open("params.yaml"))["train"]
if p.get("fail"):
    sys.exit("boom: training diverged")
rows = open("data/raw.txt").read().split()
os.makedirs("models", exist_ok=True)
open("models/model.txt", "w").write(f"{len(rows)} rows lr={p['lr']} depth={p['depth']}\\n")
acc = round(0.9 - abs(p["lr"] - 0.05) - 0.01 * p["depth"], 4)
json.dump({"val": {"acc": acc, "loss": round(1 - acc, 4)}}, open("metrics.json", "w"))
print("trained", p["lr"], p["depth"])
"""
PARAMS = "# experiment params\ntrain:\n  lr: 0.1   # learning rate\n  depth: 3\n  fail: false\n"


def make_project(root: Path, cli, train: str = TRAIN,  # type: ignore[no-untyped-def]
                 params: str = PARAMS) -> None:
    """A committed project: tracked data, a train stage (``train``, reading ``params``)
    run once, metrics declared."""
    write(root / "data" / "raw.txt", "a b c d\n")
    write(root / "train.py", train)
    write(root / "params.yaml", params)
    write(root / "gitml.yaml", f"""\
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py, data/raw.txt]
    params: [train]
    outs: [models/model.txt]
    metrics: [metrics.json]
metrics:
  - path: metrics.json
    keys: {{val.acc: higher, val.loss: lower}}
""")
    assert cli("add", "-q", "data/raw.txt").code == 0
    r = cli("repro", "-q")
    assert r.code == 0, r.err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")


@pytest.fixture
def project(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    make_project(repo, cli)
    return repo


def state(root: Path) -> tuple[str, str, bytes, str]:
    """HEAD, git status, the index file's bytes and the workspace files: what the user has."""
    files = sorted(str(p.relative_to(root)) + ":" + (p.read_text() if p.is_file() else "")
                   for p in root.rglob("*") if ".git" not in p.parts and ".gitml" not in p.parts)
    return (git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain"),
            (root / ".git" / "index").read_bytes(), "\n".join(files))


def branches(root: Path) -> list[str]:
    return git(root, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/gitml"
               ).split()


def test_run_commits_on_a_branch_and_leaves_the_workspace(project: Path, cli) -> None:
    before = state(project)
    r = cli("exp", "run", "-n", "exp-3", "-S", "train.lr=0.05")
    assert r.code == 0, r.err
    assert "Experiment exp-3 from main" in r.out and "Experiment exp-3 done" in r.out
    assert "val.acc=0.87" in r.out
    assert state(project) == before  # HEAD, index, status and files: all as they were
    assert {"refs/heads/exp-3", "refs/gitml/exps/exp-3"} <= set(branches(project))
    assert git(project, "rev-parse", "exp-3") == git(project, "rev-parse", "refs/gitml/exps/exp-3")
    # one commit on top of main, holding params, lock, metrics and the output's pointer
    assert git(project, "rev-parse", "exp-3^").strip() == git(project, "rev-parse",
                                                               "main").strip()
    changed = git(project, "diff", "--name-only", "main", "exp-3").split()
    assert changed == ["gitml.lock", "metrics.json", "models/model.txt.gitml", "params.yaml"]
    diff = git(project, "diff", "main", "exp-3", "--", "params.yaml")
    assert "-  lr: 0.1   # learning rate\n+  lr: 0.05  # learning rate" in diff
    assert json.loads(git(project, "show", "exp-3:metrics.json"))["val"]["acc"] == 0.87
    msg = git(project, "log", "-1", "--format=%B", "exp-3")
    assert msg.startswith("exp-3: train.lr=0.05 -> val.acc=0.87\n")
    assert "Metrics: val.acc=0.87, val.loss=0.13" in msg
    assert msg.rstrip().endswith("Gitml-Experiment: exp-3\nGitml-Override: train.lr=0.05")
    # no worktree is left behind
    assert os.listdir(project / ".gitml" / "worktrees") == []
    assert len(git(project, "worktree", "list").splitlines()) == 1


def test_outputs_are_in_the_shared_store(project: Path, cli) -> None:
    assert cli("exp", "run", "-n", "deep", "-S", "train.depth=9").code == 0
    ptr = pointer.loads(git(project, "show", "deep:models/model.txt.gitml").encode(),
                        "x", "model.txt")
    git(project, "checkout", "-q", "deep")
    r = cli("checkout")
    assert r.code == 0, r.err
    assert (project / "models" / "model.txt").read_text() == "4 rows lr=0.1 depth=9\n"
    assert ptr.size == (project / "models" / "model.txt").stat().st_size


def test_uncommitted_edits_are_carried_and_kept(project: Path, cli) -> None:
    write(project / "train.py", TRAIN.replace('print("trained"', 'print("edited"'))
    write(project / "params.yaml", PARAMS.replace("depth: 3", "depth: 4"))
    git(project, "add", "params.yaml")  # one staged, one not: both are carried
    before = state(project)
    r = cli("exp", "run", "-S", "train.lr=0.07")
    assert r.code == 0, r.err
    assert state(project) == before
    assert "edited" in git(project, "show", "exp-1:train.py")
    p = yaml.safe_load(git(project, "show", "exp-1:params.yaml"))
    assert p["train"] == {"lr": 0.07, "depth": 4, "fail": False}
    lock = yaml.safe_load(git(project, "show", "exp-1:gitml.lock"))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train.depth"] == 4


def test_generated_names_count_up(project: Path, cli) -> None:
    assert cli("exp", "run", "-q", "-S", "train.lr=0.01").code == 0
    assert cli("exp", "run", "-q", "-S", "train.lr=0.02").code == 0
    assert cli("exp", "run", "-q", "-n", "exp-7", "-S", "train.lr=0.03").code == 0
    assert cli("exp", "run", "-q", "-S", "train.lr=0.04").code == 0
    heads = [b for b in branches(project) if b.startswith("refs/heads/")]
    assert heads == ["refs/heads/exp-1", "refs/heads/exp-2", "refs/heads/exp-7",
                     "refs/heads/exp-8", "refs/heads/main"]


def test_failed_run_leaves_nothing_and_prints_the_error(project: Path, cli) -> None:
    before = state(project)
    r = cli("exp", "run", "-n", "bad", "-S", "train.fail=true")
    assert r.code == 1
    assert "Experiment bad failed (no branch made)" in r.err
    assert r.err.count("exit code 1") == 2  # the stage's failure, then the command's error
    assert r.err.strip().splitlines()[-1].startswith("error: stage 'train' failed")
    assert branches(project) == ["refs/heads/main"]
    assert os.listdir(project / ".gitml" / "worktrees") == []
    assert state(project) == before
    # the name is free again
    assert cli("exp", "run", "-q", "-n", "bad", "-S", "train.lr=0.02").code == 0


def test_keep_failed_keeps_a_marked_branch(project: Path, cli) -> None:
    r = cli("exp", "run", "-n", "bad", "--keep-failed", "-S", "train.fail=true")
    assert r.code == 1 and "kept as branch bad, marked failed" in r.err
    msg = git(project, "log", "-1", "--format=%B", "bad")
    assert msg.startswith("bad [failed]: train.fail=true") and "Gitml-Status: failed" in msg
    assert "fail: true" in git(project, "show", "bad:params.yaml")
    shown = json.loads(cli("exp", "show", "--json").out)
    assert [(r["name"], r["status"]) for r in shown] == [("main", "baseline"), ("bad", "failed")]
    r = cli("exp", "remove", "--failed")
    assert r.code == 0 and "bad" in r.out
    assert branches(project) == ["refs/heads/main"]


@pytest.mark.parametrize("args, message", [
    (["-S", "train.lrr=1"], "no param 'train.lrr' (did you mean train.lr?"),
    (["-S", "train.lr"], "malformed -S 'train.lr'"),
    (["-S", "other.yaml:a=1"], "other.yaml: no such params file"),
    (["-n", "bad name", "-S", "train.lr=1"], "'bad name' is not a valid branch name"),
    (["-n", "main", "-S", "train.lr=1"], "branch 'main' already exists (choose another -n)"),
    (["-n", "-x", "-S", "train.lr=1"], "cannot name an experiment"),
    (["-n", "a..b", "-S", "train.lr=1"], "not a valid branch name"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(project: Path, cli, args: list[str],
                                                          message: str) -> None:
    before = state(project)
    r = cli("exp", "run", *args)
    assert r.code == 2, r.err
    assert message in r.err and len(r.err.strip().splitlines()) == 1
    assert state(project) == before and branches(project) == ["refs/heads/main"]
    assert not os.listdir(project / ".gitml" / "worktrees") if (
        project / ".gitml" / "worktrees").exists() else True


def test_add_allows_a_new_key(project: Path, cli) -> None:
    assert cli("exp", "run", "-q", "-S", "train.dropout=0.5").code == 2
    r = cli("exp", "run", "-q", "--add", "-n", "drop", "-S", "train.dropout=0.5")
    assert r.code == 0, r.err
    assert yaml.safe_load(git(project, "show", "drop:params.yaml"))["train"]["dropout"] == 0.5


def test_no_commit_yet(gitrepo: Path, cli) -> None:
    assert cli("init", "-q").code == 0
    write(gitrepo / "params.yaml", "a: 1\n")
    r = cli("exp", "run", "-S", "a=2")
    assert r.code == 2 and "no commit yet" in r.err


def _gitml(root: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitml", *args], cwd=root, text=True,
                          capture_output=True, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("point", ["exp.worktree", "exp.ran", "exp.committed"])
def test_killed_run_leaves_nothing_that_breaks_the_next(project: Path, cli, point: str) -> None:
    before = state(project)
    p = _gitml(project, "exp", "run", "-n", "k", "-S", "train.lr=0.02",
               env={"GITML_FAULT": f"{point}:kill"})
    assert p.returncode == -9
    assert state(project) == before
    assert branches(project) == ["refs/heads/main"]  # no half-made experiment
    assert (project / ".gitml" / "worktrees" / "k").exists()  # the corpse ...
    # ... which the next run recovers by itself, even under the same name
    r = cli("exp", "run", "-q", "-n", "k", "-S", "train.lr=0.03")
    assert r.code == 0, r.err
    assert os.listdir(project / ".gitml" / "worktrees") == []
    assert len(git(project, "worktree", "list").splitlines()) == 1


def wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, "the process ended before reaching the fault point"
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_exp_clean_removes_dead_worktrees_only(project: Path, cli) -> None:
    gate = project.parent / "gate"
    live = subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "-q", "-n", "live",
                             "-S", "train.lr=0.03"], cwd=project,
                            env={**os.environ, "GITML_FAULT": f"exp.ran:wait={gate}"})
    try:
        wait_for(Path(str(gate) + ".reached"), live)
        p = _gitml(project, "exp", "run", "-n", "dead", "-S", "train.lr=0.02",
                   env={"GITML_FAULT": "exp.ran:kill"})
        assert p.returncode == -9
        r = cli("exp", "clean")
        assert r.code == 0, r.err
        assert "Removed 1 worktree left by killed runs: dead" in r.out
        assert "Left 1 running experiment alone: live" in r.out
        assert (project / ".gitml" / "worktrees" / "live").exists()
        shown = cli("exp", "show")
        assert "Running now: live" in shown.out
    finally:
        gate.touch()
        assert live.wait(timeout=60) == 0
    assert "refs/heads/live" in branches(project)
    assert cli("exp", "clean").out.strip() == "Nothing to clean."


def test_interrupted_run_cleans_up(project: Path, cli) -> None:
    p = _gitml(project, "exp", "run", "-n", "ctrlc", "-S", "train.lr=0.02",
               env={"GITML_FAULT": "exp.ran:raise"})
    assert p.returncode == 130
    assert branches(project) == ["refs/heads/main"]
    assert os.listdir(project / ".gitml" / "worktrees") == []


def test_run_with_a_json_params_file_and_targets(project: Path, cli) -> None:
    write(project / "conf.json", '{\n  "k": 1\n}\n')
    r = cli("exp", "run", "-n", "j", "-S", "conf.json:k=2", "-S", "train.lr=0.04", "train")
    assert r.code == 0, r.err
    assert git(project, "show", "j:conf.json") == '{\n  "k": 2\n}\n'  # untracked: carried
    assert not git(project, "status", "--porcelain", "conf.json").startswith("A")


def test_parallel_runs_do_not_collide(project: Path, cli) -> None:
    before = state(project)
    procs = [subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "-q", "-S",
                               f"train.lr=0.0{i}"], cwd=project) for i in (1, 2, 3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    heads = [b for b in branches(project) if b.startswith("refs/heads/exp-")]
    assert heads == ["refs/heads/exp-1", "refs/heads/exp-2", "refs/heads/exp-3"]
    lrs = sorted(yaml.safe_load(git(project, "show", f"exp-{i}:params.yaml"))["train"]["lr"]
                 for i in (1, 2, 3))
    assert lrs == [0.01, 0.02, 0.03]
    assert state(project) == before
    assert os.listdir(project / ".gitml" / "worktrees") == []


def test_a_pipeline_that_cannot_load_is_bad_input(project: Path, cli) -> None:
    r = cli("exp", "run", "-S", "train.lr=0.02", "nostage")
    assert r.code == 2 and "nostage" in r.err and r.out == ""
    write(project / "gitml.yaml", "stages:\n  bad: 1\n")
    before = state(project)
    r = cli("exp", "run", "-S", "train.lr=0.02")
    assert r.code == 2 and "gitml.yaml" in r.err and r.out == ""
    r = cli("exp", "run", "--queue", "-S", "train.lr=0.02")
    assert r.code == 2 and "gitml.yaml" in r.err
    assert state(project) == before and branches(project) == ["refs/heads/main"]
