"""Core workloads (issue 2): add, status, re-add, checkout, start-up; gitml against DVC."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import harness
from harness import DATA, DVC, GITML, WORK, Bench, sh, trash, workload

N_FILES = int(os.environ.get("GITML_BENCH_FILES", "100000"))
BIG = int(os.environ.get("GITML_BENCH_BIG_MB", "1024")) << 20


def big_file() -> Path:
    # Random throughout: rotations of one block (the data before issue 21) cut into the
    # same content-defined chunks, so a chunked add stored 39 MiB of a 1 GiB file.
    path = DATA / f"random-{BIG >> 20}m.bin"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / f"big-{BIG >> 20}m.bin").unlink(missing_ok=True)
        rnd = random.Random(1)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for _ in range(BIG // (8 << 20)):
                f.write(rnd.randbytes(8 << 20))
        tmp.rename(path)
    return path


def small_tree() -> Path:
    path = DATA / f"tree-{N_FILES}"
    if not path.exists():
        rnd = random.Random(2)
        tmp = DATA / f"tree-{N_FILES}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for i in range(N_FILES):
            d = tmp / f"d{i // 1000:03d}"
            if i % 1000 == 0:
                d.mkdir(parents=True)
            (d / f"f{i:06d}.bin").write_bytes(rnd.randbytes(rnd.randint(1024, 4096)))
        tmp.rename(path)
    return path


def new_repo(tool: str, tag: str, bench: Bench, big: bool = False) -> Path:
    root = WORK / f"{tool}-{tag}"
    trash(root, big)
    root.mkdir(parents=True)
    sh("git init -q", root, bench.env)
    if tool == "gitml":
        sh(f"{GITML} init -q && {GITML} config core.link copy", root, bench.env)
    elif tool == "dvc":
        sh(f"{DVC} init -q && {DVC} config cache.type copy", root, bench.env)
    return root


@workload("core.add_1gib")
def add_big(bench: Bench) -> None:
    src = big_file()

    def setup(tool: str):
        def fn() -> Path:
            root = new_repo(tool, "big", bench, big=True)
            os.link(src, root / "big.bin")  # same bytes, no copy: the command reads them
            return root
        return fn

    tools = {"cp+sync": (setup("cp"), "cp big.bin copy.bin && sync copy.bin"),
             "gitml": (setup("gitml"), f"{GITML} add -q big.bin"),
             "gitml --no-chunk": (setup("gitml"), f"{GITML} add -q --no-chunk big.bin")}
    if bench.with_dvc:
        tools["dvc"] = (setup("dvc"), f"{DVC} add -q big.bin")
    bench.compare("add 1 GiB file (copy)", tools,
                  target="gitml (chunks) <= 2x cp+sync, --no-chunk <= 1.5x, >= 5x faster than dvc")
    for tool in ("cp", "gitml", "dvc"):  # a few GiB: not left for the end of the run
        trash(WORK / f"{tool}-big", big=True)


@workload("core.checkout_1gib")
def checkout_big(bench: Bench) -> None:
    src = big_file()
    repos: dict[str, Path] = {}

    def setup(tool: str):
        def fn() -> Path:
            if tool not in repos:
                root = repos[tool] = new_repo(tool.split()[0], f"co-{len(repos)}", bench,
                                              big=True)
                os.link(src, root / "big.bin")
                flag = " --no-chunk" if "no-chunk" in tool else ""
                if tool != "cp":
                    sh(f"{GITML} add -q{flag} big.bin", root, bench.env)
            root = repos[tool]
            for name in ("big.bin", "copy.bin") if tool != "cp" else ("copy.bin",):
                if (root / name).exists():
                    (root / name).unlink()
            return root
        return fn

    bench.compare("checkout 1 GiB file (copy)", {
        "cp": (setup("cp"), "cp big.bin copy.bin"),
        "gitml": (setup("gitml"), f"{GITML} checkout -q"),
        "gitml --no-chunk": (setup("gitml --no-chunk"), f"{GITML} checkout -q")},
        target="gitml (chunks) <= 1.5x cp")
    for root in repos.values():
        trash(root, big=True)


def _tree_repo(tool: str, tag: str, bench: Bench) -> Path:
    root = new_repo(tool, tag, bench)
    sh(f"cp -r {small_tree()} {root}/tree", None, bench.env)
    return root


@workload("core.100k")
def hundred_k(bench: Bench) -> None:
    """add, status, re-add after 100 edits, checkout after moving the tree away."""
    small_tree()
    have_dvc = bench.with_dvc
    last: dict[str, Path] = {}

    def setup_add(tool: str):
        def fn() -> Path:
            last[tool] = _tree_repo(tool, "tree", bench)
            return last[tool]
        return fn

    tools = {"cp -r": (lambda: _tree_repo("cp", "tree", bench), "cp -r tree copy"),
             "gitml": (setup_add("gitml"), f"{GITML} add -q tree")}
    if have_dvc:
        tools["dvc"] = (setup_add("dvc"), f"{DVC} add -q tree")
    bench.compare(f"add {N_FILES} files", tools,
                  target="gitml >= 5x faster than dvc, <= 1.5x cp -r; peak <= 300 MB")

    status = {"gitml": (lambda: last["gitml"], f"{GITML} status")}
    if have_dvc:
        status["dvc"] = (lambda: last["dvc"], f"{DVC} status -q")
    bench.compare(f"status {N_FILES} unchanged", status, target="gitml >= 10x faster than dvc")

    edit_round = [0]

    def edit(tool: str):
        def fn() -> Path:
            root = last[tool]
            rnd = random.Random(100 + edit_round[0])
            edit_round[0] += 1
            for i in rnd.sample(range(N_FILES), 100):
                p = root / "tree" / f"d{i // 1000:03d}" / f"f{i:06d}.bin"
                if p.exists() and not os.access(p, os.W_OK):
                    p.unlink()
                p.write_bytes(rnd.randbytes(2000))
            return root
        return fn

    readd = {"gitml": (edit("gitml"), f"{GITML} add -q tree")}
    if have_dvc:
        readd["dvc"] = (edit("dvc"), f"{DVC} add -q tree")
    bench.compare("re-add after 100 edits", readd, target="gitml >= 10x faster than dvc")

    def moved(tool: str):
        def fn() -> Path:
            root = last[tool]
            trash(root / "tree")
            return root
        return fn

    def cp_setup() -> Path:
        root = WORK / "cp-tree"
        trash(root / "copy")
        return root

    co = {"cp -r": (cp_setup, "cp -r tree copy"),
          "gitml": (moved("gitml"), f"{GITML} checkout -q")}
    if have_dvc:
        co["dvc"] = (moved("dvc"), f"{DVC} checkout -q")
    bench.compare("checkout after moving the tree away", co,
                  target="gitml >= 3x faster than dvc; peak <= 300 MB")


@workload("core.startup")
def startup(bench: Bench) -> None:
    def empty(tool: str):
        def fn() -> Path:
            root = WORK / f"{tool}-empty"
            if not root.exists():
                new_repo(tool, "empty", bench)
            return root
        return fn

    tools = {"gitml --version": (empty("gitml"), f"{GITML} --version"),
             "gitml status (empty repo)": (empty("gitml"), f"{GITML} status")}
    if bench.with_dvc:
        tools["dvc --version"] = (empty("dvc"), f"{DVC} --version")
    bench.compare("start-up", tools, target="gitml <= 0.120 s wall")


__all__ = ["harness"]
