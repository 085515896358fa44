"""gitml repro / status / gitml.lock on real repositories (issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, write

import gitml
from gitml import pipeline, pointer
from gitml.pipeline import lockfile

PIPELINE = """\
stages:
  prepare:
    cmd: mkdir -p data/prepared && sort data/raw.txt > data/prepared/sorted.txt && echo prepared
    deps: [data/raw.txt]
    params: [prepare.split]
    outs: [data/prepared]
  train:
    cmd: >-
      mkdir -p models && cat data/prepared/sorted.txt params.yaml > models/model.txt
      && echo '{"acc": 0.5}' > metrics.json && echo train >> runs.log
    deps: [data/prepared]
    params: [train]
    outs: [models/model.txt]
    metrics: [metrics.json]
"""
PARAMS = "prepare:\n  split: 2\ntrain:\n  lr: 0.1\n  epochs: 2\n"


def setup_pipeline(root: Path, yaml_text: str = PIPELINE) -> None:
    write(root / "data" / "raw.txt", "b\na\nc\n")
    write(root / "params.yaml", PARAMS)
    write(root / "gitml.yaml", yaml_text)
    write(root / ".gitignore", "runs.log\n")  # counts command runs; never committed


def runs(root: Path) -> int:
    p = root / "runs.log"
    return len(p.read_text().splitlines()) if p.exists() else 0


def set_lr(root: Path, lr: str) -> None:
    text = (root / "params.yaml").read_text()
    import re

    (root / "params.yaml").write_text(re.sub(r"lr: \S+", f"lr: {lr}", text))


def test_repro_runs_in_order_stores_outs_and_writes_lock(repo: Path, cli) -> None:
    setup_pipeline(repo)
    r = cli("repro")
    assert r.code == 0, r.err
    assert r.out.index("Running stage 'prepare'") < r.out.index("Running stage 'train'")
    assert "git add" in r.out and "gitml.lock" in r.out and "metrics.json" in r.out
    # stage outputs are ordinary tracked paths: pointer + .gitignore, bytes in the store
    ptr = pointer.load(str(repo / "models" / "model.txt.gitml"))
    assert gitml.Repo().store.has(ptr.oid)
    assert "/model.txt" in (repo / "models" / ".gitignore").read_text().splitlines()
    assert pointer.load(str(repo / "data" / "prepared.gitml")).kind == "dir"
    # metrics are Git's: no pointer, not ignored
    assert not (repo / "metrics.json.gitml").exists()
    assert "metrics.json" not in git(repo, "status", "--porcelain", "--ignored", "metrics.json"
                                     ).replace("?? metrics.json", "")
    lock = lockfile.load(str(repo))
    assert lock["train"].params == {"params.yaml": {"train.epochs": 2, "train.lr": 0.1}}
    assert lock["train"].outs["models/model.txt"].oid == ptr.oid
    assert lock["train"].deps["data/prepared"] == lock["prepare"].outs["data/prepared"]
    assert "metrics.json" in lock["train"].uncached
    # nothing to do the second time: nothing runs, nothing is rewritten
    before = (repo / "gitml.lock").stat().st_mtime_ns
    r = cli("repro")
    assert r.code == 0 and "Pipeline is up to date" in r.out
    assert runs(repo) == 1 and (repo / "gitml.lock").stat().st_mtime_ns == before
    assert all(s.state == "ok" for s in gitml.Repo().status())


def test_lock_is_canonical_and_hashes_match_gitml_add(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("add", "data/raw.txt").code == 0
    assert cli("repro").code == 0
    text = (repo / "gitml.lock").read_text()
    assert text.startswith("gitml-lock: 1\nstages:\n  prepare:\n")
    assert text.index("  prepare:") < text.index("  train:")
    assert lockfile.dumps(lockfile.loads(text)) == text  # round trip is byte-identical
    lock = lockfile.load(str(repo))
    raw = pointer.load(str(repo / "data" / "raw.txt.gitml"))
    assert lock["prepare"].deps["data/raw.txt"].oid == raw.oid
    prepared = pointer.load(str(repo / "data" / "prepared.gitml"))
    info = lock["prepare"].outs["data/prepared"]
    assert (info.oid, info.size, info.files) == (prepared.oid, prepared.size, prepared.files)


def test_status_names_each_stale_stage_and_why(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    assert "Stale stages" not in cli("status").out
    set_lr(repo, "0.01")
    write(repo / "data" / "raw.txt", "z\ny\n")
    r = cli("status")
    assert r.code == 0
    assert "  prepare: dep data/raw.txt modified" in r.out
    assert "  train: param train.lr 0.1 -> 0.01" in r.out
    items = json.loads(cli("status", "--json").out)
    stages = {i["stage"]: i for i in items if i.get("kind") == "stage"}
    assert stages["train"]["reasons"][0] == {
        "kind": "param", "text": "param train.lr 0.1 -> 0.01", "what": "train.lr",
        "change": "changed", "old": 0.1, "new": 0.01}
    st = pipeline.status(gitml.Repo())
    assert [s.name for s in st.stale] == ["prepare", "train"]
    assert st.to_dict()["stages"] == 2


def test_every_kind_of_change_is_a_reason(repo: Path, cli) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    (repo / "models" / "model.txt").unlink()
    write(repo / "metrics.json", "{}")
    text = (repo / "gitml.yaml").read_text()
    write(repo / "gitml.yaml", text.replace("echo prepared", "echo prepared!")
          .replace("params: [train]", "params: [train.lr]"))
    reasons = {s.name: [str(r) for r in s.reasons] for s in pipeline.status(gitml.Repo()).stale}
    assert reasons["prepare"] == ["cmd changed"]
    assert reasons["train"] == ["param train.epochs removed", "out models/model.txt missing",
                                "out metrics.json modified"]


def test_dry_run_says_what_would_run_and_changes_nothing(repo: Path, cli) -> None:
    setup_pipeline(repo)
    r = cli("repro", "--dry")
    assert r.code == 0
    assert "prepare: would run (never run (not in gitml.lock))" in r.out
    assert not (repo / "gitml.lock").exists() and runs(repo) == 0
    assert cli("repro").code == 0
    write(repo / "data" / "raw.txt", "q\n")
    r = cli("repro", "--dry")
    assert "prepare: would run (dep data/raw.txt modified)" in r.out
    assert "train: may run (after upstream 'prepare')" in r.out
    res = json.loads(cli("repro", "--dry", "--json").out)
    assert res["dry"] and [s["action"] for s in res["stages"]] == ["would-run", "may-run"]
    assert runs(repo) == 1


def test_targets_single_item_and_force(repo: Path, cli) -> None:
    setup_pipeline(repo)
    r = cli("repro", "train")  # upstream first
    assert r.code == 0 and "Running stage 'prepare'" in r.out
    write(repo / "data" / "raw.txt", "new\n")
    r = cli("repro", "-s", "train", "--force")
    assert r.code == 0
    assert "Running stage 'prepare'" not in r.out and runs(repo) == 2
    r = cli("repro", "prepare")
    assert "Running stage 'prepare'" in r.out and "Running stage 'train'" not in r.out
    r = cli("repro", "trian")
    assert r.code == 2 and "no stage named 'trian' in gitml.yaml (did you mean 'train'?)" in r.err


def test_frozen_and_always_changed(repo: Path, cli) -> None:
    setup_pipeline(repo, PIPELINE.replace("    outs: [data/prepared]\n",
                                          "    outs: [data/prepared]\n    always_changed: true\n"))
    assert cli("repro").code == 0
    r = cli("repro")
    assert "Running stage 'prepare' (always changed)" in r.out
    assert runs(repo) == 1  # its output did not change: train is up to date
    text = (repo / "gitml.yaml").read_text().replace("always_changed: true", "frozen: true")
    write(repo / "gitml.yaml", text)
    write(repo / "data" / "raw.txt", "other\n")
    r = cli("repro", "--force", "prepare")
    assert "Stage 'prepare' is frozen, skipping" in r.out
    assert "prepare" not in cli("status").out


def test_wdir_paths_are_relative_to_it(repo: Path, cli) -> None:
    write(repo / "sub" / "in.txt", "x\n")
    write(repo / "sub" / "params.yaml", "k: 1\n")
    write(repo / "gitml.yaml", "stages:\n  s:\n    wdir: sub\n    cmd: cp in.txt out.txt && pwd"
          " > where.txt\n    deps: [in.txt]\n    params: [k]\n    outs: [out.txt, "
          "{where.txt: {cache: false}}]\n")
    assert cli("repro").code == 0
    assert (repo / "sub" / "out.txt.gitml").exists()
    assert (repo / "sub" / "where.txt").read_text().strip() == str(repo / "sub")
    entry = lockfile.load(str(repo))["s"]
    assert entry.wdir == "sub" and set(entry.deps) == {"sub/in.txt"}
    assert entry.params == {"sub/params.yaml": {"k": 1}}


def test_foreach_matrix_and_interpolation(repo: Path, cli) -> None:
    write(repo / "params.yaml", "models: [small, big]\nseed: 7\n")
    write(repo / "grid.cfg", "")
    write(repo / "gitml.yaml", """\
vars:
  - {suffix: txt}
stages:
  fit:
    foreach: ${models}
    do:
      cmd: echo ${item} ${seed} > out-${item}.${suffix}
      outs:
        - out-${item}.${suffix}
  grid:
    matrix:
      lr: [0.1, 0.01]
      depth: [2]
    cmd: echo lr=${item.lr} depth=${item.depth} > grid-${item.lr}-${item.depth}.txt
    deps: [grid.cfg]
    outs:
      - grid-${item.lr}-${item.depth}.txt
""")
    r = cli("stage", "list", "--json")
    names = [s["name"] for s in json.loads(r.out)]
    assert names == ["fit@small", "fit@big", "grid@0.1-2", "grid@0.01-2"]
    assert cli("repro", "fit").code == 0  # a group name selects its members
    assert (repo / "out-big.txt").read_text() == "big 7\n"
    assert not (repo / "grid-0.1-2.txt").exists()
    assert cli("repro").code == 0
    assert (repo / "grid-0.01-2.txt").read_text() == "lr=0.01 depth=2\n"
    write(repo / "params.yaml", "models: [small, big]\nseed: 8\n")
    r = cli("repro", "--dry")
    # fit@ stages read nothing: callback stages, they always run
    assert "fit@small: would run (cmd changed; no deps: a callback stage runs every time)" \
        in r.out and "grid@0.1-2: up to date" in r.out


def test_parallel_jobs_run_independent_stages_at_once(repo: Path, cli) -> None:
    # each stage waits for the other to have started: only parallel runs can finish
    wait = ("touch {me}.started; i=0; while [ ! -e {other}.started ] && [ $i -lt 300 ]; "
            "do sleep 0.05; i=$((i+1)); done; [ -e {other}.started ] && echo {me} > {me}.txt")
    write(repo / "gitml.yaml", "stages:\n" + "".join(
        f"  {me}:\n    cmd: {wait.format(me=me, other=other)}\n    outs: [{me}.txt]\n"
        for me, other in (("a", "b"), ("b", "a"))))
    r = cli("repro", "-j", "2")
    assert r.code == 0, r.err
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()


def test_stage_output_streams_as_it_runs(repo: Path, cli, capfd) -> None:
    setup_pipeline(repo)
    assert cli("repro").code == 0
    out = capfd.readouterr().out
    assert "prepared" in out  # the command's own output, on the terminal


def test_api_from_a_linked_worktree_shares_the_store_and_run_cache(repo: Path, cli,
                                                                   tmp_path: Path) -> None:
    setup_pipeline(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    assert cli("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ran")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "exp")
    with gitml.Repo(wt) as wrepo:
        assert wrepo.store.root == gitml.Repo(repo).store.root
        events: list[str] = []
        res = pipeline.repro(wrepo, stream=False, on_event=lambda e: events.append(e.kind))
    assert res.restored == ["prepare", "train"] and res.ran == []
    assert events == ["restored", "restored"] and runs(repo) == 1
    assert (wt / "models" / "model.txt").read_text() == (repo / "models" / "model.txt"
                                                         ).read_text()
    set_lr(wt, "0.5")
    with gitml.Repo(wt) as wrepo:
        res = pipeline.repro(wrepo, stream=False)
    assert res.ran == ["train"] and (wt / "runs.log").read_text() == "train\n"
    log = res.to_dict()["stages"][1]
    assert log["action"] == "done" and log["returncode"] == 0 and "log" in log


def test_persist_output_is_kept_as_a_private_copy(repo: Path, cli) -> None:
    assert cli("config", "core.link", "hardlink").code == 0
    write(repo / "gitml.yaml", "stages:\n  grow:\n    cmd: echo x >> log.txt\n"
          "    always_changed: true\n    outs: [{log.txt: {persist: true}}]\n")
    for _ in range(3):
        assert cli("repro").code == 0
    assert (repo / "log.txt").read_text() == "x\nx\nx\n"
    assert cli("fsck").code == 0  # appending never went through a link into the store
