"""gitml data diff: schema, rows by key or as a multiset, revisions, CSV, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, write


def put(path: Path, cols: dict, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path, row_group_size=row_group_size)
    return path


def track(cli, root: Path, rel: str, msg: str) -> None:
    assert cli("add", "-q", rel).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


def jdiff(cli, *args: str) -> dict:
    r = cli("data", "diff", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


V1 = {"id": [1, 2, 3, 4, 5], "name": ["a", "b", "c", "d", "e"],
      "score": [1.0, 2.0, 3.0, 4.0, float("nan")], "age": [10, 20, 30, 40, 50]}
V2 = {"id": [1, 2, 4, 5, 6], "name": ["a", "B", "d", "e", "f"],
      "score": [1.0, 2.5, 4.0, float("nan"), 6.0], "age": [10.0, 20.0, 30.0, 40.0, 50.0],
      "city": ["x", "y", "z", "w", "v"]}


def test_keyed_diff_between_revisions(repo: Path, cli) -> None:
    put(repo / "data" / "t.parquet", V1)
    track(cli, repo, "data/t.parquet", "v1")
    git(repo, "checkout", "-q", "-b", "exp")
    put(repo / "data" / "t.parquet", V2)
    track(cli, repo, "data/t.parquet", "v2")
    d = jdiff(cli, "main", "exp", "data/t.parquet", "--key", "id")
    assert d["rows"] == {"old": 5, "new": 5}
    assert d["schema"]["added"] == [{"name": "city", "type": "string"}]
    assert d["schema"]["retyped"] == [{"name": "age", "old": "int64", "new": "double"}]
    assert "age" not in d["compared_columns"]  # a retyped column is not compared
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"], d["rows_unchanged"]) == (
        1, 1, 1, 3)
    assert d["changed_columns"] == {"name": 1, "score": 1}  # NaN == NaN is unchanged
    assert d["samples"]["modified"] == [{"key": {"id": 2}, "changes": {
        "name": {"old": "b", "new": "B"}, "score": {"old": 2.0, "new": 2.5}}}]
    assert d["samples"]["added"][0]["id"] == 6 and d["samples"]["removed"][0]["id"] == 3
    stats = {c["name"]: c for c in d["columns"]}
    assert stats["score"]["old"]["max"] == 4.0 and stats["score"]["new"]["max"] == 6.0
    assert stats["city"]["old"] is None
    text = cli("data", "diff", "main:data/t.parquet", "exp:data/t.parquet", "-k", "id")
    assert text.code == 0
    assert "rows: 5 -> 5 (+0); by key id: 1 added, 1 removed, 1 modified, 3 unchanged" \
        in text.out
    assert "~ age: int64 -> double (not compared)" in text.out
    assert "~ id=2: name: b -> B; score: 2 -> 2.5" in text.out
    md = cli("data", "diff", "main", "exp", "data/t.parquet", "--key", "id", "--md")
    assert md.out.startswith("### `main:data/t.parquet` → `exp:data/t.parquet`")
    assert "| changed column | rows |" in md.out


def test_revision_against_workspace_forms(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"id": [1, 2], "v": [1, 2]})
    track(cli, repo, "t.parquet", "v1")
    put(repo / "t.parquet", {"id": [1, 2, 3], "v": [1, 5, 3]})
    one = jdiff(cli, "t.parquet", "--key", "id")
    two = jdiff(cli, "main", "t.parquet", "--key", "id")
    three = jdiff(cli, "main:t.parquet", "t.parquet", "--key", "id")
    for d in (one, two, three):
        assert (d["rows_added"], d["rows_modified"], d["new"]) == (1, 1, "t.parquet")
    assert one["old"] == "HEAD:t.parquet" and two["old"] == "main:t.parquet"
    r = cli("data", "diff", "t.parquet", "--exit-code")
    assert r.code == 1
    same = cli("data", "diff", "t.parquet", "t.parquet", "--exit-code")
    assert same.code == 0


def test_keyless_multiset_comparison(repo: Path, cli) -> None:
    put(repo / "a.parquet", {"x": [1, 1, 2, 3], "y": ["p", "p", "q", "r"]})
    put(repo / "b.parquet", {"x": [3, 1, 4, 2, 2], "y": ["r", "p", "s", "q", "q"]})
    d = jdiff(cli, "a.parquet", "b.parquet")
    assert d["key"] is None
    assert (d["rows_added"], d["rows_removed"], d["rows_unchanged"]) == (2, 1, 3)
    assert {"x": 4, "y": "s"} in d["samples"]["added"]
    assert d["samples"]["removed"] == [{"x": 1, "y": "p"}]


def test_csv_diff_with_composite_key(repo: Path, cli) -> None:
    write(repo / "a.csv", "day,shop,sales\n1,A,10\n1,B,20\n2,A,30\n")
    write(repo / "b.csv", "day,shop,sales\n1,A,10\n1,B,25\n2,B,5\n")
    d = jdiff(cli, "a.csv", "b.csv", "--key", "day,shop")
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (1, 1, 1)
    assert d["samples"]["modified"][0]["key"] == {"day": 1, "shop": "B"}
    d2 = jdiff(cli, "a.csv", "b.csv", "-k", "day", "-k", "shop")
    assert d2["rows_modified"] == 1


def _big(n: int, seed: int, shuffle: bool) -> dict:
    rnd = random.Random(seed)
    ids = list(range(n))
    if shuffle:
        rnd.shuffle(ids)
    return {"id": ids, "v": [i % 7 for i in ids], "s": [f"s{i % 13}" for i in ids]}


@pytest.mark.parametrize("shuffle", [False, True])
def test_streaming_path_matches_in_memory(repo: Path, cli, monkeypatch, shuffle: bool) -> None:
    a = _big(20000, 1, shuffle)
    b = {k: list(v) for k, v in _big(20000, 2, shuffle).items()}
    # drop 30 rows, change 40, add 20
    keep = [i for i in range(len(b["id"])) if b["id"][i] % 700 != 3]
    b = {k: [v[i] for i in keep] for k, v in b.items()}
    for i in range(len(b["id"])):
        if b["id"][i] % 500 == 7:
            b["v"][i] = -1
    for j in range(20):
        b["id"].append(100000 + j)
        b["v"].append(j)
        b["s"].append("new")
    put(repo / "a.parquet", a, row_group_size=3000)
    put(repo / "b.parquet", b, row_group_size=3000)
    mem = jdiff(cli, "a.parquet", "b.parquet", "--key", "id")
    monkeypatch.setenv("GITML_DATA_MEMORY", "0")
    streamed = jdiff(cli, "a.parquet", "b.parquet", "--key", "id")
    for d in (mem, streamed):
        assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (20, 29, 40)
        assert d["changed_columns"] == {"v": 40}
    assert mem["samples"] == streamed["samples"]
    assert mem["columns"] == streamed["columns"]


@pytest.mark.parametrize("args,words", [
    (("a.parquet", "b.parquet", "--key", "nope"), "key column 'nope' is missing in a.parquet"),
    (("dup.parquet", "b.parquet", "--key", "id"),
     "key id is not unique in dup.parquet: 2 duplicate value(s) in 5 rows"),
    (("nulls.parquet", "b.parquet", "--key", "id"), "key column 'id' has 1 null value(s)"),
    (("a.parquet", "x.json"), "x.json is not a Parquet or CSV file"),
    (("a.parquet", "empty.csv"), "empty"),
    (("nosuchrev", "a.parquet"), "unknown revision 'nosuchrev'"),
    (("a.parquet", "b.parquet", "c.parquet", "d"), "usage: gitml data diff"),
])
def test_bad_input_exit_2(repo: Path, cli, args: tuple, words: str) -> None:
    put(repo / "a.parquet", {"id": [1, 2], "v": [1, 2]})
    put(repo / "b.parquet", {"id": [1, 3], "v": [1, 2]})
    put(repo / "dup.parquet", {"id": [1, 2, 1, 2, 2], "v": [1, 2, 3, 4, 5]})
    put(repo / "nulls.parquet", {"id": [1, None], "v": [1, 2]})
    write(repo / "x.json", "{}")
    write(repo / "empty.csv", "")
    r = cli("data", "diff", *args)
    assert r.code == 2, r
    assert words in r.err and len(r.err.strip().splitlines()) == 1, r.err


def test_core_diff_note_says_rows_and_schema(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"a": [1, 2]})
    track(cli, repo, "t.parquet", "v1")
    put(repo / "t.parquet", {"a": [1, 2, 3], "b": [0, 0, 0]})
    assert cli("add", "-q", "t.parquet").code == 0
    r = cli("diff")
    assert "rows 2 -> 3 (+1), columns 1 -> 2, schema changed" in r.out
    put(repo / "t.parquet", {"a": [9, 9]})
    track(cli, repo, "t.parquet", "v2")
    put(repo / "t.parquet", {"a": [7, 7]})
    assert cli("add", "-q", "t.parquet").code == 0
    assert "same rows and schema, values changed" in cli("diff").out


def test_status_says_schema_changed_for_a_modified_parquet_file(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"a": [1, 2]})
    track(cli, repo, "t.parquet", "v1")
    put(repo / "u.parquet", {"a": [1, 2]})
    track(cli, repo, "u.parquet", "v1")
    put(repo / "t.parquet", {"a": [1.5, 2.5]})  # retyped: int64 -> double
    put(repo / "u.parquet", {"a": [3, 4]})  # same schema, other values
    r = cli("status")
    lines = {ln.split()[1]: ln for ln in r.out.splitlines()[1:]}
    assert "schema changed" in lines["t.parquet"] and "schema" not in lines["u.parquet"]
    states = {d["path"]: d for d in json.loads(cli("status", "--json").out)}
    assert states["t.parquet"]["state"] == "modified" and states["t.parquet"]["schema_changed"]
    assert states["u.parquet"]["state"] == "modified"
    assert not states["u.parquet"]["schema_changed"]


@pytest.mark.parametrize("kind", ["dense ints", "sparse ints", "strings", "unsorted"])
def test_every_matching_path_agrees(repo: Path, cli, monkeypatch, kind: str) -> None:
    from gitml.tabular import matching

    monkeypatch.setattr(matching, "MATCH_WINDOW", 64)
    monkeypatch.setattr(matching, "INT_WINDOW", 64)
    n = 3000
    keys = {"dense ints": list(range(n)), "sparse ints": [i * 1000 for i in range(n)],
            "strings": [f"k{i:06d}" for i in range(n)],
            "unsorted": random.Random(5).sample(range(n), n)}[kind]
    a = {"k": keys, "v": [i % 11 for i in range(n)]}
    keep = [i for i in range(n) if i % 97 != 5]  # 31 removed
    b = {"k": [keys[i] for i in keep], "v": [(-1 if i % 89 == 3 else i % 11) for i in keep]}
    extra = [f"z{i}" for i in range(7)] if kind == "strings" else [10**9 + i for i in range(7)]
    b["k"] += extra
    b["v"] += [0] * 7
    put(repo / "a.parquet", a, row_group_size=500)
    put(repo / "b.parquet", b, row_group_size=500)
    mem = jdiff(cli, "a.parquet", "b.parquet", "--key", "k")
    monkeypatch.setenv("GITML_DATA_MEMORY", "0")
    streamed = jdiff(cli, "a.parquet", "b.parquet", "--key", "k")
    changed = sum(1 for i in keep if i % 89 == 3 and i % 11 != -1)
    for d in (mem, streamed):
        assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (7, 31, changed)
    assert mem["samples"] == streamed["samples"]


def test_core_diff_of_an_unstored_table_edit_has_no_half_summary(repo: Path, cli) -> None:
    put(repo / "t.parquet", {"a": [1, 2, 3]})
    track(cli, repo, "t.parquet", "t1")
    put(repo / "t.parquet", {"a": [1, 2, 3, 4], "b": [0, 0, 0, 0]})
    r = cli("diff")  # HEAD vs the workspace, before gitml add: no metadata for the edit
    assert r.code == 0 and "t.parquet" in r.out and "-> -" not in r.out, r.out
    assert cli("add", "t.parquet").code == 0
    r = cli("diff")
    assert "rows 3 -> 4 (+1), columns 1 -> 2, schema changed" in r.out, r.out
