"""gitml data synth: a synthetic twin keeps schema, marginals and correlations, copies no row,
leaks no rare value or key, and reports it; thresholds gate it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import git
from scipy.stats import ks_2samp, spearmanr

RARE = ["Liechtenstein", "Monaco", "San Marino", "Andorra", "Vatican"]


def customers(n: int = 4000, seed: int = 1) -> pa.Table:
    """A table with correlated numbers, categories, booleans, dates, nulls, text, a key."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    age = np.clip(np.rint(45 + 12 * x + rng.normal(0, 4, n)), 18, 90).astype(np.int16)
    spend = np.round(np.exp(3.5 + 0.5 * x + rng.normal(0, 0.3, n)), 2)
    country = rng.choice(["DE", "US", "FR", "GB"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    country[:len(RARE)] = RARE  # each once: must never appear in a synthetic row
    plan = np.where(x + rng.normal(0, 0.5, n) > 0.8, "pro", "free")
    churned = (-x + rng.normal(0, 1, n)) > 0.5
    signup = pa.array((19500 + np.clip(200 * x + 300, 0, 700)).astype(np.int32)).cast(pa.date32())
    seen = pa.array((1_700_000_000 + rng.integers(0, 10**7, n)) * 1_000_000,
                    pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    score = pa.array(rng.random(n).astype(np.float32), mask=rng.random(n) < 0.3)
    return pa.table({
        "user_id": pa.array(np.arange(1, n + 1), pa.int64()),
        "email": [f"user{i}@corp.example" for i in range(n)],
        "country": pa.array(country.tolist(), pa.string()),
        "age": pa.array(age, pa.int16()),
        "monthly_spend": pa.array(spend),
        "plan": pa.array(plan.tolist()).dictionary_encode(),
        "churned": pa.array(churned),
        "signup": signup,
        "last_seen": seen,
        "score": score,
    })


def as_float(col: pa.ChunkedArray) -> np.ndarray:
    """Numbers, dates and timestamps as floats (nulls dropped)."""
    col = pc.drop_null(col)
    if pa.types.is_date32(col.type):
        col = col.cast(pa.int32())
    elif pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    return col.cast(pa.float64()).to_numpy()


def put(path: Path, t: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, path)
    return path


def synth(cli, *args: str):
    return cli("data", "synth", *args)


@pytest.fixture
def src(repo: Path) -> Path:
    """data/customers.parquet, tracked and committed."""
    p = put(repo / "data" / "customers.parquet", customers())
    assert __import__("conftest").run_cli("add", "-q", "data/customers.parquet").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "customers")
    return p


def test_twin_keeps_schema_marginals_and_correlations(src: Path, repo: Path, cli) -> None:
    r = synth(cli, "data/customers.parquet", "--key", "user_id", "--seed", "7", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    out = repo / "data" / "customers.synth.parquet"
    assert d["written"] and out.exists() and d["output"]["path"] == "data/customers.synth.parquet"
    a, b = pq.read_table(src), pq.read_table(out)
    # same schema, but for the free-text column, which was dropped and said so
    assert b.schema.equals(a.schema.remove(a.schema.get_field_index("email")))
    assert d["columns"]["dropped"][0]["name"] == "email"
    assert "text" in d["columns"]["dropped"][0]["why"]
    assert b.num_rows == a.num_rows
    # each column's distribution, judged by scipy rather than by the code under test
    for c in ("age", "monthly_spend", "signup", "last_seen", "score"):
        assert ks_2samp(as_float(a[c]), as_float(b[c])).statistic < 0.05, c
    for c in ("country", "plan", "churned"):
        fa = {k: v / a.num_rows for k, v in
              zip(*[x.to_pylist() for x in pc.value_counts(a[c].cast(
                  a[c].type.value_type if pa.types.is_dictionary(a[c].type) else a[c].type))
                    .flatten()], strict=True)}
        fb = {k: v / b.num_rows for k, v in
              zip(*[x.to_pylist() for x in pc.value_counts(b[c].cast(
                  b[c].type.value_type if pa.types.is_dictionary(b[c].type) else b[c].type))
                    .flatten()], strict=True)}
        for k, p in fa.items():
            if p > 0.05:
                assert abs(fb.get(k, 0) - p) < 0.03, (c, k)
    # null rate kept; ints stay whole and in range; prices keep their cents
    assert abs(b["score"].null_count / b.num_rows - 0.3) < 0.03
    ages = b["age"].to_numpy()
    assert ages.min() >= 18 and ages.max() <= 90
    spend = b["monthly_spend"].to_numpy()
    assert np.allclose(spend, np.round(spend, 2), rtol=0, atol=1e-9)
    secs = pc.cast(b["last_seen"], pa.int64()).to_numpy()
    assert (secs % 1_000_000 == 0).all()  # whole seconds, like the source
    # correlations: Spearman between numbers, dates and booleans
    cols = ["age", "monthly_spend", "signup", "churned"]

    def rho(t: pa.Table) -> np.ndarray:
        m = np.column_stack([as_float(t[c]) for c in cols])
        return spearmanr(m).statistic

    ra, rb = rho(a), rho(b)
    assert abs(ra[0, 1]) > 0.6  # the source really is correlated
    assert np.abs(ra - rb).max() < 0.08, (ra, rb)
    assert d["fidelity"]["correlation"]["max_abs_diff"] < 0.08


def test_rare_values_keys_and_rows_never_leak(src: Path, repo: Path, cli) -> None:
    r = synth(cli, "data/customers.parquet", "-k", "user_id", "--replace", "email=null",
              "-o", "data/twin.parquet", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    a, b = pq.read_table(src), pq.read_table(repo / "data" / "twin.parquet")
    countries = set(b["country"].to_pylist())
    assert not countries & set(RARE)
    assert countries <= {"DE", "US", "FR", "GB", "(other)"} and "(other)" in countries
    pooled = d["privacy"]["pooling"]  # those of the five in the training part
    assert [p["column"] for p in pooled] == ["country"] and 1 <= pooled[0]["values"] <= 5
    # keys: unique, none of them a source key
    keys = b["user_id"].to_pylist()
    assert len(set(keys)) == len(keys) == b.num_rows
    assert not set(keys) & set(a["user_id"].to_pylist())
    # the text column kept as nulls
    assert b["email"].null_count == b.num_rows and b.schema.field("email").type == pa.string()
    # no synthetic row equals a source row on the modelled columns
    modelled = [c for c in a.column_names if c not in ("user_id", "email")]

    def rows(t: pa.Table) -> set:
        return set(zip(*[t[c].to_pylist() for c in modelled], strict=True))

    assert not rows(a) & rows(b)
    assert d["privacy"]["exact_copies"] == 0 and d["headline"]["exact_copies"] == 0


def test_string_keys_and_templates(repo: Path, cli) -> None:
    rng = np.random.default_rng(3)
    n = 500
    t = pa.table({"id": [f"syn-{i:02d}" for i in range(1, n + 1)],  # clashes with syn-NN
                  "v": rng.normal(size=n), "note": [f"free text {i}" for i in range(n)]})
    put(repo / "t.parquet", t)
    r = synth(cli, "t.parquet", "-k", "id", "--replace", "note=template:note #{n} ({n})",
              "--rows", "50", "-o", "t2.parquet")
    assert r.code == 0, r.err
    b = pq.read_table(repo / "t2.parquet")
    ids = b["id"].to_pylist()
    assert b.num_rows == 50 and len(set(ids)) == 50 and not set(ids) & set(t["id"].to_pylist())
    assert ids[0] == "syn1-01"
    assert b["note"].to_pylist()[:2] == ["note #1 (1)", "note #2 (2)"]


def test_same_seed_same_bytes_other_seed_other_rows(src: Path, repo: Path, cli) -> None:
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert synth(cli, "data/customers.parquet", "-k", "user_id", "--seed", seed, "-o",
                     f"{name}.parquet", "-q").code == 0
    a, b, c = ((repo / f"{n}.parquet").read_bytes() for n in "abc")
    assert a == b and a != c
    # CSV output is deterministic too, and CSV sources work
    assert synth(cli, "a.parquet", "-o", "a.csv", "-q").code == 0
    assert synth(cli, "a.parquet", "-o", "b.csv", "-q").code == 0
    assert (repo / "a.csv").read_bytes() == (repo / "b.csv").read_bytes()
    r = synth(cli, "a.csv", "-o", "from-csv.parquet", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["source"]["format"] == "csv"


def test_report_files_and_thresholds(src: Path, repo: Path, cli) -> None:
    r = synth(cli, "data/customers.parquet", "-k", "user_id", "--report", "rep.json",
              "-o", "twin.parquet")
    assert r.code == 0, r.err
    assert "fidelity 0.9" in r.out and "exact copies 0" in r.out and "DCR:" in r.out
    d = json.loads((repo / "rep.json").read_text())
    h = d["headline"]
    assert set(h) == {"fidelity", "correlation", "utility", "privacy", "exact_copies"}
    assert h["fidelity"] > 0.95 and h["correlation"] > 0.95 and h["privacy"] > 0.8
    assert d["rows"] == {"source": 4000, "training": 3200, "held_out": 800, "synthetic": 4000}
    cols = {c["name"]: c for c in d["fidelity"]["columns"]}
    assert cols["age"]["metric"] == "ks" and cols["country"]["metric"] == "tvd"
    assert all(0 <= c["distance"] < 0.06 for c in cols.values())
    m = d["fidelity"]["model"]  # scikit-learn is in the test extra: the check runs
    assert m["target"] == "churned" and m["metric"] == "balanced_accuracy"
    assert m["real"] > 0.6 and m["utility"] > 0.85 and m["test_rows"] == 800
    dcr = d["privacy"]["dcr"]
    assert dcr["expected_share"] == 0.8 and dcr["reference_rows"] == 4000
    assert abs(dcr["share_closer_to_training"] - 0.8) < 0.04 and dcr["reference_fraction"] == 1
    assert d["written"] and d["lineage"]["report"] == h
    assert synth(cli, "data/customers.parquet", "-k", "user_id", "--target", "age",
                 "--report", "rep.md", "-o", "twin2.parquet").code == 0
    md = (repo / "rep.md").read_text()
    assert md.startswith("### Synthetic table:") and "| age | number | ks |" in md
    assert "model check: age, r2" in md
    # a threshold that fails: exit 1, the report still printed and written, no output file
    r = synth(cli, "data/customers.parquet", "-k", "user_id", "--fail-under",
              "fidelity=0.999,privacy=0.5", "--report", "fail.json", "-o", "bad.parquet")
    assert r.code == 1 and "bad.parquet not written: fidelity 0.9" in r.err
    assert "FAIL  fidelity" in r.out and not (repo / "bad.parquet").exists()
    assert json.loads((repo / "fail.json").read_text())["written"] is False
    for bad in ("fidelity", "speed=0.5", "privacy=2", "utility=x"):
        r = synth(cli, "data/customers.parquet", "--fail-under", bad)
        assert r.code == 2 and "--fail-under" in r.err, bad


def test_copies_that_cannot_be_avoided_write_nothing(repo: Path, cli) -> None:
    rng = np.random.default_rng(0)
    put(repo / "flags.parquet", pa.table({"a": rng.random(300) < 0.5,
                                          "b": rng.random(300) < 0.3}))
    r = synth(cli, "flags.parquet", "-o", "flags2.parquet")
    assert r.code == 1 and "synthetic rows copy a source row" in r.err
    assert not (repo / "flags2.parquet").exists()


def test_bad_input_is_one_line_exit_2(src: Path, repo: Path, cli) -> None:
    cases = [
        (["--key", "uid"], "--key uid: data/customers.parquet has no such column "
                           "(columns: user_id, email, country"),
        (["--exclude", "nope"], "--exclude nope: data/customers.parquet has no such column"),
        (["--replace", "emial=null"], "--replace emial: data/customers.parquet has no such"),
        (["--replace", "email"], "expected COL=null, COL=category or COL=template:TEXT"),
        (["--replace", "email=fake"], "expected COL=null"),
        (["--replace", "age=template:x"], "a template makes text, and age is int16"),
        (["--replace", "age=category"], "age is int16, not text"),
        (["--key", "monthly_spend"], "a key must be an integer or string column"),
        (["--key", "age", "--exclude", "age"], "column age is named by both --key and "
                                               "--exclude"),
        (["--target", "email", "--exclude", "email"], "--target email: the column is "
                                                      "--exclude"),
        (["-o", "data/customers.parquet"], "is the source table itself"),
        (["-o", "twin.txt"], "the output must be a .parquet or .csv file"),
        (["-o", "nodir/twin.parquet"], "the directory nodir does not exist"),
        (["--report", "r.txt"], "expected a .json or .md file"),
        (["--report", "nodir/r.md"], "--report nodir/r.md: the directory nodir does not exist"),
    ]
    for args, msg in cases:
        r = synth(cli, "data/customers.parquet", *args)
        assert r.code == 2, (args, r.out, r.err)
        assert r.err.startswith("error: ") and msg in r.err, (args, r.err)
        assert r.err.count("\n") == 1
    assert not (repo / "data" / "customers.synth.parquet").exists()
    r = synth(cli, "missing.parquet")
    assert r.code == 2 and "missing.parquet does not exist" in r.err
    r = synth(cli)
    assert r.code == 2 and "missing SRC" in r.err
    put(repo / "empty.parquet", customers().slice(0, 0))
    r = synth(cli, "empty.parquet")
    assert r.code == 2 and "empty (0 rows): nothing to model" in r.err
    (repo / "tracked.parquet").write_bytes(b"")
    put(repo / "tracked.parquet", customers(50))
    git(repo, "add", "tracked.parquet")
    r = synth(cli, "data/customers.parquet", "-o", "tracked.parquet")
    assert r.code == 2 and "tracked.parquet is already tracked by Git" in r.err


def test_odd_tables(repo: Path, cli) -> None:
    """One row, constant and all-null columns, unsigned and decimal types, lists."""
    one = pa.table({"id": pa.array([7], pa.uint16()), "x": [1.5], "tag": ["only"]})
    put(repo / "one.parquet", one)
    # one distinct value in one row is text, dropped; the number alone would copy the row
    r = synth(cli, "one.parquet", "-k", "id", "--rows", "3", "-o", "one2.parquet")
    assert r.code == 1 and "3 synthetic rows copy a source row" in r.err
    assert "tag: dropped (text" in r.out and not (repo / "one2.parquet").exists()
    r = synth(cli, "one.parquet", "-k", "id", "--rows", "3", "-o", "one2.parquet",
              "--replace", "tag=category", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    b = pq.read_table(repo / "one2.parquet")
    assert b["id"].to_pylist() == [8, 9, 10] and b["x"].to_pylist() == [1.5, 1.5, 1.5]
    assert b["tag"].to_pylist() == ["(other)"] * 3  # seen once: pooled
    assert d["privacy"]["dcr"] is None and "skipped" in d["fidelity"]["model"]
    rng = np.random.default_rng(2)
    n = 400
    odd = pa.table({
        "const": pa.array(["same"] * n), "nothing": pa.nulls(n, pa.float64()),
        "u8": pa.array(rng.integers(0, 256, n), pa.uint8()),
        "price": pa.array([f"{v:.2f}" for v in rng.random(n) * 100]).cast(pa.decimal128(7, 2)),
        "half": pa.array(rng.random(n).astype(np.float16)),
        "tags": pa.array([[1, 2]] * n), "big": pa.array(rng.integers(0, 2**62, n), pa.uint64()),
        "t": pa.array(rng.integers(0, 86_400_000, n), pa.int32()).cast(pa.time32("ms")),
        "dur": pa.array(rng.integers(0, 1000, n), pa.int64()).cast(pa.duration("s")),
        "lbl": pa.array(rng.choice(["a", "b"], n).tolist(), pa.large_string())})
    put(repo / "odd.parquet", odd)
    r = synth(cli, "odd.parquet", "-o", "odd2.parquet", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    b = pq.read_table(repo / "odd2.parquet")
    assert [x["name"] for x in d["columns"]["dropped"]] == ["tags"]
    why = d["columns"]["dropped"][0]["why"]
    assert "int64> is not modelled; keep it as nulls with --replace tags=null" in why
    assert b.schema.equals(odd.schema.remove(odd.schema.get_field_index("tags")))
    assert set(b["const"].to_pylist()) == {"same"} and b["nothing"].null_count == n
    assert set(b["lbl"].to_pylist()) <= {"a", "b"}
    assert pc.min(b["price"]).as_py() >= 0 and pc.max(b["price"]).as_py() <= 100
    assert pc.max(b["big"]).as_py() < 2**62


def test_outside_a_repository_writes_but_does_not_track(tmp_path: Path, monkeypatch,
                                                        cli) -> None:
    monkeypatch.chdir(tmp_path)
    put(tmp_path / "c.parquet", customers(300))
    r = synth(cli, "c.parquet", "-k", "user_id")
    assert r.code == 0, r.err
    assert "wrote c.synth.parquet (300 rows) (not tracked: not inside a gitml repository)" in r.out
    assert not (tmp_path / "c.synth.parquet.gitml").exists()


def test_python_api(src: Path, repo: Path) -> None:
    from gitml import api

    res = api.data_synth("data/customers.parquet", "data/api.parquet", key=["user_id"],
                         replace={"email": "template:u{n}@example.com"}, seed=3)
    assert res.ok and res.written and res.pointer == "data/api.parquet.gitml"
    assert pq.read_table(repo / "data" / "api.parquet")["email"][0].as_py() == "u1@example.com"
    assert res.report["headline"]["exact_copies"] == 0
    assert api.data_synth_verify("data/api.parquet").ok
    res = api.data_synth("data/customers.parquet", "data/no.parquet", key=["user_id"],
                         fail_under={"fidelity": 1.0})
    assert not res.ok and not res.written and not (repo / "data" / "no.parquet").exists()


def test_missing_extra_says_how_to_install(monkeypatch, src: Path, cli) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "scipy.special", None)  # as if scipy were not installed
    r = synth(cli, "data/customers.parquet")
    assert r.code == 2
    assert r.err == ("error: gitml data synth needs numpy and scipy: "
                     "pip install 'gitml[synth]'\n")


def test_many_levels_keep_the_most_frequent_thousand(repo: Path, cli) -> None:
    rng = np.random.default_rng(4)
    levels = [f"city-{i:04d}" for i in range(1200)]
    values = [v for v in levels for _ in range(5)]
    rng.shuffle(values)
    n = len(values)
    put(repo / "cities.parquet", pa.table({"city": values, "x": rng.normal(size=n)}))
    r = synth(cli, "cities.parquet", "--min-count", "2", "-o", "c2.parquet", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    out = set(pq.read_table(repo / "c2.parquet")["city"].to_pylist())
    assert "(other)" in out and out - {"(other)"} <= set(levels)
    assert len(out - {"(other)"}) <= 1000
    assert d["privacy"]["pooling"][0]["values"] >= 200  # past the thousand, and the rare
    assert "skipped" in d["fidelity"]["model"]  # no target: 1,001 levels are too many
    r = synth(cli, "cities.parquet", "--min-count", "2", "--target", "city", "-o", "c3.parquet",
              "--json")
    assert json.loads(r.out)["fidelity"]["model"]["skipped"].startswith("city has ")
