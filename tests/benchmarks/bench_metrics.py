"""Metrics workloads (issue 3): diff of two revisions and show across 500 branches, vs DVC.

Both tools get the same Git history: ``metrics.json`` (20 metrics, some nested) and
``params.yaml`` (20 params) declared in their project file, on ``main`` and ``exp-3``; the
500-branch repository adds ``exp-000`` .. ``exp-499``, one commit each, made with
``git fast-import``. Repositories are built once per run (the commands only read them).
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

from harness import DVC, GITML, WORK, Bench, sh, trash, workload

N_BRANCHES = 500


def metrics_doc(rnd: random.Random) -> dict[str, object]:
    return {"acc": rnd.random(), "loss": rnd.random(), "auc": rnd.random(),
            "f1": rnd.random(), "precision": rnd.random(), "recall": rnd.random(),
            "train": {f"m{i}": round(rnd.random(), 6) for i in range(7)},
            "val": {f"m{i}": round(rnd.random(), 6) for i in range(7)}}


def params_doc(rnd: random.Random) -> str:
    lines = ["train:"] + [f"  p{i}: {rnd.choice([0.1, 0.01, 0.001])}" for i in range(10)]
    lines += ["model:"] + [f"  q{i}: {rnd.randint(1, 500)}" for i in range(9)]
    return "\n".join(lines + [f"seed: {rnd.randint(0, 99)}"]) + "\n"


def _write_pair(root: Path, seed: int) -> None:
    rnd = random.Random(seed)
    (root / "metrics.json").write_text(json.dumps(metrics_doc(rnd), indent=2))
    (root / "params.yaml").write_text(params_doc(rnd))


def _init(tool: str, tag: str, bench: Bench) -> Path:
    root = WORK / f"metrics-{tool}-{tag}"
    trash(root)
    root.mkdir(parents=True)
    sh("git init -q", root, bench.env)
    if tool == "gitml":
        sh(f"{GITML} init -q", root, bench.env)
        (root / "gitml.yaml").write_text(
            "metrics:\n  - path: metrics.json\n    direction: higher\n"
            "    keys: {loss: lower}\nparams: [params.yaml]\n")
    else:
        sh(f"{DVC} init -q", root, bench.env)
        (root / "dvc.yaml").write_text("metrics: [metrics.json]\nparams: [params.yaml]\n")
    _write_pair(root, 1)
    sh("git add -A && git commit -q -m main", root, bench.env)
    return root


def diff_repo(tool: str, bench: Bench) -> Path:
    root = _init(tool, "diff", bench)
    sh("git checkout -q -b exp-3", root, bench.env)
    _write_pair(root, 3)
    sh("git commit -q -am exp-3 && git checkout -q main", root, bench.env)
    return root


def branches_repo(tool: str, bench: Bench) -> Path:
    root = _init(tool, "branches", bench)
    main = sh("git rev-parse main", root, bench.env).strip()
    stream = []
    for i in range(N_BRANCHES):
        rnd = random.Random(1000 + i)
        files = {"metrics.json": json.dumps(metrics_doc(rnd), indent=2).encode(),
                 "params.yaml": params_doc(rnd).encode()}
        msg = f"exp-{i:03d}".encode()
        stream.append(f"commit refs/heads/exp-{i:03d}\n"
                      f"committer bench <bench@gitml.invalid> {1700000000 + i} +0000\n"
                      f"data {len(msg)}\n".encode() + msg + f"\nfrom {main}\n".encode())
        for name, body in files.items():
            stream.append(f"M 100644 inline {name}\ndata {len(body)}\n".encode() + body + b"\n")
        stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, env=bench.env,
                   input=b"".join(stream), check=True)
    return root


@workload("metrics.diff")
def diff(bench: Bench) -> None:
    repos = {t: diff_repo(t, bench) for t in ("gitml", "dvc") if t == "gitml" or bench.with_dvc}
    tools = {"gitml": (lambda: repos["gitml"], f"{GITML} metrics diff main exp-3")}
    if "dvc" in repos:
        tools["dvc"] = (lambda: repos["dvc"], f"{DVC} metrics diff main exp-3")
    bench.compare("metrics diff main exp-3 (20 metrics)", tools,
                  target="gitml <= 0.150 s, >= 5x faster than dvc")
    tools = {"gitml": (lambda: repos["gitml"], f"{GITML} params diff main exp-3")}
    if "dvc" in repos:
        tools["dvc"] = (lambda: repos["dvc"], f"{DVC} params diff main exp-3")
    bench.compare("params diff main exp-3 (20 params)", tools, target="as metrics diff")


@workload("metrics.show_branches")
def show_branches(bench: Bench) -> None:
    repos = {t: branches_repo(t, bench) for t in ("gitml", "dvc")
             if t == "gitml" or bench.with_dvc}
    tools = {"gitml": (lambda: repos["gitml"], f"{GITML} metrics show --all-branches")}
    if "dvc" in repos:
        tools["dvc"] = (lambda: repos["dvc"], f"{DVC} metrics show --all-branches")
    bench.compare(f"metrics show --all-branches ({N_BRANCHES + 1} branches)", tools,
                  target="gitml <= 2 s")
