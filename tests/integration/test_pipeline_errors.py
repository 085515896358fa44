"""Bad gitml.yaml, bad graphs, failing and interrupted stages (issue 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, write
from test_pipeline import PIPELINE, runs, set_lr, setup_pipeline

from gitml.pipeline import lockfile

GITML = [sys.executable, "-c", "from gitml.cli.main import main; main()"]


def snapshot(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for f in files:
            p = Path(dirpath) / f
            if "index" not in f and "stamp" not in f:
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


@pytest.mark.parametrize(("yaml_text", "message"), [
    (PIPELINE.replace("    deps: [data/raw.txt]", "    dep: [data/raw.txt]"),
     "gitml.yaml: stage 'prepare': dep: unknown key (did you mean 'deps'?)"),
    ("stages:\n  s:\n    deps: [a]\n",
     "gitml.yaml: stage 's': cmd: missing (every stage needs the command to run)"),
    ("stages:\n  s:\n    cmd: echo ${train.lrr}\n",
     "gitml.yaml: stage 's': cmd: ${train.lrr} is not defined (no 'lrr' in train)"),
    ("stages:\n  s:\n    cmd: echo ${train}\n",
     "gitml.yaml: stage 's': cmd: ${train} is a dict; only a whole value can be a list or "
     "mapping"),
    ("stages:\n  s:\n    cmd: echo ${train.lr > out.txt\n",
     "gitml.yaml: stage 's': cmd: unclosed ${ in 'echo ${train.lr > out.txt'"),
    ("stages:\n  s:\n    cmd: echo\n    outs: [x, {y: {cahce: false}}]\n",
     "gitml.yaml: stage 's': outs.y.cahce: unknown option (did you mean 'cache'?)"),
    ("stages:\n  s:\n    cmd: echo\n    outs: [../x]\n",
     "gitml.yaml: stage 's': outs: '../x' is outside the repository"),
    ("stages:\n  s:\n    cmd: echo\n    frozen: yes please\n",
     "gitml.yaml: stage 's': frozen: expected true or false, not 'yes please'"),
    ("stages:\n  s:\n    cmd: [echo\n", "gitml.yaml: invalid YAML (line 4, column 1)"),
    ("stagse:\n  s:\n    cmd: echo\n", "gitml.yaml: unknown top-level key 'stagse'"),
    ("stages:\n  s:\n    foreach: 3\n    do: {cmd: echo}\n",
     "gitml.yaml: stage 's': foreach: expected a list or a mapping, not 3"),
])
def test_bad_gitml_yaml_is_one_line_exit_2_and_changes_nothing(repo: Path, cli, yaml_text: str,
                                                                message: str) -> None:
    setup_pipeline(repo, yaml_text)
    before = snapshot(repo)
    for args in (("repro",), ("status",), ("dag",)):
        r = cli(*args)
        assert r.code == 2, (args, r.out, r.err)
        assert r.err.startswith("error: " + message), r.err
        assert len(r.err.strip().splitlines()) == 1
    assert snapshot(repo) == before


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("stages:\n  a:\n    cmd: echo\n    deps: [y]\n    outs: [x]\n"
     "  b:\n    cmd: echo\n    deps: [x]\n    outs: [y]\n",
     "the pipeline has a cycle: "),
    ("stages:\n  a:\n    cmd: echo\n    outs: [x]\n  b:\n    cmd: echo\n    outs: [x]\n",
     "stages 'a' and 'b' both write x"),
    ("stages:\n  a:\n    cmd: echo\n    outs: [d]\n  b:\n    cmd: echo\n    outs: [d/f]\n",
     "output d/f of stage 'b' is inside output d of stage 'a'"),
    ("stages:\n  a:\n    cmd: echo\n    deps: [nowhere.csv]\n    outs: [x]\n",
     "stage 'a' depends on nowhere.csv, which does not exist and no stage writes it"),
    ("stages:\n  a:\n    cmd: echo\n    deps: [x]\n    outs: [x]\n",
     "gitml.yaml: stage 'a': outs: x is both a dep and an output of the stage"),
])
def test_bad_graph_is_a_clear_error_naming_the_stages(repo: Path, cli, yaml_text: str,
                                                      message: str) -> None:
    write(repo / "gitml.yaml", yaml_text)
    r = cli("repro")
    assert r.code == 2 and r.err.startswith("error: " + message), r.err
    assert not (repo / "gitml.lock").exists()
    if "cycle" in message:
        assert "a -> b -> a" in r.err or "b -> a -> b" in r.err


def test_failing_stage_stops_the_run_and_records_nothing(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    lock_before = (repo / "gitml.lock").read_bytes()
    pointer_before = (repo / "models" / "model.txt.gitml").read_bytes()
    write(repo / "data" / "raw.txt", "x\ny\n")
    text = (repo / "gitml.yaml").read_text().replace(
        "&& echo train >> runs.log", "&& echo half > models/model.txt && exit 3")
    write(repo / "gitml.yaml", text)
    r = cli("repro")
    assert r.code == 1
    assert r.err.strip().splitlines() == [
        "error: stage 'train' failed: exit code 3 from: mkdir -p models && cat "
        "data/prepared/sorted.txt params.yaml > models/model.txt && echo '{\"acc\": 0.5}' > "
        "metrics.json && echo half > models/model.txt && exit 3"]
    lock = lockfile.load(str(repo))
    # prepare ran and kept its result; train's entry and pointer are the old ones
    assert lock["prepare"].deps["data/raw.txt"] != lockfile.loads(lock_before)["prepare"].deps[
        "data/raw.txt"]
    assert lock["train"] == lockfile.loads(lock_before)["train"]
    assert (repo / "models" / "model.txt.gitml").read_bytes() == pointer_before
    assert (repo / "models" / "model.txt").read_text() == "half\n"  # not stored
    r = cli("status")
    assert "train: cmd changed" in r.out


def test_keep_going_runs_what_does_not_depend_on_the_failure(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "stages:\n  bad:\n    cmd: exit 5\n    outs: [b.txt]\n"
          "  after:\n    cmd: echo > c.txt\n    deps: [b.txt]\n    outs: [c.txt]\n"
          "  good:\n    cmd: echo ok > g.txt\n    outs: [g.txt]\n")
    r = cli("repro")
    assert r.code == 1 and "Stage 'after' not run: upstream 'bad' failed" in r.out
    assert "Stage 'good' not run: stopped after a failure" in r.out
    r = cli("repro", "-k", "--json")
    assert r.code == 1
    import json

    actions = {s["stage"]: s["action"] for s in json.loads(r.out)["stages"]}
    assert actions == {"bad": "failed", "after": "skipped", "good": "done"}
    assert set(lockfile.load(str(repo))) == {"good"}


def test_stage_that_does_not_write_an_output_fails(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "stages:\n  s:\n    cmd: echo hi\n    outs: [never.txt]\n")
    r = cli("repro")
    assert r.code == 1
    assert "stage 's' failed: it did not write its output never.txt" in r.err
    assert not (repo / "gitml.lock").exists()


def test_missing_param_is_reported_and_stops_the_stage(repo: Path, cli) -> None:
    setup_pipeline(repo, PIPELINE.replace("params: [train]", "params: [train.momentum]"))
    r = cli("repro")
    assert r.code == 1 and "stage 'train' failed: cannot run: param train.momentum is not in " \
                           "params.yaml" in r.err


def test_output_tracked_by_git_is_refused_before_running(repo: Path, cli) -> None:
    setup_pipeline(repo)
    write(repo / "models" / "model.txt", "committed")
    git(repo, "add", "models/model.txt")
    r = cli("repro")
    assert r.code == 2 and "output models/model.txt of stage 'train' is tracked by Git" in r.err
    assert runs(repo) == 0


def test_malformed_lock_file_is_named(repo: Path, cli) -> None:
    setup_pipeline(repo)
    write(repo / "gitml.lock", "gitml-lock: 1\nstages:\n  train:\n    cmd: x\n"
          "    deps: [{path: ../../etc/passwd, hash: 'xxh3:00', size: 1}]\n")
    r = cli("repro")
    assert r.code == 2 and r.err.startswith("error: gitml.lock: stage 'train'.deps: malformed")
    write(repo / "gitml.lock", "<<<<<<< HEAD\n")
    assert cli("status").err.startswith("error: gitml.lock: ")


def _run(repo: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITML, *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_ctrl_c_stops_the_stage_and_records_nothing_for_it(repo: Path, cli) -> None:
    setup_pipeline(repo)
    # the train command interrupts gitml itself (its parent), then would run for a minute
    text = PIPELINE.replace("&& echo train >> runs.log",
                            "&& echo half > models/model.txt && kill -INT $PPID && sleep 60")
    write(repo / "gitml.yaml", text)
    t0 = time.monotonic()
    p = _run(repo, "repro")
    assert time.monotonic() - t0 < 30  # the stage was stopped, not waited for
    assert p.returncode == 130, p.stderr
    assert "interrupted: stage 'train' was stopped and recorded nothing" in p.stderr
    lock = lockfile.load(str(repo))
    assert set(lock) == {"prepare"}  # the finished stage kept its result
    assert not (repo / "models" / "model.txt.gitml").exists()


def test_killed_between_storing_and_the_lock_leaves_a_usable_repo(repo: Path, cli) -> None:
    setup_pipeline(repo)
    p = _run(repo, "repro", env={"GITML_FAULT": "repro.outputs-stored:kill@2"})
    assert p.returncode == -9
    assert set(lockfile.load(str(repo))) == {"prepare"}
    assert runs(repo) == 1
    r = cli("repro")
    assert r.code == 0 and "Running stage 'train'" in r.out  # nothing recorded: it runs again
    assert cli("fsck").code == 0


def test_hardlinked_outputs_are_never_written_through(repo: Path, cli) -> None:
    assert cli("config", "core.link", "hardlink").code == 0
    setup_pipeline(repo)
    assert cli("repro").code == 0
    assert os.stat(repo / "models" / "model.txt").st_nlink == 2
    set_lr(repo, "0.3")
    assert cli("repro").code == 0
    set_lr(repo, "0.1")
    r = cli("repro", "--no-run-cache")
    assert r.code == 0 and "Running stage 'train'" in r.out
    assert cli("fsck").code == 0  # the old object was not overwritten in place
