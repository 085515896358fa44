"""The merge driver and the diff driver for pointer files, through real git merge/diff/log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, write

from gitml import mergedriver, pointer


def g(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def commit_data(root: Path, cli, msg: str, *targets: str) -> None:
    assert cli("add", "-q", *targets).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", msg)  # pre-commit is tested elsewhere


@pytest.fixture
def base(repo: Path, cli) -> Path:
    """main with data/imgs/{a,b,c} and data/t.csv; hooks installed, .gitattributes committed."""
    assert cli("hooks", "install").code == 0
    for n in "abc":
        write(repo / "data" / "imgs" / f"{n}.png", f"{n} v1")
    write(repo / "data" / "t.csv", "x\n1\n")
    commit_data(repo, cli, "v1", "data/imgs", "data/t.csv")
    return repo


def branch(root: Path, cli, name: str, start: str, files: dict[str, str | None],
           targets: tuple[str, ...] = ("data/imgs",)) -> None:
    git(root, "switch", "-q", "-c", name, start)
    for rel, text in files.items():
        if text is None:
            os.unlink(root / rel)
        else:
            write(root / rel, text)
    commit_data(root, cli, name, *targets)


def test_different_files_of_one_directory_merge_into_a_new_manifest(base: Path, cli) -> None:
    branch(base, cli, "left", "main", {"data/imgs/a.png": "a left", "data/imgs/d.png": "d new"})
    branch(base, cli, "right", "main", {"data/imgs/b.png": "b right",
                                        "data/imgs/c.png": None})
    r = g(base, "merge", "--no-edit", "left")
    assert r.returncode == 0, r.stdout + r.stderr
    files = {p.name: p.read_text() for p in (base / "data" / "imgs").iterdir()}
    assert files == {"a.png": "a left", "b.png": "b right", "d.png": "d new"}
    ptr = pointer.load(str(base / "data" / "imgs.gitml"))
    assert ptr.files == 3 and ptr.size == len("a left") + len("b right") + len("d new")
    assert (base / ".gitml" / "cache" / "objects" / ptr.oid[5:7] / ptr.oid[7:]).is_file()
    assert {s["state"] for s in json.loads(cli("status", "--json").out)} == {"ok"}
    assert "Merge branch 'left'" in git(base, "log", "-1", "--format=%s")


def test_the_same_file_changed_on_both_sides_is_a_conflict_naming_it(base: Path, cli) -> None:
    branch(base, cli, "left", "main", {"data/imgs/a.png": "a left", "data/imgs/d.png": "d"})
    branch(base, cli, "right", "main", {"data/imgs/a.png": "a right"})
    from gitml.hashing import hash_bytes

    left, right = hash_bytes(b"a left"), hash_bytes(b"a right")
    r = g(base, "merge", "--no-edit", "left")
    assert r.returncode == 1
    assert "CONFLICT (content): Merge conflict in data/imgs.gitml" in r.stdout
    assert "gitml: merge conflict: data/imgs: 1 file changed on both sides:" in r.stderr
    assert f"data/imgs/a.png: ours {right}, theirs {left}" in r.stderr
    text = (base / "data" / "imgs.gitml").read_text()
    assert f"# gitml:   data/imgs/a.png: ours {right}, theirs {left}" in text
    assert "<<<<<<< ours" in text and ">>>>>>> theirs" in text
    assert "git checkout --ours data/imgs.gitml (or --theirs data/imgs.gitml)" in text
    assert "UU data/imgs.gitml" in git(base, "status", "--porcelain")
    r = cli("status")  # a conflicted pointer is a clear error, not a crash
    assert r.code == 2 and "data/imgs.gitml" in r.err and r.err.count("\n") == 1


def test_a_conflict_in_a_path_with_a_space_gives_commands_that_run(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    write(repo / "data" / "my imgs" / "a.png", "a v1")
    commit_data(repo, cli, "v1", "data/my imgs")
    branch(repo, cli, "left", "main", {"data/my imgs/a.png": "a left"}, ("data/my imgs",))
    branch(repo, cli, "right", "main", {"data/my imgs/a.png": "a right"}, ("data/my imgs",))
    assert g(repo, "merge", "--no-edit", "left").returncode == 1
    text = (repo / "data" / "my imgs.gitml").read_text()
    hint = next(x for x in text.splitlines() if x.startswith("# Keep one side: "))
    assert hint == ("# Keep one side: git checkout --ours 'data/my imgs.gitml' (or --theirs "
                    "'data/my imgs.gitml'), then: gitml checkout 'data/my imgs'")
    r = cli("status")  # says what is wrong and what to do, not a YAML parse error
    assert r.code == 2 and r.err == (
        "error: data/my imgs.gitml: unresolved merge conflict: keep one side with 'git "
        "checkout --ours FILE' (or --theirs), then run 'gitml checkout'\n")
    theirs = hint.split("(or ")[1].split("), then: ")[0]
    assert subprocess.run(f"git checkout {theirs}", shell=True, cwd=repo).returncode == 0
    assert subprocess.run(hint.split("then: ")[1], shell=True, cwd=repo).returncode == 0
    assert (repo / "data" / "my imgs" / "a.png").read_text() == "a left"


def test_deleted_on_one_side_changed_on_the_other_is_a_conflict(base: Path, cli) -> None:
    branch(base, cli, "left", "main", {"data/imgs/a.png": None})
    branch(base, cli, "right", "main", {"data/imgs/a.png": "a right"})
    r = g(base, "merge", "--no-edit", "left")
    assert r.returncode == 1
    assert "data/imgs/a.png: ours xxh3:" in r.stderr and "theirs deleted" in r.stderr


def test_differing_file_pointers_are_a_readable_conflict(base: Path, cli) -> None:
    branch(base, cli, "left", "main", {"data/t.csv": "x\n2\n"}, ("data/t.csv",))
    branch(base, cli, "right", "main", {"data/t.csv": "x\n33\n"}, ("data/t.csv",))
    r = g(base, "merge", "--no-edit", "left")
    assert r.returncode == 1
    assert "gitml: merge conflict: data/t.csv: both sides changed the data: ours xxh3:" in r.stderr
    assert "(5 B), theirs xxh3:" in r.stderr and "(4 B)" in r.stderr
    r = g(base, "checkout", "--theirs", "data/t.csv.gitml")
    assert r.returncode == 0
    git(base, "add", "data/t.csv.gitml")
    assert cli("checkout", "data/t.csv").code == 0
    assert (base / "data" / "t.csv").read_text() == "x\n2\n"


def test_both_sides_adding_a_directory_merge_when_files_differ(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0  # .gitattributes came with the init commit
    branch(repo, cli, "left", "main", {"new/l.txt": "l"}, ("new",))
    branch(repo, cli, "right", "main", {"new/r.txt": "r"}, ("new",))
    r = g(repo, "merge", "--no-edit", "left")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (repo / "new").iterdir()) == ["l.txt", "r.txt"]


def test_a_manifest_missing_from_the_store_is_a_conflict_saying_so(base: Path, cli) -> None:
    branch(base, cli, "left", "main", {"data/imgs/d.png": "d"})
    branch(base, cli, "right", "main", {"data/imgs/e.png": "e"})
    oid = pointer.load(str(base / "data" / "imgs.gitml")).oid  # right's manifest
    obj = base / ".gitml" / "cache" / "objects" / oid[5:7]
    os.chmod(obj, 0o755)
    os.unlink(obj / oid[7:])
    r = g(base, "merge", "--no-edit", "left")
    assert r.returncode == 1
    assert f"the manifest of our version ({oid}) is not in the store" in r.stderr
    assert "gitml fetch" in r.stderr


def test_malformed_versions_are_conflicts_not_crashes(tmp_path: Path, repo: Path) -> None:
    good = "gitml: 1\npath: t.csv\nkind: file\nhash: xxh3:" + "a" * 32 + "\nsize: 1\n"
    bad = "gitml: 1\npath: ../t.csv\nkind: file\nhash: xxh3:" + "b" * 32 + "\nsize: 1\n"
    o, a, b = (write(tmp_path / n, t) for n, t in (("O", good), ("A", good), ("B", bad)))
    rc = mergedriver.merge(str(o), str(a), str(b), "data/t.csv.gitml")
    assert rc == 1
    text = a.read_text()
    assert "the their version is not a valid pointer" in text.splitlines()[0]
    assert "must be a plain name" in text and "<<<<<<< ours" in text
    # a pointer file that is not a gitml file at all: same
    write(b, "just text\n")
    write(a, good)
    assert mergedriver.merge(str(o), str(a), str(b), "data/t.csv.gitml") == 1


def test_diff_and_log_show_a_summary_with_table_metadata(base: Path, cli) -> None:
    pq.write_table(pa.table({"id": [1, 2, 3], "score": [0.1, 0.2, 0.3]}),
                   base / "data" / "train.parquet")
    commit_data(base, cli, "table v1", "data/train.parquet")
    pq.write_table(pa.table({"id": [1, 2, 3, 4], "score": [0.1, 0.2, 0.3, 0.4],
                             "label": ["a", "b", "c", "d"]}), base / "data" / "train.parquet")
    write(base / "data" / "imgs" / "z.png", "z")
    commit_data(base, cli, "table v2", "data/train.parquet", "data/imgs")
    out = git(base, "diff", "HEAD~1", "HEAD")
    for line in ("-rows: 3", "+rows: 4", "-columns: 2", "+columns: 3", "-schema: xxh3:",
                 "+schema: xxh3:", " gitml file: train.parquet", " format: parquet",
                 "-files: 3", "+files: 4"):
        assert "\n" + line in out, line
    assert "+  z.png  1 B  " in out  # which file of the directory changed
    log = git(base, "log", "-p", "-1")
    assert "+rows: 4" in log and "+  z.png" in log


def test_diff_driver_shows_a_malformed_pointer_as_it_is(base: Path) -> None:
    (base / "data" / "t.csv.gitml").write_text("not: [a pointer\n")
    r = g(base, "diff")
    assert r.returncode == 0 and "+not: [a pointer" in r.stdout


def test_diff_driver_without_the_manifest_still_summarises(tmp_path: Path, repo: Path) -> None:
    p = write(tmp_path / "x.gitml", "gitml: 1\npath: d\nkind: dir\nhash: xxh3:" + "c" * 32
              + "\nsize: 2048\nfiles: 2\n")
    text = mergedriver.textconv(str(p))
    assert text.splitlines()[:3] == ["gitml directory: d/", "size: 2.0 KiB (2,048 bytes)",
                                     "files: 2"]
    assert "(file list not shown: the manifest is not in the local store)" in text
