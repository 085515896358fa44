"""gitml data check: rules from gitml.yaml, reports, exit codes, rule parse errors."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, write

from gitml.repo import Repo
from gitml.tabular.checks import run_checks


def put(path: Path, cols: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return path


GOOD = {"id": [1, 2, 3, 4], "country": ["DE", "FR", "US", "DE"],
        "age": [20, 35, 50, 64], "email": ["a@x.io", "b@x.io", "c@y.io", "d@y.io"],
        "day": [datetime.date(2026, 1, d) for d in (1, 2, 3, 4)]}

RULES = """checks:
  data/users.parquet:
    rows: {min: 2, max: 100}
    schema:
      columns: {id: int64, country: string, age: int, email: string, day: date}
      extra: false
    not_null: [id, country]
    unique: [id, [country, age]]
    max_null_fraction: 0.25
    columns:
      age: {min: 18, max: 99}
      country: {allowed: [DE, FR, US]}
      email: {regex: '^[^@]+@[^@]+$'}
      day: {min: '2026-01-01'}
"""


def rules_by(report: dict) -> dict[str, dict]:
    return {r["check"]: r for f in report["results"] for r in f["results"]}


def test_clean_data_passes(repo: Path, cli) -> None:
    put(repo / "data" / "users.parquet", GOOD)
    write(repo / "gitml.yaml", RULES)
    r = cli("data", "check")
    assert r.code == 0, r.out + r.err
    assert "data/users.parquet  (4 rows)" in r.out and "FAIL" not in r.out
    assert "0 failed" in r.out
    j = json.loads(cli("data", "check", "--json").out)
    assert j["ok"] is True and j["failed"] == 0 and j["rules"] == 12


def test_each_violation_is_named_with_count_and_rows(repo: Path, cli) -> None:
    bad = {"id": [1, 2, 2, 4, 5], "country": ["DE", "XX", None, "DE", "DE"],
           "age": [20, 7, 50, 120, 20], "email": ["a@x.io", "nope", "c@y.io", None, "e@y"],
           "day": [datetime.date(2025, 12, 31)] + [datetime.date(2026, 1, 2)] * 4,
           "extra": [0] * 5}
    put(repo / "data" / "users.parquet", bad)
    write(repo / "gitml.yaml", RULES)
    r = cli("data", "check")
    assert r.code == 1
    assert "checks failed" in r.err
    j = json.loads(cli("data", "check", "--json").out)
    by = rules_by(j)
    assert by["country not null"]["count"] == 1
    assert by["country not null"]["samples"][0]["_row"] == 2
    assert by["id unique"]["count"] == 2 and by["id unique"]["samples"][0] == {"id": 2,
                                                                               "count": 2}
    assert by["country+age unique"]["count"] == 2
    assert by["age >= 18"]["count"] == 1 and by["age >= 18"]["samples"][0]["age"] == 7
    assert by["age <= 99"]["count"] == 1
    assert by["country in [DE, FR, US]"]["count"] == 1
    assert by["email matches '^[^@]+@[^@]+$'"]["count"] == 1
    assert by["day >= 2026-01-01"]["count"] == 1
    assert by["schema (5 columns, no others)"]["message"] == "unexpected column extra"
    assert by["nulls <= 25.00% in every column"]["ok"] is True
    assert by["rows >= 2 and <= 100"]["ok"] is True
    assert "FAIL  age >= 18: 1 row below 18" in r.out
    assert "row 1: id=2, country=XX, age=7" in r.out


def test_schema_types_missing_columns_and_row_bounds(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"a": [1.5, 2.5]})
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    rows: {min: 3}\n"
          "    schema: {columns: {a: int, b: string}}\n    columns: {b: {not_null: true}}\n")
    j = json.loads(cli("data", "check", "--json").out)
    by = rules_by(j)
    assert by["schema (2 columns)"]["message"] == ("a is double, expected int; "
                                                   "missing column b")
    assert by["b not null"]["message"] == "column 'b' does not exist"
    assert by["rows >= 3"]["message"] == "2 rows, expected at least 3"


def test_globs_tracked_directories_targets_and_no_match(repo: Path, cli) -> None:
    put(repo / "data" / "a.parquet", {"v": [1, 2]})
    put(repo / "data" / "b.parquet", {"v": [None, 2]})
    put(repo / "parts" / "p1.parquet", {"v": [1]})
    put(repo / "parts" / "p2.parquet", {"v": [None]})
    assert cli("add", "-q", "parts").code == 0
    write(repo / "gitml.yaml", "checks:\n  'data/*.parquet':\n    not_null: [v]\n"
          "  parts:\n    not_null: [v]\n  'missing/*.csv':\n    not_null: [v]\n")
    j = json.loads(cli("data", "check", "--json").out)
    status = {f["path"]: f["ok"] for f in j["results"]}
    assert status == {"data/a.parquet": True, "data/b.parquet": False, "parts": False,
                      "missing/*.csv": False}
    only = json.loads(cli("data", "check", "data/a.parquet", "--json").out)
    assert [f["path"] for f in only["results"]] == ["data/a.parquet"] and only["ok"]


def test_run_checks_api_for_the_hook(repo: Path) -> None:
    put(repo / "t.parquet", {"v": [1, None]})
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    not_null: [v]\n")
    with Repo() as r:
        report = run_checks(r)
    assert not report.ok and report.failed == 1
    d = report.to_dict()
    assert d["results"][0]["results"][0]["samples"][0] == {"_row": 1, "v": None}
    with Repo() as r:
        assert run_checks(r, project={}).to_dict() == {"ok": True, "files": 0, "rules": 0,
                                                        "failed": 0, "results": []}


@pytest.mark.parametrize("yaml_text,words", [
    ("checks:\n  t.parquet:\n    not_nul: [v]\n", "unknown rule 'not_nul'"),
    ("checks:\n  t.parquet:\n    schema: {columns: {v: integr}}\n", "unknown type 'integr'"),
    ("checks:\n  t.parquet:\n    columns: {v: {regex: '(['}}\n", "invalid regular expression"),
    ("checks:\n  t.parquet:\n    columns: {v: {min: 5, max: 1}}\n", "min 5 is above max 1"),
    ("checks:\n  t.parquet:\n    columns: {v: {allowed: 3}}\n", "expected a list of values"),
    ("checks:\n  t.parquet:\n    rows: {min: -1}\n", "expected a row count"),
    ("checks:\n  t.parquet:\n    max_null_fraction: 2\n", "between 0 and 1"),
    ("checks:\n  t.parquet: [v]\n", "expected a mapping of rules"),
    ("checks:\n  t.parquet:\n    columns: {v: {min: abc}}\n", "expected a whole number"),
    ("checks: [1]\n", "expected a mapping"),
])
def test_rules_that_do_not_parse_exit_2(repo: Path, cli, yaml_text: str, words: str) -> None:
    put(repo / "t.parquet", {"v": [1, 2]})
    write(repo / "gitml.yaml", yaml_text)
    r = cli("data", "check")
    assert r.code == 2 and words in r.err and "gitml.yaml" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and r.out == ""


@pytest.mark.parametrize("rules,line", [
    ("age: {min: abc}", "columns.age.min: expected a whole number (age is int64 in "
                        "data/b.parquet), not 'abc'"),
    ("name: {max: 5}", "columns.name.max: expected text (name is string in data/b.parquet), "
                       "not 5"),
    ("day: {min: soon}", "columns.day.min: expected a date such as 2024-01-31 (day is "
                         "date32[day] in data/b.parquet), not 'soon'"),
    ("name: {allowed: [1, 2]}", "columns.name.allowed: expected text (name is string in "
                                "data/b.parquet), not 1"),
    ("age: {allowed: [1, x]}", "columns.age.allowed: expected values of one kind (all "
                               "numbers, all text or all true/false), not [1, 'x']"),
    ("age: {unique: 3}", "columns.age.unique: expected true or false, not 3"),
])
def test_rule_values_of_the_wrong_type_exit_2_before_any_row_is_read(
        repo: Path, cli, rules: str, line: str) -> None:
    import datetime

    put(repo / "data" / "b.parquet", {"age": [1, 2, 3], "name": ["a", "b", "c"],
                                      "day": [datetime.date(2024, 1, d) for d in (1, 2, 3)]})
    write(repo / "gitml.yaml", f"checks:\n  data/*.parquet:\n    columns:\n      {rules}\n")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    for extra in ((), ("--json",)):
        r = cli("data", "check", *extra)
        assert (r.code, r.out, r.err.strip()) == (2, "", f"error: gitml.yaml: checks: "
                                                         f"data/*.parquet: {line}")
    assert {p: p.read_bytes() for p in repo.rglob("*")
            if p.is_file() and ".git" not in p.parts} == before
    # values that fit their columns run as before
    write(repo / "gitml.yaml", "checks:\n  data/*.parquet:\n    columns:\n"
          "      age: {min: 1.0, max: 3, allowed: [1, 2, 3]}\n"
          "      name: {min: a, allowed: [a, b, c]}\n      day: {min: 2024-01-01}\n")
    assert cli("data", "check").code == 0


def test_unreadable_or_empty_data_exit_2(repo: Path, cli) -> None:
    write(repo / "t.parquet", "garbage")
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    not_null: [v]\n")
    r = cli("data", "check")
    assert r.code == 2 and "not a valid Parquet file" in r.err
    write(repo / "t.parquet", b"")
    (repo / "t.parquet").rename(repo / "t.csv")
    write(repo / "gitml.yaml", "checks:\n  t.csv:\n    not_null: [v]\n")
    r = cli("data", "check")
    assert r.code == 2 and "empty" in r.err


def test_zero_rows_still_runs_the_rules(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"v": pa.array([], pa.int64())})
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    rows: {min: 1}\n"
          "    unique: [v]\n")
    git(repo, "add", "gitml.yaml")
    r = cli("data", "check")
    assert r.code == 1 and "0 rows, expected at least 1" in r.out


def test_table_wide_null_limit_names_only_the_failing_columns(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"a": [None, None, 1], "b": [1, 2, 3], "c": [None, 2, 3]})
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    max_null_fraction: 0.5\n")
    j = json.loads(cli("data", "check", "--json").out)
    res = j["results"][0]["results"]
    assert [(x["check"], x["ok"], x["count"]) for x in res] == [("a nulls <= 50.00%", False, 2)]
    assert res[0]["message"] == "66.67% null (2 rows)"


def test_a_target_that_does_not_exist_or_has_no_checks(repo: Path, cli) -> None:
    put(repo / "data" / "a.parquet", {"v": [1, 2]})
    put(repo / "data" / "other.parquet", {"v": [None]})
    write(repo / "gitml.yaml", "checks:\n  data/a.parquet:\n    not_null: [v]\n")
    r = cli("data", "check", "data/typo.parquet")
    assert r.code == 2 and "data/typo.parquet does not exist" in r.err, r.err
    r = cli("data", "check", "data/other.parquet")
    assert r.code == 0 and "No checks in gitml.yaml cover data/other.parquet" in r.out
    r = cli("data", "check", "data/a.parquet")
    assert r.code == 0 and "1 table, 1 check, 0 failed" in r.out, r.out
