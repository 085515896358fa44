"""Experiments on a Ray cluster (issue 20) against the same queue run locally.

The project: a 50 MiB tracked input (seeded bytes) and one stage that reads and hashes it,
sleeps 5 s (the "training") and writes a small model and metrics. Each sample queues
fresh experiments (new seeds, new names, so nothing is restored from a run cache) in a
fresh copy of the project, whose input is already on the data remote (a real SeaweedFS
S3 server) and whose main is on the Git remote (a real ``git daemon``), as a team's
would be.

* ``ray.queue_8x5s``: 8 queued experiments, ``--jobs 2`` here vs ``--executor ray`` on a
  one-node cluster of 2 CPUs. Both have two slots, so the difference is what running
  elsewhere costs: overhead per experiment = (ray - local) x 2 slots / 8 (ship, clone,
  pull 50 MiB, push back, fetch the branch).
* ``ray.grid_20_2node``: 20 experiments on a 2-node cluster (2 + 2 CPUs); ideal
  = 20 x 5 s / 4 CPUs = 25 s; the target is 1.2 x ideal plus the overhead of the 5
  experiments each slot runs.

The cluster's nodes advertise 127.0.0.2 (tests/raycluster.py) and keep a node cache
(GITML_WORKER_CACHE); the stage sleeps, so four Ray CPUs on this 2-core machine measure
scheduling, not arithmetic. After the timed samples, one untimed batch with --json prints
the median seconds of each step on the workers (git, data, run, push).
"""

from __future__ import annotations

import random
import shutil
import sys
from itertools import count
from pathlib import Path

from harness import DATA, GITML, WORK, Bench, sh, trash, workload

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fixtures

STAGE_SECONDS = 5
TRAIN = f"""\
import hashlib, json, time
import yaml
p = yaml.safe_load(open("params.yaml"))["train"]
digest = hashlib.sha256(open("data/input.bin", "rb").read()).hexdigest()
time.sleep({STAGE_SECONDS})
open("model.bin", "w").write(f"{{digest}} {{p['seed']}}\\n")
json.dump({{"score": p["seed"] % 7}}, open("metrics.json", "w"))
"""
_samples = count(1)


def _input() -> Path:
    path = DATA / "ray-input-50mib.bin"
    if not path.exists() or path.stat().st_size != 50 << 20:
        DATA.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random.Random(20).randbytes(50 << 20))
    return path


class Site:
    """The remotes and the cluster of one workload, and a base project that uses them."""

    def __init__(self, bench: Bench, name: str, second: int) -> None:
        import raycluster
        import s3server
        from gitdaemon import GitDaemon

        self.bench, self.root = bench, WORK / name
        trash(self.root)
        (self.root / "served").mkdir(parents=True)
        self.s3 = s3server.S3Server(self.root / "s3")
        self.s3.start()
        sh("git init -q --bare served/origin.git", self.root, bench.env)
        self.daemon = GitDaemon(self.root / "served", push=True)
        self.daemon.start("origin.git")
        creds = {k: v for k, v in self.s3.env().items() if k != "AWS_ENDPOINT_URL"}
        # each node keeps a store of its own (GITML_WORKER_CACHE), as docs/experiments.md
        # recommends for a node that runs more than one experiment
        self.cluster = raycluster.RayCluster(
            [], env={**creds, "GITML_WORKER_CACHE": str(self.root / "node1-cache")})
        self.cluster.start(cpus=2, second=second,
                           second_env={"GITML_WORKER_CACHE": str(self.root / "node2-cache")})
        self.base = self._project()

    def _project(self) -> Path:
        env, root = self.bench.env, self.root / "base"
        root.mkdir()
        sh("git init -q", root, env)
        sh(f"{GITML} init -q", root, env)
        (root / "data").mkdir()
        shutil.copyfile(_input(), root / "data" / "input.bin")
        (root / "train.py").write_text(TRAIN)
        (root / "params.yaml").write_text("train:\n  seed: 0\n")
        (root / "gitml.yaml").write_text(
            f"stages:\n  train:\n    cmd: {sys.executable} train.py\n"
            "    deps: [train.py, data/input.bin]\n    params: [train]\n"
            "    outs: [model.bin]\n    metrics: [metrics.json]\n")
        sh(f"{GITML} add -q data/input.bin", root, env)
        url = f"s3://{self.s3.bucket}/bench/store"
        for cmd in (f"remote add storage {url} --default",
                    f"remote modify storage endpoint_url {self.s3.endpoint}",
                    f"remote modify --local storage access_key_id {self.s3.access_key}",
                    f"remote modify --local storage secret_access_key {self.s3.secret_key}",
                    f"config --local exp.ray.address {self.cluster.address}"):
            sh(f"{GITML} {cmd}", root, env)
        sh(f"git add -A && git commit -qm base && git remote add origin "
           f"{self.daemon.url('origin.git')} && git push -q origin main", root, env)
        sh(f"{GITML} push -q", root, env)  # the input is on the data remote already
        return root

    def queued(self, n: int, tag: str) -> Path:
        """A fresh copy of the project with ``n`` queued experiments of new seeds."""
        k = next(_samples)
        root = self.root / f"{tag}-{k}"
        trash(root)
        shutil.copytree(self.base, root, symlinks=True)
        seeds = ",".join(str(k * 1000 + i) for i in range(1, n + 1))
        sh(f"{GITML} exp run -q --queue -n s{k} -S train.seed={seeds}", root, self.bench.env)
        return root

    def phases(self, n: int, slots: int) -> None:
        """One more batch of ``n`` with --json (not in the table): the median seconds of
        each step on the workers, and how much of the batch's wall time the ``slots`` were
        busy with them (the rest: the client's own work and Ray's scheduling)."""
        import json
        import statistics
        import time

        root = self.queued(n, "phases")
        t0 = time.monotonic()
        out = json.loads(sh(f"{GITML} exp run --run-all --executor ray --json", root,
                            self.bench.env))
        wall = time.monotonic() - t0
        steps = [r.get("phases") or {} for r in out]
        med = {k: statistics.median(p.get(k, 0.0) for p in steps) for k in steps[0]}
        busy = sum(sum(p.values()) for p in steps) / slots
        print("# worker steps, median s: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items())
              + f"; slots busy {busy:.1f} s of {wall:.1f} s wall", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.cluster.destroy()
        self.daemon.stop()
        self.s3.destroy()


@workload("ray.queue_8x5s")
def queue_8x5s(bench: Bench) -> None:
    """8 queued 5-second experiments: here with --jobs 2, and on a 2-CPU Ray node."""
    site = Site(bench, "ray-8", second=0)
    try:
        tools = {
            "gitml --jobs 2": (lambda: site.queued(8, "local"),
                               f"{GITML} exp run -q --run-all --jobs 2"),
            "gitml --executor ray": (lambda: site.queued(8, "ray"),
                                     f"{GITML} exp run -q --run-all --executor ray"),
        }
        rows = bench.compare("ray.queue_8x5s", tools, target="overhead < 2 s per experiment")
        local, ray = rows["gitml --jobs 2"].median, rows["gitml --executor ray"].median
        over = (ray - local) * 2 / 8
        print(f"# ray.queue_8x5s: local {local:.1f} s, ray {ray:.1f} s, ideal "
              f"{8 * STAGE_SECONDS / 2:.0f} s; overhead per experiment {over:.2f} s",
              file=sys.stderr, flush=True)
        site.phases(8, 2)
    finally:
        site.close()


@workload("ray.grid_20_2node")
def grid_20_2node(bench: Bench) -> None:
    """A 20-experiment grid on a 2-node cluster of 4 CPUs."""
    site = Site(bench, "ray-20", second=2)
    try:
        tools = {"gitml --executor ray": (lambda: site.queued(20, "grid"),
                                          f"{GITML} exp run -q --run-all --executor ray")}
        rows = bench.compare("ray.grid_20_2node", tools,
                             target="<= 1.2 x 25 s + 5 x overhead")
        t = rows["gitml --executor ray"].median
        ideal = 20 * STAGE_SECONDS / 4
        print(f"# ray.grid_20_2node: {t:.1f} s, ideal {ideal:.0f} s, {t / ideal:.2f}x ideal",
              file=sys.stderr, flush=True)
        site.phases(20, 4)
    finally:
        site.close()
