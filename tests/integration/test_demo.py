"""gitml demo: the newcomer's first command, end to end (issue 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from conftest import git, write

from gitml import demo


def test_demo_builds_runs_and_compares(tmp_path: Path, cli) -> None:
    target = tmp_path / "gitml-demo"
    r = cli("demo", str(target))
    assert r.code == 0, r.err
    out = r.out
    steps = ["== 1. A Git repository", "== 2. Data", "== 3. Code, params", "== 4. Commit",
             "== 5. Three experiments", "== 6. Compare"]
    assert [out.index(s) for s in steps] == sorted(out.index(s) for s in steps)
    for command in ("$ gitml init", "$ gitml add data/raw.parquet", "$ gitml repro",
                    "$ gitml exp run -S train.lr=0.05", "$ gitml exp run --run-all --jobs 2",
                    "$ gitml exp show --only-changed", "$ gitml exp best --metric val.acc",
                    "$ gitml metrics diff main "):
        assert command in out
    best = out.split("$ gitml exp best --metric val.acc --max\n")[1].split("\n")[0]
    assert best in ("exp-1", "exp-2", "exp-3")
    assert f"$ gitml metrics diff main {best}" in out and "Done in" in out
    # the project: main with the baseline, three experiment branches, a clean workspace
    heads = git(target, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert heads == ["exp-1", "exp-2", "exp-3", "main"]
    assert git(target, "status", "--porcelain") == ""
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    tracked = git(target, "ls-files").split()
    for f in ("data/raw.parquet.gitml", "data/prepared.gitml", "model.gitml", "gitml.lock",
              "metrics.json", "params.yaml", "gitml.yaml", "train.py", "prepare.py"):
        assert f in tracked
    assert "data/raw.parquet" not in tracked  # the data is gitml's, not Git's
    assert pq.read_table(target / "data" / "raw.parquet").num_rows == demo.ROWS
    # the best experiment really is the best by val.acc, and beats main
    accs = {b: json.loads(git(target, "show", f"{b}:metrics.json"))["val"]["acc"]
            for b in heads}
    assert best == max((b for b in heads if b != "main"), key=lambda b: accs[b])
    assert accs[best] > accs["main"]
    assert (target / ".gitml" / "worktrees").exists()
    assert list((target / ".gitml" / "worktrees").iterdir()) == []


def test_demo_data_is_deterministic(tmp_path: Path) -> None:
    demo.make_data(str(tmp_path / "a.parquet"))
    demo.make_data(str(tmp_path / "b.parquet"))
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_demo_refuses_a_non_empty_directory(tmp_path: Path, cli) -> None:
    target = tmp_path / "mine"
    write(target / "keep.txt", "mine\n")
    r = cli("demo", str(target))
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        f"error: {target} already exists and is not empty; try: gitml demo {target}-2"]
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    # the suggestion skips names that are taken too; an empty folder is free
    write(tmp_path / "mine-2" / "x", "x")
    write(tmp_path / "mine-3", "a file")
    (tmp_path / "mine-4").mkdir()
    r = cli("demo", str(target))
    assert r.err.strip() == (f"error: {target} already exists and is not empty; "
                             f"try: gitml demo {target}-4")
    write(tmp_path / "file", "x")
    assert cli("demo", str(tmp_path / "file")).code == 2
    (tmp_path / "empty").mkdir()
    assert demo.check_target(str(tmp_path / "empty")) == str(tmp_path / "empty")  # accepted
