"""gitml data profile: any source (workspace, REV:path, Git blob, tracked dir, CSV), bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import git, write


def put(path: Path, cols: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return path


def track(cli, root: Path, rel: str, msg: str) -> None:
    assert cli("add", "-q", rel).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


def col(prof: dict, name: str) -> dict:
    return next(c for c in prof["columns"] if c["name"] == name)


SAMPLE = {"id": [1, 2, 3, 4, 5, 5], "city": ["a", "b", None, "a", "a", "a"],
          "x": [1.0, 2.0, 3.0, 4.0, None, None]}


def test_profile_reports_every_statistic(repo: Path, cli) -> None:
    put(repo / "t.parquet", SAMPLE)
    r = cli("data", "profile", "t.parquet", "--json")
    assert r.code == 0, r.err
    p = json.loads(r.out)
    assert (p["rows"], p["column_count"], p["duplicate_rows"]) == (6, 3, 1)
    idc, city, x = col(p, "id"), col(p, "city"), col(p, "x")
    assert idc["type"] == "int64" and idc["min"] == 1 and idc["max"] == 5
    assert idc["distinct"] == 5 and idc["distinct_exact"] is True
    assert city["nulls"] == 1 and city["distinct"] == 2
    assert city["top"][0] == {"value": "a", "count": 4}
    assert x["mean"] == 2.5 and round(x["std"], 4) == 1.291 and x["null_fraction"] == 0.333333
    human = cli("data", "profile", "t.parquet")
    assert "t.parquet: 6 rows, 3 columns, 1 duplicate rows" in human.out
    assert "top values:" in human.out and "a (4)" in human.out
    md = cli("data", "profile", "t.parquet", "--md")
    assert "| column | type | nulls |" in md.out


def test_profile_at_a_revision_reads_the_store(repo: Path, cli) -> None:
    put(repo / "data" / "t.parquet", {"v": [1, 2, 3]})
    track(cli, repo, "data/t.parquet", "v1")
    put(repo / "data" / "t.parquet", {"v": [1, 2, 3, 4, 5]})
    now = json.loads(cli("data", "profile", "data/t.parquet", "--json").out)
    then = json.loads(cli("data", "profile", "HEAD:data/t.parquet", "--json").out)
    assert (now["rows"], then["rows"]) == (5, 3)
    assert then["path"] == "HEAD:data/t.parquet"


def test_profile_of_a_csv_committed_to_git(repo: Path, cli) -> None:
    write(repo / "m.csv", "k,score\na,1.5\nb,2.5\n")
    git(repo, "add", "m.csv")
    git(repo, "commit", "-q", "-m", "csv")
    write(repo / "m.csv", "k,score\n")
    p = json.loads(cli("data", "profile", "main:m.csv", "--json").out)
    assert p["format"] == "csv" and p["rows"] == 2 and col(p, "score")["mean"] == 2.0


def test_partitioned_directory_in_workspace_and_tracked_at_a_revision(repo: Path, cli) -> None:
    put(repo / "ds" / "year=2023" / "part-0.parquet", {"v": [1, 2]})
    put(repo / "ds" / "year=2024" / "part-0.parquet", {"v": [3, 4, 5]})
    write(repo / "ds" / "_SUCCESS", "")
    p = json.loads(cli("data", "profile", "ds", "--json").out)
    assert p["rows"] == 5 and p["files"] == 2
    year = col(p, "year")
    assert year["type"] == "int64" and (year["min"], year["max"]) == (2023, 2024)
    track(cli, repo, "ds", "dataset")
    put(repo / "ds" / "year=2025" / "part-0.parquet", {"v": [6]})
    at = json.loads(cli("data", "profile", "HEAD:ds", "--json").out)
    assert at["rows"] == 5
    inner = json.loads(cli("data", "profile", "HEAD:ds/year=2024", "--json").out)
    assert inner["rows"] == 3


def test_tracked_but_not_checked_out_reads_the_store(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"v": [1, 2]})
    track(cli, repo, "t.parquet", "t")
    (repo / "t.parquet").unlink()
    p = json.loads(cli("data", "profile", "t.parquet", "--json").out)
    assert p["rows"] == 2


def test_bad_input_is_one_line_exit_2(repo: Path, cli) -> None:
    write(repo / "x.json", "{}")
    write(repo / "bad.parquet", "not parquet at all")
    write(repo / "empty.csv", "")
    put(repo / "zero.parquet", {"v": pa.array([], pa.int64())})
    cases = {"x.json": "not a Parquet or CSV file", "bad.parquet": "not a valid Parquet file",
             "empty.csv": "empty", "zero.parquet": "empty (0 rows)",
             "nope.parquet": "does not exist", "HEAD:nope.parquet": "does not exist at HEAD",
             "t.parquet": "does not exist"}
    for path, words in cases.items():
        r = cli("data", "profile", path)
        assert r.code == 2, (path, r)
        assert words in r.err and len(r.err.strip().splitlines()) == 1, (path, r.err)
        assert "Traceback" not in r.err
    put(repo / "ok.parquet", {"v": [1]})
    r = cli("data", "profile", "ok.parquet", "--columns", "w")
    assert r.code == 2 and "has no column 'w'" in r.err


def test_status_does_not_import_pyarrow(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"v": [1, 2]})
    track(cli, repo, "t.parquet", "t")
    code = ("import sys\nfrom gitml.cli.main import main\n"
            "try:\n    main(['status'])\nexcept SystemExit:\n    pass\n"
            "print('PYARROW' if 'pyarrow' in sys.modules else 'LEAN')")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("LEAN")


def test_python_api(repo: Path) -> None:
    from gitml import api

    put(repo / "t.parquet", {"k": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
    put(repo / "u.parquet", {"k": [1, 2, 4], "v": [1.0, 2.5, 3.0]})
    write(repo / "gitml.yaml", "checks:\n  t.parquet:\n    unique: [k]\n")
    assert api.data_profile("t.parquet").to_dict()["rows"] == 3
    d = api.data_diff("t.parquet", "u.parquet", key=["k"]).to_dict()
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (1, 1, 1)
    assert api.data_check().ok
    assert api.drift("t.parquet", "t.parquet").drifted == []
