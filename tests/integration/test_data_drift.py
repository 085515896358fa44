"""gitml monitor drift: PSI, KS and category drift; thresholds from gitml.yaml; exit codes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, write


def put(path: Path, cols: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return path


def sample(n: int, seed: int, shift: float = 0.0, de: float = 0.5) -> dict:
    rnd = random.Random(seed)
    return {"age": [rnd.gauss(40 + shift, 10) for _ in range(n)],
            "country": ["DE" if rnd.random() < de else rnd.choice(["FR", "US"])
                        for _ in range(n)],
            "user_id": list(range(seed * n, seed * n + n)),
            "day": pa.array([int(rnd.gauss(19000 + shift * 10, 30)) for _ in range(n)],
                            pa.int32()).cast(pa.date32())}


def by_name(d: dict) -> dict:
    return {c["name"]: c for c in d["columns"]}


def test_same_distribution_passes(repo: Path, cli) -> None:
    put(repo / "ref.parquet", sample(5000, 1))
    put(repo / "cur.parquet", sample(3000, 2))
    write(repo / "gitml.yaml", "drift:\n  exclude: [user_id]\n")
    r = cli("monitor", "drift", "ref.parquet", "cur.parquet")
    assert r.code == 0, r.out + r.err
    assert "0 of 3 columns drifted (thresholds: psi 0.2, ks 0.1, frequency 0.1)" in r.out
    d = json.loads(cli("monitor", "drift", "ref.parquet", "cur.parquet", "--json").out)
    cols = by_name(d)
    assert cols["age"]["kind"] == "numeric" and cols["age"]["psi"] < 0.05
    assert cols["age"]["ks"] < 0.05 and cols["age"]["ks_pvalue"] > 0.01
    assert cols["country"]["kind"] == "categorical" and cols["country"]["frequency"] < 0.05
    assert "user_id" not in cols and d["drifted"] == []


def test_shifted_numbers_and_categories_drift_exit_1(repo: Path, cli) -> None:
    put(repo / "data" / "train.parquet", sample(5000, 1))
    assert cli("add", "-q", "data/train.parquet").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "train")
    git(repo, "tag", "v1.0")
    put(repo / "prod" / "batch.parquet", sample(4000, 3, shift=8, de=0.1))
    r = cli("monitor", "drift", "v1.0:data/train.parquet", "prod/batch.parquet", "--json")
    assert r.code == 1 and "drift above threshold in age, country, user_id, day" in r.err
    cols = by_name(json.loads(r.out))
    assert cols["age"]["status"] == "drift" and cols["age"]["ks"] > 0.25
    assert cols["age"]["psi"] > 0.2
    assert cols["country"]["frequency"] > 0.3 and cols["country"]["status"] == "drift"
    assert cols["user_id"]["status"] == "drift"  # disjoint ids: PSI says so
    assert cols["day"]["kind"] == "numeric" and cols["day"]["ks"] > 0.5
    text = cli("monitor", "drift", "v1.0:data/train.parquet", "prod/batch.parquet")
    assert "DRIFT: psi" in text.out and "v1.0:data/train.parquet (5,000 rows)" in text.out
    # thresholds from gitml.yaml, per column, and from the command line
    write(repo / "gitml.yaml", "drift:\n  psi: 100\n  ks: 1\n  frequency: 1\n"
          "  columns:\n    country: {frequency: 0.2}\n  exclude: [user_id]\n")
    r = cli("monitor", "drift", "v1.0:data/train.parquet", "prod/batch.parquet", "--json")
    assert r.code == 1 and json.loads(r.out)["drifted"] == ["country"], r.out
    r = cli("monitor", "drift", "v1.0:data/train.parquet", "prod/batch.parquet",
            "--frequency", "1")
    assert r.code == 1  # per-column threshold from gitml.yaml still applies
    write(repo / "gitml.yaml", "drift:\n  psi: 100\n  ks: 1\n  frequency: 1\n"
          "  exclude: [user_id]\n")
    r = cli("monitor", "drift", "v1.0:data/train.parquet", "prod/batch.parquet")
    assert r.code == 0


def test_missing_retyped_and_new_columns(repo: Path, cli) -> None:
    put(repo / "ref.parquet", {"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"], "c": [1, 2, 3]})
    put(repo / "cur.parquet", {"a": [1.0, 2.0, 3.0], "b": [1, 2, 3], "d": [0, 0, 0]})
    r = cli("monitor", "drift", "ref.parquet", "cur.parquet", "--json")
    assert r.code == 1
    cols = by_name(json.loads(r.out))
    assert cols["a"]["status"] == "ok"
    assert cols["b"]["kind"] == "retyped" and cols["c"]["kind"] == "missing"
    assert cols["d"]["status"] == "new"


@pytest.mark.parametrize("yaml_text,words", [
    ("drift:\n  psy: 0.1\n", "unknown key"),
    ("drift:\n  psi: -1\n", "expected a number >= 0"),
    ("drift:\n  bins: 1\n", "whole number from 2 to 100"),
    ("drift:\n  columns: {a: {pis: 1}}\n", "unknown threshold 'pis'"),
    ("drift:\n  exclude: a\n", "expected a list of column names"),
])
def test_bad_config_exit_2(repo: Path, cli, yaml_text: str, words: str) -> None:
    put(repo / "ref.parquet", {"a": [1.0, 2.0]})
    write(repo / "gitml.yaml", yaml_text)
    r = cli("monitor", "drift", "ref.parquet", "ref.parquet")
    assert r.code == 2 and words in r.err and "gitml.yaml" in r.err, r.err


@pytest.mark.parametrize("yaml_text,line", [
    ("drift:\n  exclude: [user_id, usr_id]\n",
     "error: gitml.yaml: drift: exclude: unknown column 'usr_id' (available: age, country, "
     "user_id, day, extra)"),
    ("drift:\n  columns:\n    agee: {psi: 0.3}\n    Country: {frequency: 0.2}\n",
     "error: gitml.yaml: drift: columns: unknown columns 'agee', 'Country' (available: age, "
     "country, user_id, day, extra)"),
])
def test_unknown_column_in_exclude_or_columns_exit_2(repo: Path, cli, yaml_text: str,
                                                     line: str) -> None:
    put(repo / "ref.parquet", sample(500, 1))
    put(repo / "cur.parquet", {**sample(500, 2), "extra": list(range(500))})
    write(repo / "gitml.yaml", yaml_text)
    before = {p: p.read_bytes() for p in repo.iterdir() if p.is_file()}
    for extra in ((), ("--json",)):
        r = cli("monitor", "drift", "ref.parquet", "cur.parquet", *extra)
        assert (r.code, r.err.strip(), r.out) == (2, line, "")
    assert {p: p.read_bytes() for p in repo.iterdir() if p.is_file()} == before
    # a column only the current data has may be excluded
    write(repo / "gitml.yaml", "drift:\n  exclude: [user_id, extra]\n")
    r = cli("monitor", "drift", "ref.parquet", "cur.parquet", "--json")
    assert r.code == 0 and "extra" not in by_name(json.loads(r.out))


def test_empty_and_unreadable_tables_exit_2(repo: Path, cli) -> None:
    put(repo / "ref.parquet", {"a": [1.0, 2.0]})
    put(repo / "empty.parquet", {"a": pa.array([], pa.float64())})
    write(repo / "x.txt", "hello")
    r = cli("monitor", "drift", "ref.parquet", "empty.parquet")
    assert r.code == 2 and "empty.parquet: the current table is empty (0 rows)" in r.err
    r = cli("monitor", "drift", "empty.parquet", "ref.parquet")
    assert r.code == 2 and "reference table is empty" in r.err
    r = cli("monitor", "drift", "ref.parquet", "x.txt")
    assert r.code == 2 and "not a Parquet or CSV file" in r.err


def test_drift_outside_a_repository(tmp_path: Path, monkeypatch, cli) -> None:
    monkeypatch.chdir(tmp_path)
    put(tmp_path / "a.parquet", {"v": [1.0, 2.0, 3.0, 4.0]})
    r = cli("monitor", "drift", "a.parquet", "a.parquet", "--json")
    assert r.code == 0 and json.loads(r.out)["columns"][0]["psi"] == 0.0


def test_negative_or_bad_threshold_overrides_exit_2(repo: Path, cli) -> None:
    put(repo / "ref.parquet", {"a": [1.0, 2.0, 3.0]})
    r = cli("monitor", "drift", "ref.parquet", "ref.parquet", "--psi", "-1")
    assert r.code == 2 and "--psi" in r.err, r.err
    from gitml import api
    from gitml.errors import BadInputError

    with pytest.raises(BadInputError, match="expected a number >= 0"):
        api.drift("ref.parquet", "ref.parquet", {"ks": -0.5})
    with pytest.raises(BadInputError, match="unknown drift threshold 'pis'"):
        api.drift("ref.parquet", "ref.parquet", {"pis": 0.1})
