"""Plots and training-logger workloads (issue 10), gitml against DVC / DVCLive.

``plots.diff``: 5 revisions x 3 series x 10,000 steps (TSV ``step<TAB>value``, the training
logger's layout, committed to Git), drawn into one HTML file by each tool. The Vega bundle
that gitml inlines is cached per user; set-up warms it once (the first run on a machine
costs ~2.5 s more, once).

``live.*``: whole Python processes running a training loop. The overhead of one
``log_metric`` call is (loop with the calls - the same loop without them) / calls; DVCLive
runs when it is installed in the DVC venv (``pip install dvclive`` there).
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

from harness import DVC, DVC_VENV, GITML, WORK, Bench, sh, trash, workload

N_REVS, N_SERIES, N_STEPS = 5, 3, 10_000
SERIES_DIR = "gitml-live/plots/metrics"
PYTHON = str(Path(GITML).parent / "python") if os.path.isabs(GITML) else "python3"
DVC_PYTHON = str(DVC_VENV / "bin" / "python")


def _series(rev: int, k: int) -> str:
    rnd = random.Random(rev * 100 + k)
    rate = 0.0005 * (rev + 1) * (k + 1)
    rows = [f"{s}\t{1.0 / (1.0 + rate * s) + rnd.random() * 0.02:.6f}" for s in range(N_STEPS)]
    return "step\tvalue\n" + "\n".join(rows) + "\n"


def plots_repo(tool: str, bench: Bench) -> Path:
    root = WORK / f"plots-{tool}"
    trash(root)
    (root / SERIES_DIR).mkdir(parents=True)
    sh("git init -q", root, bench.env)
    if tool == "gitml":
        sh(f"{GITML} init -q", root, bench.env)
    else:
        sh(f"{DVC} init -q", root, bench.env)
        (root / "dvc.yaml").write_text(f"plots:\n  - {SERIES_DIR}:\n      x: step\n"
                                       "      y: value\n")
    for rev in range(N_REVS):
        for k in range(N_SERIES):
            (root / SERIES_DIR / f"m{k}.tsv").write_text(_series(rev, k))
        sh(f"git add -A && git commit -q -m r{rev} && git tag r{rev}", root, bench.env)
    return root


@workload("plots.diff")
def diff(bench: Bench) -> None:
    revs = " ".join(f"r{i}" for i in range(N_REVS))
    repos = {t: plots_repo(t, bench) for t in ("gitml", "dvc") if t == "gitml" or bench.with_dvc}
    out = repos["gitml"] / "out.html"
    sh(f"{GITML} plots diff {revs} -o {out}", repos["gitml"], bench.env)  # warm the JS cache
    tools = {"gitml": (lambda: repos["gitml"], f"{GITML} plots diff {revs} -o out.html")}
    if "dvc" in repos:
        tools["dvc"] = (lambda: repos["dvc"], f"{DVC} plots diff {revs} -o dvc_plots")
    bench.compare(f"plots diff {N_REVS} revs x {N_SERIES} series x {N_STEPS:,} steps", tools,
                  target="gitml <= 2 s, HTML <= 10 MB")
    size = out.stat().st_size
    print(f"# plots.diff: gitml HTML {size / 2**20:.2f} MiB (self-contained, offline)",
          flush=True)
    if "dvc" in repos:
        dvc_html = repos["dvc"] / "dvc_plots" / "index.html"
        print(f"# plots.diff: dvc HTML {dvc_html.stat().st_size / 2**20:.2f} MiB "
              "(loads Vega from a CDN)", flush=True)
    assert size <= 10 * 2**20, f"HTML is {size} bytes"


LOOP = """
import sys
N_STEPS, PER_STEP, CALL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "call"
from {module} import Live
live = Live({args})
names = [f"m{{k}}" for k in range(PER_STEP)]
for step in range(N_STEPS):
    v = step * 1e-6
    for name in names:
        if CALL:
            live.log_metric(name, v)
    live.next_step()
live.end() if hasattr(live, "end") else live.close()
"""


def _loop_script(root: Path, tool: str) -> Path:
    if tool == "gitml":
        code = LOOP.format(module="gitml", args="")
    else:
        code = LOOP.format(module="dvclive", args="save_dvc_exp=False, report=None")
    path = root / f"loop_{tool}.py"
    path.write_text(code)
    return path


def live_repo(tool: str, bench: Bench) -> Path:
    root = WORK / f"live-{tool}"
    trash(root)
    root.mkdir(parents=True)
    sh("git init -q && git commit -q --allow-empty -m init", root, bench.env)
    if tool == "gitml":
        sh(f"{GITML} init -q", root, bench.env)
    else:
        sh(f"{DVC} init -q", root, bench.env)
    _loop_script(root, tool)
    return root


def _has_dvclive() -> bool:
    return os.path.exists(DVC_PYTHON) and subprocess.run(
        [DVC_PYTHON, "-c", "import dvclive"], capture_output=True).returncode == 0


@workload("live.log_metric")
def log_metric(bench: Bench) -> None:
    root = live_repo("gitml", bench)
    steps, per = 100_000, 10  # 1,000,000 calls
    tools = {
        "loop without calls": (lambda: root, f"{PYTHON} loop_gitml.py {steps} {per} skip"),
        "gitml": (lambda: root, f"{PYTHON} loop_gitml.py {steps} {per} call"),
    }
    rows = bench.compare(f"Live: {steps * per:,} log_metric calls ({per} per step)", tools,
                         target="(gitml - loop) / calls <= 20 us")
    per_call = (rows["gitml"].median - rows["loop without calls"].median) / (steps * per)
    print(f"# live.log_metric: {per_call * 1e6:.2f} us per call (median difference)",
          flush=True)


@workload("live.loop")
def training_loop(bench: Bench) -> None:
    steps, per = 1_000, 10
    repos = {"gitml": live_repo("gitml", bench)}
    tools = {"gitml": (lambda: repos["gitml"], f"{PYTHON} loop_gitml.py {steps} {per} call")}
    if _has_dvclive():
        repos["dvclive"] = live_repo("dvclive", bench)
        tools["dvclive"] = (lambda: repos["dvclive"],
                            f"{DVC_PYTHON} loop_dvclive.py {steps} {per} call")
    bench.compare(f"training loop: {steps:,} steps x {per} metrics", tools,
                  target="gitml >= 10x faster than dvclive")
