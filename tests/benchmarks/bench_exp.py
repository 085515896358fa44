"""Experiment workloads (issue 5): one `exp run` of a trivial stage, `exp show` with 200
experiments; gitml against DVC on the same project.

The project: ``params.yaml`` (train.lr and two more), a one-stage pipeline whose command
(plain Python, no imports beyond the standard library) reads the params and writes
``metrics.json`` and a small stored output. The 200 experiments are made by each tool for
real (``gitml exp run`` with a 200-value sweep; ``dvc exp run`` 200 times) and kept under
``harness.DATA`` between runs, since making DVC's takes minutes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness import DATA, DVC, GITML, WORK, Bench, sh, trash, workload

N_EXPS = 200
VERSION = "v2"  # bump when the project changes, to rebuild the kept repositories

TRAIN = """\
import json
text = open("params.yaml").read()
lr = float(text.split("lr:")[1].split()[0])
json.dump({"acc": round(1 - abs(lr - 0.05), 6), "loss": round(abs(lr - 0.05), 6)},
          open("metrics.json", "w"))
open("model.bin", "w").write(text)
"""
PARAMS = "train:\n  lr: 0.1\n  epochs: 3\n  depth: 4\n"


def _stage(tool: str) -> str:
    py = sys.executable
    if tool == "gitml":
        return (f"stages:\n  train:\n    cmd: {py} train.py\n    deps: [train.py]\n"
                f"    params: [train]\n    outs: [model.bin]\n    metrics: [metrics.json]\n")
    return (f"stages:\n  train:\n    cmd: {py} train.py\n    deps: [train.py]\n"
            f"    params: [train]\n    outs: [model.bin]\n"
            f"    metrics: [{{metrics.json: {{cache: false}}}}]\n")


def _project(tool: str, root: Path, bench: Bench) -> Path:
    """A committed project, reproduced once."""
    trash(root)
    root.mkdir(parents=True)
    exe = GITML if tool == "gitml" else DVC
    sh("git init -q", root, bench.env)
    # DVC's Git library reads ~/.gitconfig, not GIT_CONFIG_GLOBAL: name the author here
    sh("git config user.name bench && git config user.email bench@gitml.invalid", root,
       bench.env)
    sh(f"{exe} init -q", root, bench.env)
    (root / "train.py").write_text(TRAIN)
    (root / "params.yaml").write_text(PARAMS)
    (root / ("gitml.yaml" if tool == "gitml" else "dvc.yaml")).write_text(_stage(tool))
    sh(f"{exe} repro -q", root, bench.env)
    sh("git add -A && git commit -q -m project", root, bench.env)
    return root


def _lrs(n: int) -> list[str]:
    # never the baseline's 0.1: a run that changes nothing makes no experiment
    return [f"{0.001 * (i + 1) + 0.0005:.4f}" for i in range(n)]


def _with_experiments(tool: str, bench: Bench) -> Path:
    """The project with 200 experiments, built once and kept in DATA."""
    kept = DATA / f"exp-{tool}-{N_EXPS}-{VERSION}"
    if not (kept / ".ready").exists():
        root = _project(tool, kept, bench)
        if tool == "gitml":
            sh(f"{GITML} exp run -q -S train.lr={','.join(_lrs(N_EXPS))}", root, bench.env)
        else:
            for lr in _lrs(N_EXPS):
                sh(f"{DVC} exp run -q -S train.lr={lr}", root, bench.env)
        (kept / ".ready").touch()
    return kept


@workload("exp.run_trivial")
def run_trivial(bench: Bench) -> None:
    """One experiment of a one-stage project, whole process, on a fresh copy each time."""
    bases = {t: _project(t, WORK / f"exp-base-{t}", bench)
             for t in (["gitml", "dvc"] if bench.with_dvc else ["gitml"])}

    def setup(tool: str):
        def fn() -> Path:
            root = WORK / f"exp-run-{tool}"
            trash(root)
            shutil.copytree(bases[tool], root, symlinks=True)
            return root
        return fn

    tools = {"gitml": (setup("gitml"), f"{GITML} exp run -S train.lr=0.02")}
    if bench.with_dvc:
        tools["dvc"] = (setup("dvc"), f"{DVC} exp run -S train.lr=0.02")
    bench.compare("exp.run_trivial", tools, target="<= 0.5x dvc")


@workload("exp.show_200")
def show_200(bench: Bench) -> None:
    """`exp show` of a project with 200 experiments (read only: the same repository)."""
    repos = {t: _with_experiments(t, bench)
             for t in (["gitml", "dvc"] if bench.with_dvc else ["gitml"])}
    tools = {"gitml": (lambda: repos["gitml"], f"{GITML} exp show")}
    if bench.with_dvc:
        tools["dvc"] = (lambda: repos["dvc"], f"{DVC} exp show --no-pager")
    bench.compare("exp.show_200", tools, target="<= 0.5 s and <= 0.2x dvc")
