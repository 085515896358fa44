"""Pipeline workloads (issue 4): repro with nothing to do, run-cache restore; gitml against DVC."""

from __future__ import annotations

import os
from pathlib import Path

import harness
from bench_core import big_file, small_tree
from harness import DVC, GITML, WORK, Bench, sh, trash, workload

STAGES = 50


def _stages_yaml(dirs: list[str]) -> str:
    """50 stages; stage i reads tree directories 2i and 2i+1 (all 100,000 files in total)."""
    per = max(1, len(dirs) // STAGES)
    lines = ["stages:"]
    for i in range(STAGES):
        deps = ", ".join(f"tree/{d}" for d in dirs[i * per:(i + 1) * per])
        lines += [f"  s{i:02d}:", f"    cmd: mkdir -p out && echo {i} > out/s{i:02d}.txt",
                  f"    deps: [{deps}]", f"    outs: [out/s{i:02d}.txt]"]
    return "\n".join(lines) + "\n"


def _repo(tool: str, tag: str, bench: Bench) -> Path:
    root = WORK / f"pipeline-{tool}-{tag}"
    trash(root)
    root.mkdir(parents=True)
    sh("git init -q", root, bench.env)
    if tool == "gitml":
        sh(f"{GITML} init -q", root, bench.env)
    else:
        sh(f"{DVC} init -q", root, bench.env)
    return root


@workload("pipeline.repro_noop")
def repro_noop(bench: Bench) -> None:
    """`repro` when nothing changed: 50 stages whose deps total 100,000 files."""
    tree = small_tree()
    dirs = sorted(os.listdir(tree))
    ready: dict[str, Path] = {}

    def setup(tool: str):
        def fn() -> Path:
            if tool not in ready:  # built and run once; every sample then has nothing to do
                root = _repo(tool, "noop", bench)
                sh(f"cp -r {tree} {root}/tree", None, bench.env)
                name = "gitml.yaml" if tool == "gitml" else "dvc.yaml"
                (root / name).write_text(_stages_yaml(dirs))
                exe = GITML if tool == "gitml" else DVC
                sh(f"{exe} repro -q && {exe} repro -q", root, bench.env)
                ready[tool] = root
            return ready[tool]
        return fn

    tools = {"gitml": (setup("gitml"), f"{GITML} repro")}
    if bench.with_dvc:
        tools["dvc"] = (setup("dvc"), f"{DVC} repro")
    bench.compare(f"repro, nothing to do ({STAGES} stages, {len(dirs) * 1000} dep files)",
                  tools, target="gitml <= 1.5 s and >= 5x faster than dvc")


@workload("pipeline.runcache_1gib")
def runcache_restore(bench: Bench) -> None:
    """A stage whose 1 GiB output is missing but whose run is cached: restore by hardlink."""
    src = big_file()
    made: dict[str, Path] = {}

    def setup(tool: str):
        def fn() -> Path:
            root = made.get(tool)
            if root is None:
                root = made[tool] = _repo(tool, "runcache", bench)
                os.link(src, root / "input.bin")
                if tool == "gitml":
                    sh(f"{GITML} config core.link hardlink", root, bench.env)
                    name = "gitml.yaml"
                else:
                    sh(f"{DVC} config cache.type hardlink", root, bench.env)
                    name = "dvc.yaml"
                (root / name).write_text("stages:\n  copy:\n    cmd: cp input.bin model.bin\n"
                                         "    deps: [input.bin]\n    outs: [model.bin]\n")
                exe = GITML if tool == "gitml" else DVC
                sh(f"{exe} repro -q", root, bench.env)
            if (root / "model.bin").exists():
                trash(root / "model.bin")  # the output is gone; the run cache has it
            return root
        return fn

    def ln_setup() -> Path:
        root = WORK / "pipeline-ln"
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "input.bin").exists():
            os.link(src, root / "input.bin")
        trash(root / "model.bin")
        return root

    def cp_setup() -> Path:
        root = ln_setup()
        trash(root / "copy.bin")
        return root

    tools = {"gitml": (setup("gitml"), f"{GITML} repro"),
             "ln (floor)": (ln_setup, "ln input.bin model.bin"),
             "cp (a copy)": (cp_setup, "cp input.bin copy.bin")}
    if bench.with_dvc:
        tools["dvc"] = (setup("dvc"), f"{DVC} repro")
    bench.compare(f"run-cache restore of a {src.stat().st_size >> 20} MiB output (hardlink)",
                  tools, target="about the cost of a link: far below a copy")


__all__ = ["harness"]
