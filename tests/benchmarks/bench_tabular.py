"""Tabular workloads (issue 9): `gitml data profile` and `gitml data diff --key` against DuckDB.

DuckDB (pinned in tests/benchmarks/requirements.txt) runs as a whole process too:
``python -c`` with the equivalent query, in the same run, interleaved with gitml.

    pip install -r tests/benchmarks/requirements.txt
    python tests/benchmarks/run.py data. --repeat 3
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from harness import DATA, GITML, WORK, Bench, sh, workload

PROFILE_ROWS = int(os.environ.get("GITML_BENCH_PROFILE_ROWS", "10000000"))
DIFF_ROWS = int(os.environ.get("GITML_BENCH_DIFF_ROWS", "5000000"))
PY = sys.executable
COLUMNS = ["user", "country", "category", "age", "score", "amount", "count", "flag", "ts"]

_GEN = r'''
import sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq

def ints(n, k, seed):
    return pc.cast(pc.floor(pc.multiply(pc.random(n, initializer=seed), k)), pa.int64())

def table(n, seed=1, start=0):
    # 10 columns: ids, 3 string columns (1e6, 50, 1000 distinct), ints, floats, bool, time
    ids = pc.add(pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1)), start - 1)
    def s(prefix, k, sd):
        return pc.binary_join_element_wise(prefix, pc.cast(ints(n, k, sd), pa.string()), "")
    return pa.table({
        "id": ids, "user": s("user_", 1_000_000, seed + 1), "country": s("c", 50, seed + 2),
        "category": s("cat-", 1000, seed + 3),
        "age": pc.cast(pc.add(ints(n, 72, seed + 4), 18), pa.int32()),
        "score": pc.random(n, initializer=seed + 5),
        "amount": pc.exp(pc.multiply(pc.random(n, initializer=seed + 6), 8)),
        "count": ints(n, 1_000_000, seed + 7),
        "flag": pc.less(pc.random(n, initializer=seed + 8), 0.3),
        "ts": pc.cast(pc.add(pc.multiply(ints(n, 365 * 86400, seed + 9), 1_000_000),
                             1_700_000_000_000_000), pa.timestamp("us"))})

def rem(ids, k):
    return pc.subtract(ids, pc.multiply(pc.divide(ids, k), k))

kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "profile":
    pq.write_table(table(n), out)
else:  # old and new: 0.25 % rows removed, 0.5 % modified, 0.25 % added
    old = table(n)
    pq.write_table(old, out + ".old")
    new = old.filter(pc.not_equal(rem(old["id"], 400), 7))
    mod = pc.equal(rem(new["id"], 200), 3)
    new = new.set_column(5, "score", pc.if_else(mod, pc.add(new["score"], 1.0), new["score"]))
    mod2 = pc.equal(rem(new["id"], 600), 3)
    new = new.set_column(2, "country", pc.if_else(mod2, pa.scalar("zz"), new["country"]))
    new = pa.concat_tables([new, table(n // 400, seed=99, start=n)])
    pq.write_table(new, out + ".new")
'''


def _generate(kind: str, n: int, out: Path) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    subprocess.run([PY, "-c", _GEN, kind, str(n), str(out)], check=True)


def profile_file() -> Path:
    path = DATA / f"tabular-profile-{PROFILE_ROWS}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        _generate("profile", PROFILE_ROWS, tmp)
        tmp.rename(path)
    return path


def diff_files() -> tuple[Path, Path]:
    base = DATA / f"tabular-diff-{DIFF_ROWS}"
    old, new = base.with_suffix(".old.parquet"), base.with_suffix(".new.parquet")
    if not (old.exists() and new.exists()):
        tmp = base.with_suffix(".tmp")
        _generate("diff", DIFF_ROWS, tmp)
        Path(str(tmp) + ".old").rename(old)
        Path(str(tmp) + ".new").rename(new)
    return old, new


def _duckdb(sql: str) -> str:
    code = ("import duckdb; c = duckdb.connect(); c.execute('SET enable_progress_bar=false'); "
            f"print(c.sql({sql!r}).fetchall())")
    return f"{shlex.quote(PY)} -c {shlex.quote(code)}"


def _have_duckdb() -> bool:
    return subprocess.run([PY, "-c", "import duckdb"], capture_output=True).returncode == 0


@workload("data.profile_10m")
def profile_10m(bench: Bench) -> None:
    src = profile_file()
    cwd = WORK / "tabular"
    cwd.mkdir(parents=True, exist_ok=True)

    def setup() -> Path:
        return cwd

    tools = {}
    if _have_duckdb():
        tools["duckdb"] = (setup, _duckdb(f"SUMMARIZE SELECT * FROM '{src}'"))
    tools["gitml"] = (setup, f"{GITML} data profile {shlex.quote(str(src))} --json")
    bench.compare(f"data profile ({PROFILE_ROWS:,} rows x 10 columns)", tools,
                  target="gitml <= 1.5x DuckDB SUMMARIZE")


def _diff_repo(bench: Bench, old: Path, new: Path) -> Path:
    """A repository with both versions committed as tracked data (built once per run)."""
    root = WORK / "tabular-diff-repo"
    if (root / "data.parquet.gitml").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    sh("git init -q", root, bench.env)
    sh(f"{GITML} init -q", root, bench.env)
    for i, src in enumerate((old, new)):
        sh(f"cp {shlex.quote(str(src))} data.parquet && {GITML} add -q data.parquet && "
           f"git add -A && git commit -q -m v{i + 1}", root, bench.env)
    return root


@workload("data.diff_5m_key")
def diff_5m_key(bench: Bench) -> None:
    old, new = diff_files()
    root = _diff_repo(bench, old, new)

    def setup() -> Path:
        return root

    both = "a.id IS NOT NULL AND b.id IS NOT NULL"
    changed = " OR ".join(f"a.{c} IS DISTINCT FROM b.{c}" for c in COLUMNS)
    per = ", ".join(f"count(*) FILTER (WHERE {both} AND a.{c} IS DISTINCT FROM b.{c})"
                    for c in COLUMNS)
    sql = (f"SELECT count(*) FILTER (WHERE a.id IS NULL), count(*) FILTER (WHERE b.id IS NULL),"
           f" count(*) FILTER (WHERE {both} AND ({changed})), {per} "
           f"FROM '{old}' a FULL OUTER JOIN '{new}' b ON a.id = b.id")
    tools = {}
    if _have_duckdb():
        tools["duckdb"] = (setup, _duckdb(sql))
    tools["gitml"] = (setup, f"{GITML} data diff HEAD~1 HEAD data.parquet --key id --json")
    bench.compare(f"data diff --key ({DIFF_ROWS:,} rows x 10 columns, 1% changed)", tools,
                  target="gitml <= 1.5x DuckDB full outer join + compare, peak <= 3 GB")
