"""Synthetic data workloads (issue 24): `gitml data synth` of 1,000,000 rows x 12 mixed
columns (target: under 60 s and 4 GB), and the DCR report on 100,000 rows (under 30 s).

There is no open-source peer to run (SDV and copulas are BUSL-1.1, not used here). The
reference row in each comparison is the floor every synthesiser pays: one process that
imports pyarrow, reads the same table and writes it back (``copy``), so the ratio says how
much the model, the sampling and the report add to reading and writing the data.

    python tests/benchmarks/run.py synth. --repeat 3 --no-dvc
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from harness import DATA, GITML, WORK, Bench, workload

ROWS = int(os.environ.get("GITML_BENCH_SYNTH_ROWS", "1000000"))
DCR_ROWS = int(os.environ.get("GITML_BENCH_DCR_ROWS", "100000"))
PY = sys.executable

_GEN = r'''
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq

n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(24)
x = rng.normal(size=n)                       # a latent factor most columns follow
y = 0.6 * x + 0.8 * rng.normal(size=n)
age = np.clip(np.rint(42 + 11 * x + rng.normal(0, 5, n)), 18, 95).astype(np.int32)
income = np.round(np.exp(10.3 + 0.35 * x + rng.normal(0, 0.4, n)), 2)
score = 1 / (1 + np.exp(-y))
visits = rng.poisson(np.exp(1.5 + 0.4 * y)).astype(np.int64)
signup = (18_000 + np.clip(300 * y + 900, 0, 1800)).astype(np.int32)
seen = (1_700_000_000 + rng.integers(0, 30_000_000, n)) * 1_000_000
countries = [f"c{i:02d}" for i in range(50)]
pc = np.exp(-np.arange(50) / 8); pc /= pc.sum()
segments = ["a", "b", "c", "d", "e", "f", "g", "h"]
seg = np.clip(np.rint(3.5 + 1.5 * y), 0, 7).astype(int)
products = rng.zipf(1.6, n) % 3000          # a long tail: rare values to pool
churned = (-x + rng.normal(0, 1, n)) > 0.7
balance = np.round(rng.gamma(2, 500, n) * (1 + 0.3 * x).clip(0.1), 2)
t = pa.table({
    "id": pa.array(np.arange(1, n + 1), pa.int64()),
    "age": age, "income": income, "score": score, "visits": visits,
    "signup": pa.array(signup).cast(pa.date32()),
    "last_seen": pa.array(seen).cast(pa.timestamp("us")),
    "country": pa.array(np.array(countries, dtype=object)[rng.choice(50, n, p=pc)].tolist()),
    "segment": pa.array(np.array(segments, dtype=object)[seg].tolist()),
    "product": pa.array([f"p{v}" for v in products.tolist()]),
    "churned": churned,
    "balance": pa.array(balance, mask=rng.random(n) < 0.1),
})
pq.write_table(t, out)
'''

_COPY = ("import sys, pyarrow.parquet as pq; "
         "pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], compression='zstd')")

_DCR = r'''
import sys, time
import numpy as np, pyarrow.parquet as pq
from gitml.tabular.synth.columns import SynthOptions
from gitml.tabular.synth.run import generate
from gitml.tabular.synth.privacy import dcr
src = pq.read_table(sys.argv[1])
g = generate(src, SynthOptions(key=("id",)), sys.argv[1])
t = time.perf_counter()
r = dcr(g.model, g.train, g.holdout, g.table, np.random.default_rng([0, 6]))
print(f"dcr {time.perf_counter() - t:.2f} s over {r.rows:,} rows "
      f"against {r.reference_rows:,} source rows: share {r.share_closer_to_training:.3f}",
      file=sys.stderr)
'''


def table_file(n: int) -> Path:
    path = DATA / f"synth-{n}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        subprocess.run([PY, "-c", _GEN, str(n), str(tmp)], check=True)
        tmp.rename(path)
    return path


def _compare(bench: Bench, name: str, src: Path, target: str) -> None:
    cwd = WORK / "synth"
    cwd.mkdir(parents=True, exist_ok=True)

    def setup() -> Path:
        for f in ("out.parquet", "copy.parquet"):
            (cwd / f).unlink(missing_ok=True)
        return cwd

    q = shlex.quote(str(src))
    bench.compare(name, {
        "copy (read + write)": (setup, f"{shlex.quote(PY)} -c {shlex.quote(_COPY)} {q} "
                                       "copy.parquet"),
        "gitml": (setup, f"{GITML} data synth {q} -o out.parquet --key id --seed 1 "
                         "--report report.json -q"),
    }, target=target)


@workload("synth.1m")
def synth_1m(bench: Bench) -> None:
    _compare(bench, f"data synth ({ROWS:,} rows x 12 columns, with report)", table_file(ROWS),
             "gitml < 60 s, < 4 GB peak")


@workload("synth.report_100k")
def synth_100k(bench: Bench) -> None:
    _compare(bench, f"data synth ({DCR_ROWS:,} rows x 12 columns, with report)",
             table_file(DCR_ROWS), "DCR report on 100,000 rows < 30 s")


@workload("synth.dcr_100k")
def dcr_100k(bench: Bench) -> None:
    """The DCR report alone, in one process with what it needs first (read, fit, draw); the
DCR's own time goes to stderr."""
    src = table_file(DCR_ROWS)
    cwd = WORK / "synth"
    cwd.mkdir(parents=True, exist_ok=True)
    q = shlex.quote(str(src))
    bench.compare(f"DCR report ({DCR_ROWS:,}-row source; fit + draw + DCR)", {
        # one BLAS thread per matrix product, as `gitml data synth` sets it
        "gitml": (lambda: cwd, f"OPENBLAS_NUM_THREADS=1 {shlex.quote(PY)} -c "
                               f"{shlex.quote(_DCR)} {q}"),
    }, target="DCR < 30 s")
