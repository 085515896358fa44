"""Team workloads (issue 18): data from another repository, experiments between clones.

- ``teams.get_s3_1gib``, ``teams.get_s3_tree``: ``gitml get`` of a 1 GiB file and of a
  20,000-file directory of another repository whose data is on S3 (one SeaweedFS
  server), against ``dvc get`` of the same data from the same server. The 1 GiB file
  (bench_core's, random bytes) is measured twice for gitml: stored as chunks (the
  default) and as one object (``core.chunk_threshold 0`` in the source: ranged parts). The source is
  named by a ``file://`` URL, a Git URL to both tools (a plain path would let DVC read
  the source's own cache instead of S3). Each sample starts cold: gitml's clone cache is
  emptied (``dvc get`` clones every time anyway), the output does not exist.
- ``teams.exp_show_remote``: ``gitml exp show --remote origin`` with 200 experiment
  branches on a bare Git remote, in a clone that has their commits, and in a clone of
  main alone (the 200 tips are fetched, commits only). Target: under 1 s.
- ``teams.exp_pull``: ``gitml exp pull origin --all`` of 50 experiments whose outputs
  total 20,000 objects (S3) into a fresh clone, against ``dvc exp pull origin -A`` of the
  same experiments made by DVC.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import bench_core
import bench_exp
from bench_remote import _S3, _dvc_s3, _gitml_s3
from harness import DATA, DVC, GITML, WORK, Bench, sh, trash, workload

N_TREE = int(os.environ.get("GITML_BENCH_TEAMS_FILES", "20000"))
N_EXPS = 50
PER_EXP = N_TREE // N_EXPS  # output files per experiment


def _tree() -> Path:
    """``N_TREE`` files of 1-4 KiB in 100 folders (seeded, kept in DATA)."""
    path = DATA / f"teams-tree-{N_TREE}"
    if not path.exists():
        rnd = random.Random(18)
        tmp = path.with_suffix(".tmp")
        trash(tmp)
        for i in range(N_TREE):
            d = tmp / f"d{i % 100:02d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:05d}.bin").write_bytes(rnd.randbytes(rnd.randint(1024, 4096)))
        tmp.rename(path)
    return path


def _source(label: str, bench: Bench, srv: object, big: Path | None, tree: Path | None
            ) -> Path:
    """A committed repository tracking big.bin or tree/, its data pushed to S3. ``label``
    is the tool, or ``gitml-whole``: gitml with chunking off."""
    tool = label.split("-")[0]
    root = bench_core.new_repo(tool, "teams-src" + label[len(tool):], bench)
    exe = GITML if tool == "gitml" else DVC
    if label == "gitml-whole":
        sh(f"{GITML} config core.chunk_threshold 0", root, bench.env)
    # hardlinks: the sources' stores share the data's inodes (the disk here is small)
    sh(f"{GITML} config core.link hardlink" if tool == "gitml"
       else f"{DVC} config cache.type hardlink", root, bench.env)
    sh("git config user.name bench && git config user.email bench@gitml.invalid", root,
       bench.env)
    if big is not None:
        os.link(big, root / "big.bin")
        sh(f"{exe} add -q big.bin", root, bench.env)
    if tree is not None:
        sh(f"cp -r {tree} tree && {exe} add -q tree", root, bench.env)
    (_gitml_s3 if tool == "gitml" else _dvc_s3)(root, srv, f"{label}-src", bench)  # type: ignore[arg-type]
    sh(f"git add -A && git commit -qm data && {exe} push -q", root, bench.env)
    # the data is on S3 now; a get reads it from there: free the disk of the local copies
    store = ".gitml/cache" if tool == "gitml" else ".dvc/cache"
    sh(f"rm -rf {store} big.bin", root, bench.env)
    return root


def _get(bench: Bench, what: str, path: str, big: Path | None, tree: Path | None,
         whole: bool = False) -> None:
    with _S3(bench) as srv:
        tools = ["gitml"] + (["gitml-whole"] if whole else []) + \
            (["dvc"] if bench.with_dvc else [])
        sources = {t: _source(t, bench, srv, big, tree) for t in tools}
        count = [0]

        def setup(tool: str):
            def fn() -> Path:
                count[0] += 1
                d = WORK / f"teams-get-{tool}"
                if (d / "big.bin").exists():  # one big file: deleting it is harmless
                    (d / "big.bin").unlink()
                trash(d / "tree")
                d.mkdir(parents=True, exist_ok=True)
                bench.env["GITML_REPO_CACHE"] = str(WORK / f"teams-cache-{count[0]}")
                return d
            return fn

        exe = {"gitml": f"{GITML} get -q", "gitml-whole": f"{GITML} get -q",
               "dvc": f"{DVC} get -q"}
        # file:// is a Git URL to both: a clone, never the source's own cache
        bench.compare(f"get {what} of another repository from S3",
                      {t: (setup(t), f"{exe[t]} file://{sources[t]} {path} -o {path}")
                       for t in tools}, target="gitml >= 2x faster than dvc get")
        for t in tools:
            p = WORK / f"teams-get-{t}" / "big.bin"
            if p.exists():
                p.unlink()


@workload("teams.get_s3_1gib")
def get_s3_1gib(bench: Bench) -> None:
    _get(bench, "a 1 GiB file", "big.bin", bench_core.big_file(), None, whole=True)


@workload("teams.get_s3_tree")
def get_s3_tree(bench: Bench) -> None:
    _get(bench, f"a {N_TREE}-file directory", "tree", None, _tree())


@workload("teams.exp_show_remote")
def exp_show_remote(bench: Bench) -> None:
    kept = bench_exp._with_experiments("gitml", bench)  # 200 experiments by gitml exp run
    origin = WORK / "teams-show-origin.git"
    trash(origin)
    sh(f"git init -q --bare -b main {origin}", None, bench.env)
    sh(f"git push -q {origin} 'refs/heads/*:refs/heads/*'", kept, bench.env)
    full, single = WORK / "teams-show-clone", WORK / "teams-show-single"

    def clone(dest: Path, single_branch: bool):
        def fn() -> Path:
            trash(dest)
            flag = "--single-branch --no-local " if single_branch else ""
            sh(f"git clone -q {flag}{origin} {dest}", None, bench.env)
            return dest
        return fn

    bench.compare(f"exp show --remote origin, {bench_exp.N_EXPS} experiment branches "
                  "(commits here)",
                  {"gitml": (clone(full, False), f"{GITML} exp show --remote origin")},
                  target="< 1 s")
    bench.compare(f"exp show --remote origin, {bench_exp.N_EXPS} experiment branches "
                  "(fetching their commits)",
                  {"gitml": (clone(single, True), f"{GITML} exp show --remote origin")},
                  target="< 1 s")


GEN = """\
import os, random
text = open("params.yaml").read()
seed = int(text.split("seed:")[1].split()[0])
rnd = random.Random(seed)
os.makedirs("out", exist_ok=True)
for i in range(PER_EXP):
    with open(f"out/f{i:04d}.bin", "wb") as f:
        f.write(rnd.randbytes(rnd.randint(200, 1800)))
open("metrics.json", "w").write('{"seed": ' + str(seed) + '}\\n')
""".replace("PER_EXP", str(PER_EXP))


def _exp_project(tool: str, bench: Bench, srv: object) -> tuple[Path, Path]:
    """A project with ``N_EXPS`` experiments (``PER_EXP`` output files each), pushed with
    its experiments to a bare origin and its data to S3. Returns (project, origin)."""
    root = WORK / f"teams-exps-{tool}"
    origin = WORK / f"teams-exps-{tool}-origin.git"
    trash(root)
    trash(origin)
    root.mkdir(parents=True)
    exe = GITML if tool == "gitml" else DVC
    sh("git init -q && git config user.name bench && git config user.email "
       "bench@gitml.invalid", root, bench.env)
    sh(f"{exe} init -q", root, bench.env)
    (root / "gen.py").write_text(GEN)
    (root / "params.yaml").write_text("train:\n  seed: 0\n")
    py = sys.executable
    metrics = "metrics.json" if tool == "gitml" else "{metrics.json: {cache: false}}"
    (root / ("gitml.yaml" if tool == "gitml" else "dvc.yaml")).write_text(
        f"stages:\n  gen:\n    cmd: {py} gen.py\n    deps: [gen.py]\n    params: [train]\n"
        f"    outs: [out]\n    metrics: [{metrics}]\n")
    (_gitml_s3 if tool == "gitml" else _dvc_s3)(root, srv, f"{tool}-exps", bench)  # type: ignore[arg-type]
    sh(f"{exe} repro -q && git add -A && git commit -qm project", root, bench.env)
    sh(f"git init -q --bare -b main {origin} && git remote add origin {origin} && "
       "git push -q origin main", root, bench.env)
    seeds = range(1, N_EXPS + 1)
    if tool == "gitml":
        sh(f"{GITML} exp run -q -S train.seed={','.join(map(str, seeds))}", root, bench.env)
        sh(f"{GITML} push -q && {GITML} exp push -q origin --all", root, bench.env)
    else:
        for s in seeds:
            sh(f"{DVC} exp run -q -S train.seed={s}", root, bench.env)
        sh(f"{DVC} push -q && {DVC} exp push -q origin -A", root, bench.env)
    return root, origin


@workload("teams.exp_pull")
def exp_pull(bench: Bench) -> None:
    with _S3(bench) as srv:
        tools = ["gitml"] + (["dvc"] if bench.with_dvc else [])
        origins = {t: _exp_project(t, bench, srv)[1] for t in tools}

        def setup(tool: str):
            def fn() -> Path:
                dest = WORK / f"teams-exps-clone-{tool}"
                trash(dest)
                sh(f"git clone -q {origins[tool]} {dest}", None, bench.env)
                sh("git config user.name bench && git config user.email bench@gitml.invalid",
                   dest, bench.env)
                return dest
            return fn

        cmd = {"gitml": f"{GITML} exp pull -q origin --all",
               "dvc": f"{DVC} exp pull -q origin -A"}
        bench.compare(f"exp pull of {N_EXPS} experiments, {N_TREE} output objects, S3",
                      {t: (setup(t), cmd[t]) for t in tools},
                      target="gitml >= 2x faster than dvc exp pull")
