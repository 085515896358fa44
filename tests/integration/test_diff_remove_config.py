"""diff between revisions and the workspace; remove; config."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import git, write

import gitml


def commit_all(repo: Path, msg: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", msg)


def test_diff_per_file_inside_directories(repo: Path, cli) -> None:
    write(repo / "d" / "same.txt", "s")
    write(repo / "d" / "edit.txt", "v1")
    write(repo / "d" / "gone.txt", "g")
    write(repo / "model.bin", "m1")
    assert cli("add", "d", "model.bin").code == 0
    commit_all(repo, "v1")
    git(repo, "tag", "v1")
    write(repo / "d" / "edit.txt", "v2")
    (repo / "d" / "gone.txt").unlink()
    write(repo / "d" / "new.txt", "n")
    write(repo / "new.bin", "x")
    assert cli("add", "d", "new.bin").code == 0
    commit_all(repo, "v2")
    r = cli("diff", "v1", "HEAD", "--json")
    assert r.code == 0, r.err
    got = {(c["kind"], c["path"]) for c in json.loads(r.out)}
    assert got == {("modified", "d/edit.txt"), ("deleted", "d/gone.txt"),
                   ("added", "d/new.txt"), ("added", "new.bin")}
    # workspace against HEAD: an unstored edit shows up without gitml add
    write(repo / "model.bin", "m2")
    r = cli("diff")
    assert r.code == 0 and "model.bin" in r.out and "1 modified" in r.out
    md = cli("diff", "v1", "HEAD", "--md")
    assert md.out.startswith("| change | path |")


def test_diff_summarises_parquet_tables(repo: Path, cli) -> None:
    pq.write_table(pa.table({"a": list(range(5))}), repo / "t.parquet")
    assert cli("add", "t.parquet").code == 0
    commit_all(repo, "t1")
    pq.write_table(pa.table({"a": list(range(8)), "b": ["x"] * 8}), repo / "t.parquet")
    assert cli("add", "t.parquet").code == 0
    commit_all(repo, "t2")
    r = cli("diff", "HEAD~1", "HEAD")
    assert "rows 5 -> 8" in r.out and "schema changed" in r.out


def test_diff_unknown_revision(repo: Path, cli) -> None:
    r = cli("diff", "no-such-branch")
    assert r.code == 2 and "unknown revision 'no-such-branch'" in r.err


def test_remove_keeps_data_and_untracks(repo: Path, cli) -> None:
    write(repo / "data" / "f.bin", "payload")
    write(repo / "data" / "other.bin", "o")
    assert cli("add", "data/f.bin", "data/other.bin").code == 0
    r = cli("rm", "data/f.bin")
    assert r.code == 0
    assert not (repo / "data" / "f.bin.gitml").exists()
    assert (repo / "data" / "f.bin").read_text() == "payload"
    assert (repo / "data" / ".gitignore").read_text().splitlines() == ["/other.bin"]
    assert [s.path for s in gitml.Repo().status()] == ["data/other.bin"]
    r = cli("remove", "data/f.bin")
    assert r.code == 2 and "not tracked" in r.err


def test_config_set_get_list_unset(repo: Path, cli) -> None:
    assert cli("config", "core.link", "hardlink").code == 0
    assert cli("config", "core.link").out.strip() == "hardlink"
    assert "link: hardlink" in (repo / ".gitml" / "config.yaml").read_text()
    assert cli("config", "--local", "core.jobs", "3").code == 0
    assert "jobs: 3" in (repo / ".gitml" / "config.local.yaml").read_text()
    assert "jobs" not in (repo / ".gitml" / "config.yaml").read_text()
    listing = cli("config", "--list").out
    assert "core.link=hardlink" in listing and "core.jobs=3  (local)" in listing
    assert cli("config", "--unset", "core.link").code == 0
    r = cli("config", "core.link")  # unset: its default, and a note saying so
    assert r.code == 0 and r.out.strip() == "reflink,copy" and "not set" in r.err
    r = cli("config", "core.nope", "1")
    assert r.code == 2 and "unknown config key 'core.nope'" in r.err
    r = cli("config", "core.jobs", "many")
    assert r.code == 2 and "core.jobs" in r.err


def test_config_file_with_a_typo(repo: Path, cli) -> None:
    (repo / ".gitml" / "config.yaml").write_text("core: {link: [copy\n")
    write(repo / "f.bin", "x")
    r = cli("add", "f.bin")
    assert r.code == 2 and "config.yaml" in r.err and "invalid YAML" in r.err


def test_init_is_idempotent(gitrepo: Path, cli) -> None:
    first = cli("init")
    assert first.code == 0 and "Initialised gitml" in first.out
    (gitrepo / ".gitml" / "config.yaml").write_text("core:\n  link: copy\n")
    ignore = (gitrepo / ".gitml" / ".gitignore").read_text()
    again = cli("init")
    assert again.code == 0 and "already set up" in again.out and "Initialised" not in again.out
    assert (gitrepo / ".gitml" / ".gitignore").read_text() == ignore
    assert "link: copy" in (gitrepo / ".gitml" / "config.yaml").read_text()


def test_version_and_help(cli) -> None:
    assert cli("--version").out.startswith("gitml, version")
    r = cli("--help")
    assert r.code == 0
    for cmd in ("add", "status", "checkout", "diff", "remove", "gc", "fsck", "config", "init"):
        assert cmd in r.out
        h = cli(cmd, "--help")
        assert h.code == 0 and "Example" in h.out or "gitml" in h.out
