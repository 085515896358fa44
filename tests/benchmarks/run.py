"""Run benchmark workloads and print a Markdown table.

    python tests/benchmarks/run.py                 # every workload, with DVC when installed
    python tests/benchmarks/run.py core.add_1gib --repeat 5
    python tests/benchmarks/run.py --list

Peers: ``bash tests/benchmarks/setup_peers.sh`` installs DVC into tests/benchmarks/.venv-dvc.
Ratios in the table are each tool's median over the first tool's median, from one run.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("workloads", nargs="*", help="names or prefixes (default: all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-dvc", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--clean", action="store_true",
                    help="delete the trash of earlier runs first (then wait: see BENCHMARKING.md)")
    args = ap.parse_args()
    for mod in sorted(p.stem for p in harness.HERE.glob("bench_*.py")):
        importlib.import_module(mod)
    names = [n for n in harness.WORKLOADS
             if not args.workloads or any(n == w or n.startswith(w) for w in args.workloads)]
    if args.list:
        print("\n".join(names))
        return
    if args.clean:
        shutil.rmtree(harness.TRASH, ignore_errors=True)
        return
    bench = harness.Bench(args.repeat, with_dvc=not args.no_dvc)
    try:
        for n in names:
            print(f"# {n}", file=sys.stderr, flush=True)
            harness.WORKLOADS[n](bench)
    finally:
        # Trees moved to the trash are not deleted here: creating many files right after
        # deleting many is very slow on this file system and would skew the next run.
        print(bench.report())
        disk = shutil.disk_usage(harness.WORK)
        if harness.TRASH.exists() and disk.free < disk.total // 5:
            print(f"warning: the disk is {100 - 100 * disk.free // disk.total} % full and "
                  f"{harness.TRASH} holds earlier runs' trees: when you are done measuring, "
                  f"python {sys.argv[0]} --clean",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
