"""import-dvc (issue 23): converting a DVC repository of 100,000 tracked files, against
``gitml add`` of the same files (the target: under 2x its time).

The DVC repository is made once by the real DVC (``dvc add`` of the core workloads' tree,
cache type copy, committed) and kept under .data; each sample gets a fresh copy of it
(untimed). ``gitml add`` gets a fresh repository with a copy of the same tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench_core import N_FILES, new_repo, small_tree
from harness import DATA, DVC, GITML, WORK, Bench, sh, trash, workload


def dvc_repo(bench: Bench) -> Path:
    """A committed DVC repository tracking ``tree`` (100,000 files), made once."""
    path = DATA / f"dvc-tree-{N_FILES}"
    if not path.exists():
        tmp = DATA / f"dvc-tree-{N_FILES}.tmp"
        trash(tmp)
        tmp.mkdir(parents=True)
        env = bench.env
        sh("git init -q", tmp, env)
        sh(f"{DVC} init -q && {DVC} config cache.type copy", tmp, env)
        sh(f"cp -r {small_tree()} tree", tmp, env)
        sh(f"{DVC} add -q tree && git add -A && git commit -qm data", tmp, env)
        tmp.rename(path)
    return path


@workload("dvcimport.100k")
def import_100k(bench: Bench) -> None:
    if not Path(DVC).exists():
        print("dvcimport.100k: needs DVC (bash tests/benchmarks/setup_peers.sh)",
              file=sys.stderr)
        return
    src = dvc_repo(bench)
    last: dict[str, Path] = {}

    def setup_add() -> Path:
        root = last["add"] = new_repo("gitml", "add", bench)
        sh(f"cp -r {small_tree()} {root}/tree", None, bench.env)
        return root

    def setup_import() -> Path:
        root = last["import"] = WORK / "gitml-import"
        trash(root)
        sh(f"cp -a {src} {root}", None, bench.env)
        return root

    bench.compare(f"import-dvc of {N_FILES} files", {
        "gitml add": (setup_add, f"{GITML} add -q tree"),
        "gitml import-dvc": (setup_import, f"{GITML} import-dvc -q"),
    }, target="import-dvc < 2x gitml add")
    # the import leaves the stat cache as add does: the first status reads no file
    bench.compare("first status after it", {
        "after gitml add": (lambda: last["add"], f"{GITML} status"),
        "after gitml import-dvc": (lambda: last["import"], f"{GITML} status"),
    }, target="about equal")
