"""Executors without a cluster (issue 20): the local executor's status, resources asked
by stages and by --resources, and the ray executor's refusals before anything is made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write
from test_exp_run import make_project

from gitml.errors import BadInputError
from gitml.experiments.executors.base import parse_resources


def test_resources_parse_with_units_and_refuse_nonsense() -> None:
    assert parse_resources("cpu=2, gpu=0.5,memory=4GiB,tpu=1") == {
        "cpu": 2.0, "gpu": 0.5, "memory": float(4 << 30), "tpu": 1.0}
    assert parse_resources("memory=512MiB")["memory"] == float(512 << 20)
    for bad, why in (("cpu", "malformed --resources item 'cpu'"),
                     ("cpu=two", "--resources cpu: expected an amount"),
                     ("gpu=1GiB", "--resources gpu: expected an amount"),
                     ("cpu=-1", "--resources cpu: expected an amount"),
                     ("9x=1", "'9x' is not a resource name")):
        with pytest.raises(BadInputError) as e:
            parse_resources(bad)
        assert why in str(e.value)


def test_stage_resources_are_read_and_checked(project: Path, cli) -> None:
    text = (project / "gitml.yaml").read_text()
    write(project / "gitml.yaml", text.replace("    metrics: [metrics.json]\n",
                                               "    metrics: [metrics.json]\n"
                                               "    resources: {cpu: 2, memory: 1GiB}\n", 1))
    r = cli("dag", "--json")
    assert r.code == 0, r.err
    assert "resources" in r.out
    from gitml.pipeline.loader import load
    from gitml.repo import Repo

    assert load(Repo()).stages["train"].resources == (("cpu", 2.0), ("memory", float(1 << 30)))
    write(project / "gitml.yaml", text.replace("    metrics: [metrics.json]\n",
                                               "    metrics: [metrics.json]\n"
                                               "    resources: {cpu: lots}\n", 1))
    r = cli("repro")
    assert r.code == 2
    assert "resources.cpu: expected an amount" in r.err and len(r.err.splitlines()) == 1


def test_local_status_lists_the_queue_and_detach_needs_a_cluster(project: Path, cli) -> None:
    assert "Nothing queued or running." in cli("exp", "status").out
    assert cli("exp", "run", "--queue", "-S", "train.lr=0.2,0.3").code == 0
    r = cli("exp", "status", "--json")
    assert [(d["name"], d["state"]) for d in json.loads(r.out)] == [("exp-1", "queued"),
                                                                    ("exp-2", "queued")]
    r = cli("exp", "run", "--run-all", "--detach")
    assert r.code == 2 and "--detach goes with --executor ray" in r.err
    r = cli("exp", "run", "--queue", "-S", "train.lr=0.4", "--executor", "ray")
    assert r.code == 2 and "--queue only queues" in r.err
    r = cli("exp", "status", "--address", "h:1")
    assert r.code == 2 and "--address goes with --executor ray" in r.err


def test_ray_executor_refuses_before_queuing(project: Path, cli, monkeypatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    r = cli("exp", "run", "-S", "train.lr=0.2", "--executor", "ray")
    assert r.code == 2 and "no Ray cluster to submit to" in r.err
    r = cli("exp", "run", "-S", "train.lr=0.2", "--executor", "ray", "--address", "h:1")
    assert r.code == 2 and "has no remote 'origin'" in r.err
    git(project, "remote", "add", "origin", str(project.parent / "nowhere.git"))
    r = cli("exp", "run", "-S", "train.lr=0.2", "--executor", "ray", "--address", "h:1")
    assert r.code == 2 and "no remote given and no default remote" in r.err
    assert "refs/gitml/queue" not in git(project, "for-each-ref")  # nothing queued


def test_start_up_and_local_commands_do_not_import_ray(project: Path) -> None:
    # --version, the exp group's help, exp run's help and a local status stay lean
    code = ("import sys\nfrom gitml.cli.main import main\n"
            "for args in (['--version'], ['exp', '--help'], ['exp', 'run', '--help'],\n"
            "             ['exp', 'status']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "print('RAY' if 'ray' in sys.modules else 'LEAN')")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, check=True).stdout
    assert "--executor [local|ray]" in out
    assert out.strip().endswith("LEAN")


@pytest.fixture
def project(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    make_project(repo, cli)
    return repo
