"""The run cache: restore instead of running, across branches; gc keeps it consistent."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import git
from test_pipeline import runs, set_lr, setup_pipeline

import gitml
from gitml import pointer
from gitml.pipeline import lockfile
from gitml.pipeline.runcache import RunCache


def test_same_inputs_restore_outputs_instead_of_running(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    first = (repo / "models" / "model.txt").read_bytes()
    lock_first = (repo / "gitml.lock").read_bytes()
    set_lr(repo, "0.01")
    assert cli("repro").code == 0 and runs(repo) == 2
    set_lr(repo, "0.1")
    r = cli("repro")
    assert r.code == 0, r.err
    assert "Restored stage 'train' from the run cache (param train.lr 0.01 -> 0.1); " \
           "did not run: mkdir -p models" in r.out
    assert runs(repo) == 2  # the command did not run
    assert (repo / "models" / "model.txt").read_bytes() == first
    assert (repo / "metrics.json").read_text() == '{"acc": 0.5}\n'
    assert (repo / "gitml.lock").read_bytes() == lock_first
    assert all(s.state == "ok" for s in gitml.Repo().status())
    # --no-run-cache runs the command
    set_lr(repo, "0.01")
    r = cli("repro", "--no-run-cache")
    assert "Running stage 'train'" in r.out and runs(repo) == 3


def test_run_cache_works_across_branches(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lr 0.1")
    git(repo, "switch", "-qc", "exp")
    set_lr(repo, "0.2")
    assert cli("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lr 0.2")
    git(repo, "switch", "-q", "main")  # pointers and lock of main; workspace data of exp
    r = cli("repro")
    assert r.code == 0 and "Restored stage 'train'" in r.out and runs(repo) == 2
    assert "lr: 0.1" in (repo / "models" / "model.txt").read_text()
    assert git(repo, "status", "--porcelain") == ""  # exactly main's committed state


def test_restored_dir_output_and_missing_objects_fall_back_to_running(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    os.rename(repo / "data" / "prepared", repo / "moved-away")
    r = cli("repro", "prepare")
    assert "Restored stage 'prepare'" in r.out
    assert (repo / "data" / "prepared" / "sorted.txt").read_text() == "a\nb\nc\n"
    # an entry whose objects are gone is not used: the stage runs
    store = gitml.Repo().store
    model = pointer.load(str(repo / "models" / "model.txt.gitml"))
    os.chmod(store.path(model.oid), 0o644)
    os.unlink(store.path(model.oid))
    (repo / "models" / "model.txt").unlink()
    r = cli("repro")
    assert "Running stage 'train'" in r.out and runs(repo) == 2


def test_dry_run_says_it_would_restore(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    (repo / "models" / "model.txt").unlink()
    r = cli("repro", "--dry")
    assert "train: would restore from the run cache (out models/model.txt missing)" in r.out
    assert not (repo / "models" / "model.txt").exists()


def test_gc_keeps_entries_whose_stored_outputs_stay_and_drops_the_rest(repo: Path,
                                                                       cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lr 0.1")
    set_lr(repo, "0.7")
    assert cli("repro").code == 0
    rc = RunCache(gitml.Repo().store)
    assert len(list(rc.entries())) == 3  # prepare, train at 0.1, train at 0.7
    r = cli("gc")
    assert r.code == 0
    assert len(list(rc.entries())) == 3  # everything is still referenced
    # the 0.7 model is referenced only by the workspace; move back to 0.1 and drop it
    git(repo, "checkout", "-q", "--", "params.yaml", "gitml.lock", "models", "metrics.json")
    assert cli("checkout").code == 0
    r = cli("gc", "--workspace-only", "--force", "--json")
    assert r.code == 0 and json.loads(r.out)["removed"] >= 1
    entries = [e for _, e in rc.entries()]
    assert len(entries) == 2 and all(e is not None for e in entries)
    store = gitml.Repo().store
    for e in entries:  # a kept entry keeps its Git-committed outputs too
        for o in e["outs"]:
            assert store.has(o["pointer"]["hash"])
    set_lr(repo, "0.7")
    r = cli("repro")
    assert "Running stage 'train'" in r.out  # its entry went with its objects
    assert cli("fsck").code == 0


def test_run_cache_entries_are_small_json_under_the_store(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    store = gitml.Repo().store
    files = sorted((Path(store.root) / "runs").rglob("*"))
    files = [f for f in files if f.is_file()]
    assert len(files) == 2 and all(len(f.parent.name) == 2 for f in files)
    entry = json.loads(files[0].read_text())
    assert entry["format"] == "gitml-run" and entry["version"] == 1
    lock = lockfile.load(str(repo))
    stage = entry["stage"]
    for o in entry["outs"]:
        assert lock[stage].outs[o["path"]].oid == o["pointer"]["hash"]
