"""Experiments on a real Ray cluster (issue 20): workers that share only the Git remote (a
``git daemon`` on 127.0.0.1) and the data remote (SeaweedFS S3) with the client.

One cluster for the session (tests/raycluster.py): a head and, where memory allows, a
second node, each in a mount namespace where the test's temp tree (the client's
repositories, stores and home) is an empty tmpfs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import count
from pathlib import Path

import pytest
import raycluster
import s3server
from conftest import git, write
from gitdaemon import GitDaemon
from test_exp_run import make_project
from test_remote import add_remote, s3  # noqa: F401 - the S3 server fixture

import gitml
from gitml import pointer
from gitml.pipeline.runcache import parse_entry, pointers

pytest.importorskip("ray")  # the test extra installs it; a plain install has no Ray

TRAIN = """\
import json, os, sys
import yaml
p = yaml.safe_load(open("params.yaml"))["train"]
data = open("data/raw.txt").read()
if p.get("fail"):
    print("epoch 1 loss 0.9", flush=True)
    sys.stderr.write("epoch 2: loss is nan\\nboom: training diverged\\n")
    sys.exit(3)
os.makedirs("models", exist_ok=True)
json.dump({"lr": p["lr"], "data": data, "nonce": os.urandom(8).hex(), "cwd": os.getcwd(),
           "sees_client": os.path.exists(p["probe"]), "home": os.environ.get("HOME")},
          open("models/model.txt", "w"))
json.dump({"val": {"acc": round(1 - p["lr"], 4)}}, open("metrics.json", "w"))
print("trained", p["lr"])
"""
_names = count(1)


def _memory_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / (1 << 20)
    return 0.0


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3: s3server.S3Server):  # noqa: F811
    """A head with 2 CPUs and (with 6 GiB free) a second node with 1 CPU, the custom
    resource 'second' and a node cache (GITML_WORKER_CACHE); workers get S3 credentials
    from their environment, as on a real cluster, and see nothing of the test's temp tree."""
    creds = {k: v for k, v in s3.env().items() if k != "AWS_ENDPOINT_URL"}
    c = raycluster.RayCluster([tmp_path_factory.getbasetemp()], env=creds)
    c.start(cpus=2, second=1 if _memory_gib() >= 6 else 0,
            second_env={"GITML_WORKER_CACHE": str(c.root / "node2-cache")})
    yield c
    import ray

    if ray.is_initialized():
        ray.shutdown()
    c.destroy()


class Team:
    """The client's clone (cwd), its Git remote served by git daemon, its data remote."""

    def __init__(self, root: Path, origin: Path, daemon: GitDaemon,
                 data: s3server.RemoteHandle) -> None:
        self.root, self.origin, self.daemon, self.data = root, origin, daemon, data

    def remote_refs(self) -> dict[str, str]:
        out = git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split() for line in out.splitlines())


@pytest.fixture
def team(repo: Path, tmp_path: Path, cli, request, cluster):  # type: ignore[no-untyped-def]
    make_project(repo, cli, train=TRAIN,
                 params=f"train:\n  lr: 0.5\n  fail: false\n  probe: {repo}\n")
    data = add_remote("s3", repo, tmp_path, cli, request)  # machine-local settings
    assert not git(repo, "status", "--porcelain")
    served = tmp_path / "served"
    git(tmp_path, "init", "-q", "--bare", str(served / "origin.git"))
    daemon = GitDaemon(served, push=True)
    daemon.start("origin.git")
    request.addfinalizer(daemon.stop)
    git(repo, "remote", "add", "origin", daemon.url("origin.git"))
    git(repo, "push", "-q", "origin", "main")
    assert cli("config", "--local", "exp.ray.address", cluster.address).code == 0
    return Team(repo, served / "origin.git", daemon, data)


def exp_rows(cli) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = cli("exp", "show", "--json")
    assert r.code == 0, r.err
    return {row["name"]: row for row in json.loads(r.out)}


def model(rev: str) -> dict:  # type: ignore[type-arg]
    return json.loads(gitml.api.read("models/model.txt", rev=rev))


def scratch_left(cluster) -> list[str]:  # type: ignore[no-untyped-def]
    base = cluster.scratch
    return sorted(os.listdir(base)) if base.exists() else []


def test_workers_share_only_the_remotes_and_results_come_home_like_local_runs(
        team: Team, cluster, cli) -> None:
    repo = team.root
    write(repo / "data" / "raw.txt", "a b c d e f\n")  # changed, uncommitted: carried along
    r = cli("exp", "run", "--queue", "-S", "train.lr=0.1,0.2")
    assert r.code == 0, r.err
    r = cli("exp", "run", "--run-all", "--executor", "ray")
    assert r.code == 0, r.err
    assert "Submitted 2 experiments to the Ray cluster at" in r.out
    assert f"[exp-1] running on {raycluster.IP} (node " in r.out
    assert "[exp-2] done in" in r.out
    assert "Experiment exp-1 done in" in r.out and "2 of 2 experiments done" in r.out

    rows = exp_rows(cli)
    assert list(rows) == ["main", "exp-1", "exp-2"]  # local branches, like local runs
    assert rows["exp-2"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert rows["exp-1"]["metrics"]["metrics.json"]["val.acc"] == 0.9
    assert "refs/gitml/queue" not in git(repo, "for-each-ref")
    assert git(repo, "log", "-1", "--format=%an <%ae>", "exp-1").strip() == \
        "gitml tests <tests@gitml.invalid>"  # the client's identity; workers have none

    # provenance: made on a worker, in its scratch, that could not see the client's files
    ptr = pointer.loads(git(repo, "show", "exp-1:models/model.txt.gitml"), "x")
    store = gitml.Repo().store
    assert not store.has(ptr.oid)  # never in the client's store: it came via the remote
    m = model("exp-1")
    assert m["sees_client"] is False
    assert m["cwd"].startswith(str(cluster.scratch)) and str(repo) not in m["cwd"]
    assert m["home"] == str(cluster.root / "home")
    assert (m["lr"], m["data"]) == (0.1, "a b c d e f\n")
    assert store.has(ptr.oid)  # read fetched it, verified

    refs = team.remote_refs()
    assert {"refs/heads/exp-1", "refs/heads/exp-2"} <= set(refs)
    assert not [x for x in refs if x.startswith("refs/gitml/")]  # tickets gone
    assert len(team.data.keys("runs")) == 3  # run-cache entries: the base's (shipped), 2 new
    assert scratch_left(cluster) == []

    # the same params again: restored on a worker from the data remote's run cache
    r = cli("exp", "run", "-S", "train.lr=0.1", "--executor", "ray", "--json")
    assert r.code == 0, r.err
    (res,) = json.loads(r.out)
    assert (res["name"], res["status"]) == ("exp-3", "done")
    assert model("exp-3") == m  # same nonce: not run again


def test_a_failed_stage_comes_back_as_a_local_failure_does_and_keep_failed_pushes_it(
        team: Team, cli) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gitml", "exp", "run", "-S",
                               "train.fail=true", *args], cwd=team.root, capture_output=True,
                              text=True)

    local, remote = run("-n", "here"), run("-n", "there", "--executor", "ray")
    assert local.returncode == remote.returncode == 1
    error = f"error: stage 'train' failed: exit code 3 from: {sys.executable} train.py"
    tail = ["epoch 2: loss is nan", "boom: training diverged",
            f"Stage 'train' failed: {error.split(': ', 2)[2]}",
            "Experiment {} failed (no branch made)", error]
    assert local.stderr.splitlines()[-5:] == [t.format("here") for t in tail]
    assert remote.stderr.splitlines()[-5:] == [t.format("there") for t in tail], remote.stderr
    r = cli("exp", "run", "-S", "train.fail=true", "--executor", "ray", "--json")
    assert r.code == 1, r.err
    (got,) = json.loads(r.out)
    assert got["status"] == "failed" and got["commit"] is None
    assert got["error"] == error.removeprefix("error: ")
    assert got["log"] == "epoch 1 loss 0.9\nepoch 2: loss is nan\nboom: training diverged\n"

    r = cli("exp", "run", "-S", "train.fail=true", "-n", "bad", "--keep-failed", "--executor",
            "ray")
    assert r.code == 1
    assert "boom: training diverged" in r.err
    assert "Experiment bad failed (kept as branch bad, marked failed" in r.err
    assert "refs/heads/bad" in team.remote_refs()
    assert exp_rows(cli)["bad"]["status"] == "failed"


def _wait_reached(gate: Path, timeout: float = 120) -> int:
    reached = Path(str(gate) + ".reached")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reached.exists() and reached.read_text().strip():
            return int(reached.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{reached} never appeared")


def test_a_worker_killed_mid_task_is_retried_and_the_experiment_completes_once(
        team: Team, cluster, cli, monkeypatch) -> None:
    gate = cluster.gates / f"kill-{next(_names)}"
    monkeypatch.setenv("GITML_WORKER_FAULT", f"exp.ran:wait={gate}")
    assert cli("exp", "run", "--queue", "-S", "train.lr=0.3").code == 0
    assert cli("exp", "run", "--run-all", "--executor", "ray", "--detach").code == 0
    pid = _wait_reached(gate)  # the stage ran; the worker has not committed yet
    os.kill(pid, signal.SIGKILL)
    gate.touch()  # the retry passes the same point
    r = cli("exp", "wait")
    assert r.code == 0, r.err
    assert "[exp-1] running on" in r.out and "(attempt 2: the last worker died)" in r.out
    assert "Experiment exp-1 done" in r.out
    assert [n for n in exp_rows(cli) if n != "main"] == ["exp-1"]
    assert [x for x in team.remote_refs() if "exp-1" in x] == ["refs/heads/exp-1"]
    assert model("exp-1")["lr"] == 0.3
    deadline = time.monotonic() + 30  # the next task on a node removes the dead one's
    assert cli("exp", "run", "-S", "train.lr=0.35", "--executor", "ray", "-q").code == 0
    while scratch_left(cluster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scratch_left(cluster) == []


def test_a_worker_that_cannot_reach_the_data_remote_fails_and_writes_nothing_half(
        team: Team, cluster, cli, monkeypatch, tmp_path: Path) -> None:
    # a data remote of its own, stopped while the worker has results to push
    srv = s3server.S3Server(tmp_path / "s3b")
    srv.start()
    try:
        url = f"s3://{srv.bucket}/b/store"
        for args in (("remote", "add", "solo", url), ("remote", "modify", "solo", "endpoint_url",
                     srv.endpoint), ("remote", "modify", "solo", "retries", "1")):
            assert cli(*args).code == 0
        for k, v in (("access_key_id", srv.access_key), ("secret_access_key", srv.secret_key)):
            assert cli("remote", "modify", "--local", "solo", k, v).code == 0
        assert cli("config", "--local", "core.remote", "solo").code == 0
        gate = cluster.gates / f"s3-{next(_names)}"
        monkeypatch.setenv("GITML_WORKER_FAULT", f"exp.ran:wait={gate}")
        proc = subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "-S",
                                 "train.lr=0.4", "--executor", "ray"], cwd=team.root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_reached(gate)
        srv.kill()  # the data remote is gone for the worker
        gate.touch()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 1, (out, err)
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: cannot reach the data remote 'solo' to push the "
                               "results (no branch was pushed):"), err
        srv.start()
        handle = s3server.RemoteHandle("s3", url, server=srv)
        stored = handle.objects()
        for key, data in handle.keys("runs").items():  # an entry only with its objects
            k = key.replace("/", "")[len("runs"):]
            outs = pointers(parse_entry(k, data, "remote"), key)
            assert all(ptr.oid in stored for _, ptr in outs), key
        assert "refs/heads/exp-1" not in team.remote_refs()  # no branch without its data
        assert "exp-1" not in exp_rows(cli)
        assert scratch_left(cluster) == []
    finally:
        srv.destroy()


def test_a_worker_that_cannot_reach_the_git_remote_fails_with_its_data_sent_and_no_branch(
        team: Team, cluster, cli, monkeypatch) -> None:
    gate = cluster.gates / f"git-{next(_names)}"
    monkeypatch.setenv("GITML_WORKER_FAULT", f"exp.ran:wait={gate}")
    url = team.daemon.url("origin.git")
    proc = subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "-S", "train.lr=0.45",
                             "--executor", "ray"], cwd=team.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_reached(gate)
    team.daemon.stop()  # the Git remote is gone when the worker records its result
    gate.touch()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, (out, err)
    assert err.strip().splitlines()[-1].startswith(
        f"error: cannot reach the Git remote {url}:"), err
    assert "[exp-1] failed after" in out
    assert "refs/heads/exp-1" not in team.remote_refs()  # no branch; its data went first
    assert "exp-1" not in exp_rows(cli)
    assert scratch_left(cluster) == []

    # the ticket the client could not delete is named, with the command that removes it
    monkeypatch.delenv("GITML_WORKER_FAULT")
    team.daemon.start("origin.git")
    git(team.root, "remote", "set-url", "origin", team.daemon.url("origin.git"))
    r = cli("exp", "run", "-S", "train.lr=0.46", "--executor", "ray")
    assert r.code == 2
    assert r.err.strip() == ("error: origin already has another queued run named exp-1 (from "
                             "another clone, or left by a run that lost the Git remote): "
                             "rename yours, or remove it there (git push origin "
                             ":refs/gitml/queue/exp-1)")
    git(team.root, "push", "-q", "origin", ":refs/gitml/queue/exp-1")
    r = cli("exp", "run", "--run-all", "--executor", "ray")  # still queued here
    assert r.code == 0, r.err
    assert model("exp-1")["lr"] == 0.46


def test_ctrl_c_cancels_the_submitted_tasks_and_says_what_finished(
        team: Team, cluster, cli) -> None:
    gate = cluster.gates / f"int-{next(_names)}"
    assert cli("exp", "run", "--queue", "-S", "train.lr=0.6,0.7").code == 0
    env = dict(os.environ, GITML_WORKER_FAULT=f"exp.worktree:wait={gate}")
    proc = subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "--run-all",
                             "--executor", "ray"], cwd=team.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_reached(gate)  # a task is running, stopped at a fixed point
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == (
        "error: interrupted: cancelled 2 experiments (exp-1, exp-2); finished before: none")
    assert not [x for x in team.remote_refs() if "exp-" in x]  # no branch, no ticket
    names = [q for q in git(team.root, "for-each-ref", "--format=%(refname)",
                            "refs/gitml/queue").split()]
    assert names == ["refs/gitml/queue/exp-1", "refs/gitml/queue/exp-2"]  # still queued
    deadline = time.monotonic() + 30
    while scratch_left(cluster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scratch_left(cluster) == []  # the cancelled task cleaned its scratch up


def test_detach_then_status_and_wait(team: Team, cluster, cli, monkeypatch) -> None:
    gate = cluster.gates / f"st-{next(_names)}"
    monkeypatch.setenv("GITML_WORKER_FAULT", f"exp.worktree:wait={gate}")
    resources = ["--resources", "cpu=1,second=1"] if len(cluster.nodes) > 1 else []
    r = cli("exp", "run", "-S", "train.lr=0.8", "--executor", "ray", "--detach", *resources)
    assert r.code == 0, r.err
    assert "Follow them with: gitml exp status --executor ray" in r.out
    _wait_reached(gate)
    r = cli("exp", "status", "--executor", "ray", "--json")
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)
    assert (row["name"], row["state"]) == ("exp-1", "running")
    assert row["where"].startswith(raycluster.IP)
    r = cli("exp", "status", "--executor", "ray")
    assert r.out.splitlines()[0].split() == ["Experiment", "State", "Where", "Elapsed", "Error"]
    assert "exp-1" in r.out and "running" in r.out
    gate.touch()
    r = cli("exp", "wait")
    assert r.code == 0, r.err
    assert "Experiment exp-1 done" in r.out
    assert "exp-1" in exp_rows(cli)
    assert "Nothing of this clone's is on the cluster." in cli("exp", "status", "--executor",
                                                                "ray").out
    if resources:  # the custom resource only the second node has
        second = [n for n in _nodes() if n["Resources"].get("second")][0]["NodeID"][:8]
        assert f"(node {second})" in row["where"]
        # that node keeps its store: the input and the new model stay there, verified
        # when read; nothing of the run's scratch is left
        from gitml.store import Store

        node = Store(str(cluster.root / "node2-cache"))
        for path in ("data/raw.txt", "models/model.txt"):
            ptr = pointer.loads(git(team.root, "show", f"exp-1:{path}.gitml"), "x")
            assert node.read_bytes(ptr.oid) == gitml.api.read(path, rev="exp-1")
        assert scratch_left(cluster) == []


def _nodes() -> list[dict]:  # type: ignore[type-arg]
    import ray

    return ray.nodes()


def test_bad_input_is_one_line_and_submits_nothing(team: Team, cli, monkeypatch) -> None:
    def one_line(r, code: int, text: str) -> None:  # type: ignore[no-untyped-def]
        assert r.code == code, (r.code, r.err)
        lines = r.err.strip().splitlines()
        assert text in lines[0], r.err

    one_line(cli("exp", "run", "--run-all", "--address", "x:1"), 2,
             "--address goes with --executor ray")
    one_line(cli("exp", "run", "-S", "train.lr=0.1", "--executor", "ray", "--resources",
                 "cpu"), 2, "malformed --resources item 'cpu'")
    one_line(cli("exp", "run", "-S", "train.lr=0.1", "--executor", "ray", "--resources",
                 "memory=lots"), 2, "--resources memory: expected an amount")
    one_line(cli("exp", "run", "-S", "train.lr=0.1", "--detach"), 2,
             "--detach goes with --executor ray")
    git(team.root, "remote", "set-url", "origin", "https://me:hunter2@example.invalid/r.git")
    one_line(cli("exp", "run", "-S", "train.lr=0.1", "--executor", "ray"), 2,
             "the URL of Git remote 'origin' holds a password")
    assert "hunter2" not in cli("exp", "run", "-S", "train.lr=0.1", "--executor", "ray").err
    git(team.root, "remote", "set-url", "origin", team.daemon.url("origin.git"))
    assert not [x for x in team.remote_refs() if "gitml" in x]
    # without Ray installed: one line saying how to get it
    code = ("import sys; sys.modules['ray'] = None\n"
            "from gitml.cli.main import main\n"
            "main(['exp', 'run', '-S', 'train.lr=0.1', '--executor', 'ray'])")
    p = subprocess.run([sys.executable, "-c", code], cwd=team.root, capture_output=True,
                       text=True)
    assert p.returncode == 2
    assert p.stderr.strip() == "error: the ray executor needs Ray: pip install 'gitml[ray]'"
