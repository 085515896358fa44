"""A `gitml repro` killed with SIGKILL leaves its stage running; the next run must not run
the stage beside it and record the mixed output of both (issue 19, item 5)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import git, write

from gitml.errors import LockError
from gitml.pipeline.runner import check_not_running

STAGE = ("stages:\n  train:\n    cmd: echo start >> log.txt; "
         "while [ ! -f gate ]; do sleep 0.02; done; echo end >> log.txt; cp log.txt out.txt\n"
         "    outs: [out.txt]\n")


def repro(root: Path, fault: str = "", timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``gitml repro`` with its output in files: a stage left running keeps a pipe open."""
    env = dict(os.environ, GITML_FAULT=fault) if fault else dict(os.environ)
    out, err = root.parent / "repro.out", root.parent / "repro.err"
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.run([sys.executable, "-m", "gitml.cli.main", "repro"], cwd=root,
                           env=env, stdout=o, stderr=e, timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(), err.read_text())


def test_a_killed_repro_leaves_a_stage_the_next_run_refuses_to_race(repo: Path) -> None:
    write(repo / "gitml.yaml", STAGE)
    git(repo, "add", "gitml.yaml")
    git(repo, "commit", "-q", "-m", "stage")
    try:
        killed = repro(repo, fault="repro.stage-started:kill")  # the stage has started
        assert killed.returncode == -signal.SIGKILL

        again = repro(repo, timeout=20)  # at once: the orphan still waits for its gate
        assert again.returncode == 2, again.stdout + again.stderr
        m = re.search(r"stage 'train' is still running \(process group (\d+)", again.stderr)
        assert m and again.stderr.count("\n") == 1, again.stderr
        assert f"kill -- -{m.group(1)}" in again.stderr
        assert (repo / "log.txt").read_text() == "start\n"  # the refused run started nothing
        assert not (repo / "gitml.lock").exists()

        (repo / "gate").touch()  # let the orphan finish, and wait until it has let go
        deadline = time.monotonic() + 30
        while True:
            try:
                check_not_running(str(repo), ["train"])
                break
            except LockError:
                assert time.monotonic() < deadline, "the orphaned stage never ended"
                time.sleep(0.02)
    finally:
        (repo / "gate").touch()  # never leave the orphan waiting, even on failure

    done = repro(repo)
    assert done.returncode == 0, done.stderr
    # one run after the other, never interleaved; the recorded output is a whole run's
    assert (repo / "log.txt").read_text().split() == ["start", "end", "start", "end"]
    assert (repo / "out.txt").read_text().split() == ["start", "end", "start", "end"]
    assert "train" in (repo / "gitml.lock").read_text()


def test_a_stage_the_lock_does_not_outlive(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "stages:\n  s:\n    cmd: echo hi > o.txt\n    outs: [o.txt]\n")
    assert cli("repro").code == 0
    check_not_running(str(repo), ["s"])  # released when the run ends
    assert cli("repro", "--force").code == 0
