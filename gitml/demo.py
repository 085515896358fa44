"""``gitml demo [DIR]``: a small ML project built from scratch, versioned end to end.

It makes a Git repository, a deterministic synthetic Parquet data set (pyarrow), a
two-stage pipeline (prepare, train: pure Python logistic regression), runs it, commits
it, runs three experiments (one directly, two queued and run in parallel), then shows
them side by side and compares the best one with main. Every step prints the command a
user would type; every command runs for real, through the same code as the CLI.
"""

from __future__ import annotations

import math
import os
import random
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gitml import gitio
from gitml.errors import BadInputError, GitmlError

ROWS = 3000
SEED = 7

PARAMS = """\
# Params of the demo pipeline. Experiments change them with -S, e.g.
#   gitml exp run -S train.lr=0.3
prepare:
  split: 0.2      # share of rows held out for validation
  seed: 42
train:
  lr: 0.002       # learning rate of the SGD steps
  epochs: 1       # passes over the training rows
  l2: 0.05        # weight decay
  seed: 0
"""

PREPARE = '''\
"""Split data/raw.parquet into train/val and standardise the features (train stats)."""
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

p = yaml.safe_load(open("params.yaml"))["prepare"]
table = pq.read_table("data/raw.parquet")
features = [c for c in table.column_names if c.startswith("f")]
rows = table.to_pylist()
random.Random(p["seed"]).shuffle(rows)
n_val = int(len(rows) * p["split"])
val, train = rows[:n_val], rows[n_val:]
stats = {}
for f in features:
    xs = [r[f] for r in train]
    mean = sum(xs) / len(xs)
    std = (sum((x - mean) ** 2 for x in xs) / len(xs)) ** 0.5 or 1.0
    stats[f] = (mean, std)
os.makedirs("data/prepared", exist_ok=True)
for name, part in (("train", train), ("val", val)):
    out = {f: [(r[f] - stats[f][0]) / stats[f][1] for r in part] for f in features}
    out["label"] = [r["label"] for r in part]
    pq.write_table(pa.table(out), f"data/prepared/{name}.parquet")
print(f"prepared {len(train)} training and {len(val)} validation rows")
'''

TRAIN = '''\
"""Logistic regression by stochastic gradient descent, in pure Python."""
import json
import math
import os
import random

import pyarrow.parquet as pq
import yaml

p = yaml.safe_load(open("params.yaml"))["train"]


def load(path):
    t = pq.read_table(path).to_pydict()
    y = t.pop("label")
    names = sorted(t)
    return names, [list(x) for x in zip(*(t[n] for n in names))], y


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


names, X, y = load("data/prepared/train.parquet")
_, Xv, yv = load("data/prepared/val.parquet")
w, b = [0.0] * len(names), 0.0
rng = random.Random(p["seed"])
order = list(range(len(X)))
for epoch in range(p["epochs"]):
    rng.shuffle(order)
    for i in order:
        x = X[i]
        g = sigmoid(b + sum(wj * xj for wj, xj in zip(w, x))) - y[i]
        w = [wj - p["lr"] * (g * xj + p["l2"] * wj) for wj, xj in zip(w, x)]
        b -= p["lr"] * g


def score(X, y):
    probs = [sigmoid(b + sum(wj * xj for wj, xj in zip(w, x))) for x in X]
    acc = sum((q > 0.5) == bool(t) for q, t in zip(probs, y)) / len(y)
    loss = -sum(math.log(q if t else 1 - q) for q, t in zip(probs, y)) / len(y)
    return {"acc": round(acc, 4), "loss": round(loss, 4)}


metrics = {"val": score(Xv, yv), "train": score(X, y)}
os.makedirs("model", exist_ok=True)
json.dump({"features": names, "weights": w, "bias": b}, open("model/model.json", "w"))
json.dump(metrics, open("metrics.json", "w"), indent=2)
print(f"val acc {metrics['val']['acc']:.4f}, val loss {metrics['val']['loss']:.4f}")
'''

PIPELINE = """\
stages:
  prepare:
    cmd: {python} prepare.py
    deps: [prepare.py, data/raw.parquet]
    params: [prepare]
    outs: [data/prepared]
  train:
    cmd: {python} train.py
    deps: [train.py, data/prepared]
    params: [train]
    outs: [model]
    metrics: [metrics.json]
metrics:
  - path: metrics.json
    keys:
      "*.acc": higher
      "*.loss": lower
"""


@dataclass
class DemoResult:
    path: str
    experiments: list[str] = field(default_factory=list)
    best: str = ""
    seconds: float = 0.0


def make_data(path: str, rows: int = ROWS, seed: int = SEED) -> None:
    """A deterministic binary classification set: 4 features, one unscaled, some noise."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    cols: dict[str, list[float] | list[int]] = {"id": list(range(rows))}
    feats: list[list[float]] = [[], [], [], []]
    labels: list[int] = []
    for _ in range(rows):
        x = [rng.gauss(0, 1) for _ in range(4)]
        z = -2.5 + 2.4 * x[0] - 3.0 * x[1] + 1.2 * x[2] + 0.1 * x[3]
        labels.append(1 if rng.random() < 1 / (1 + math.exp(-z)) else 0)
        x[2] = 5 + 30 * x[2]  # a feature on another scale: why prepare standardises
        for j in range(4):
            feats[j].append(round(x[j], 6))
    for j in range(4):
        cols[f"f{j + 1}"] = feats[j]
    cols["label"] = labels
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table(cols), path)


def python_command() -> str:
    """``python`` when that is this interpreter, else this interpreter's full path."""
    found = shutil.which("python")
    if found and os.path.realpath(found) == os.path.realpath(sys.executable):
        return "python"
    return shlex.quote(sys.executable)


def check_target(path: str) -> str:
    full = os.path.abspath(path)
    if _taken(full):
        raise BadInputError(f"{path} already exists and is not empty; try: gitml demo "
                            f"{shlex.quote(free_name(path))}")
    return full


def _taken(full: str) -> bool:
    return os.path.lexists(full) and (not os.path.isdir(full) or bool(os.listdir(full)))


def free_name(path: str) -> str:
    """``path-2``, ``path-3``, ...: the first that does not exist or is an empty folder."""
    base = path.rstrip("/") or path
    i = 2
    while _taken(os.path.abspath(f"{base}-{i}")):
        i += 1
    return f"{base}-{i}"


def demo(path: str, say: Callable[[str], None] = print) -> DemoResult:
    """Build and run the demo project in ``path`` (new or empty); narrate through ``say``."""
    from gitml.cli.main import run as gitml

    full = check_target(path)
    t0 = time.monotonic()
    result = DemoResult(full)
    os.makedirs(full, exist_ok=True)
    old = os.getcwd()
    os.chdir(full)
    try:
        def step(title: str) -> None:
            say(f"\n== {title}")

        def cmd(*args: str) -> None:
            say("$ gitml " + shlex.join(args))
            code = gitml(list(args))
            if code not in (0, None):
                raise GitmlError(f"'gitml {shlex.join(args)}' failed (exit {code}) in {full}")

        def git(*args: str, show: bool = True) -> str:
            if show:
                say("$ git " + shlex.join(args))
            return gitio.run(full, *args).decode()

        say(f"gitml demo: a small machine-learning project, versioned from scratch, in {full}")
        step("1. A Git repository with gitml in it")
        git("init", "-q", "-b", "main")
        if not gitio.run(full, "config", "user.email", check=False).strip():
            git("config", "user.name", "gitml demo", show=False)
            git("config", "user.email", "demo@gitml.invalid", show=False)
            say("(no Git identity is configured: this repository uses 'gitml demo')")
        cmd("init")

        step("2. Data: a synthetic Parquet data set, tracked by gitml")
        make_data(os.path.join(full, "data", "raw.parquet"))
        say(f"Wrote data/raw.parquet: {ROWS:,} rows; columns id, f1..f4, label "
            "(made with pyarrow, seed 7: the same bytes every time)")
        cmd("add", "data/raw.parquet")

        step("3. Code, params and a two-stage pipeline (prepare -> train)")
        files = {"prepare.py": PREPARE, "train.py": TRAIN, "params.yaml": PARAMS,
                 "gitml.yaml": PIPELINE.format(python=python_command())}
        for name, text in files.items():
            with open(name, "w") as f:
                f.write(text)
        say("Wrote prepare.py, train.py (logistic regression in pure Python), params.yaml "
            "and gitml.yaml:")
        say("\n".join("    " + ln for ln in files["gitml.yaml"].splitlines()[:11]))
        cmd("repro")

        step("4. Commit the baseline: code, params, metrics, gitml.lock and pointers")
        git("add", "-A")
        git("commit", "-q", "-m", "Baseline: logistic regression, lr 0.002, 1 epoch")
        say(git("log", "--oneline", "-1", show=False).rstrip())

        step("5. Three experiments, each on its own branch")
        say("One now, with a higher learning rate:")
        cmd("exp", "run", "-S", "train.lr=0.05")
        say("\nTwo more queued (more epochs, a sweep over weight decay), then run two at a "
            "time:")
        cmd("exp", "run", "--queue", "-S", "train.lr=0.01", "-S", "train.epochs=4",
            "-S", "train.l2=0.001,0.1")
        cmd("exp", "run", "--run-all", "--jobs", "2")

        step("6. Compare")
        cmd("exp", "show", "--only-changed")
        from gitml.experiments.api import best

        result.best = best("val.acc", maximize=True)
        say("$ gitml exp best --metric val.acc --max")
        say(result.best)
        cmd("metrics", "diff", "main", result.best)
        from gitml.experiments.refs import listing

        result.experiments = [e.name for e in listing(_repo(full)).experiments]
        result.seconds = time.monotonic() - t0
        say(f"\nDone in {result.seconds:.1f} s. Your workspace is still on main, untouched; "
            f"each experiment is a branch:")
        hints = [(f"cd {shlex.quote(full)}", ""),
                 ("git log --oneline --all",
                  f"{len(result.experiments)} experiment branches next to main"),
                 (f"gitml exp diff main {result.best}", "params and metrics side by side"),
                 (f"gitml exp apply {result.best}", "the best one into the workspace")]
        width = max(len(c) for c, _ in hints) + 2
        for c, why in hints:
            say(f"    {c.ljust(width)}{'# ' + why if why else ''}".rstrip())
    finally:
        os.chdir(old)
    return result


def _repo(path: str):  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo(path)
