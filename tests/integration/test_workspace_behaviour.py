"""Everyday workspace behaviour DVC users rely on (issue 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import git, run_cli, write


def test_status_quiet_answers_in_its_exit_code(repo: Path, cli) -> None:
    write(repo / "data" / "a.txt", "a")
    write(repo / "f.txt", "f")
    assert cli("add", "data", "f.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    r = cli("status", "-q")
    assert (r.code, r.out, r.err) == (0, "", "")
    write(repo / "data" / "a.txt", "changed")
    r = cli("status", "-q")
    assert (r.code, r.out, r.err) == (1, "", "")
    assert cli("status").code == 0  # without -q the answer is printed, not the exit code
    assert cli("add", "data").code == 0
    (repo / "f.txt").unlink()
    assert cli("status", "-q").code == 1
    assert cli("checkout", "-q").code == 0
    assert cli("status", "-q").code == 0


def test_every_revision_git_resolves(repo: Path, cli, tmp_path: Path) -> None:
    write(repo / "d.txt", "one")
    write(repo / "metrics.json", '{"acc": 0.1}')
    write(repo / "params.yaml", "lr: 1\n")
    assert cli("add", "d.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first data")
    git(repo, "tag", "-a", "v1.0", "-m", "release")
    write(repo / "d.txt", "two")
    write(repo / "metrics.json", '{"acc": 0.2}')
    write(repo / "params.yaml", "lr: 2\n")
    assert cli("add", "d.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second data")
    git(repo, "switch", "-q", "-c", "other")
    git(repo, "switch", "-q", "main")
    for old in (":/first data", "v1.0", "v1.0^{}", "main~1", "HEAD^", "HEAD@{3}"):
        r = cli("diff", old, "@{-1}", "--json")
        assert r.code == 0, (old, r.err)
        assert '"d.txt"' in r.out and '"modified"' in r.out, (old, r.out)
        m = cli("metrics", "diff", old, "HEAD", "--json")
        assert m.code == 0 and "0.1" in m.out and "0.2" in m.out, (old, m.out, m.err)
        p = cli("params", "diff", old, "--json")
        assert p.code == 0 and '"lr"' in p.out, (old, p.out, p.err)
    bad = cli("diff", ":/no such message", "HEAD")
    assert bad.code == 2 and "unknown revision ':/no such message'" in bad.err


def _diff(cli, *args: str) -> list[dict]:
    r = cli("diff", "--json", *args)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_diff_lists_every_file_of_added_and_deleted_directories(repo: Path, cli) -> None:
    write(repo / "keep.txt", "k")
    assert cli("add", "keep.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    write(repo / "images" / "a.png", "a")
    write(repo / "images" / "sub" / "b.png", "bb")
    assert cli("add", "images").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "images")
    added = _diff(cli, "HEAD~1", "HEAD")
    assert [(c["kind"], c["path"]) for c in added] == [
        ("added", "images/a.png"), ("added", "images/sub/b.png")]
    assert all(c["dir"] == "images" for c in added)
    gone = _diff(cli, "HEAD", "HEAD~1")
    assert [(c["kind"], c["path"]) for c in gone] == [
        ("deleted", "images/a.png"), ("deleted", "images/sub/b.png")]


def test_diff_takes_path_targets(repo: Path, cli) -> None:
    write(repo / "images" / "cats" / "1.png", "1")
    write(repo / "images" / "dogs" / "1.png", "d")
    write(repo / "other.txt", "o")
    assert cli("add", "images", "other.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "images" / "cats" / "1.png", "11")
    write(repo / "images" / "dogs" / "1.png", "dd")
    write(repo / "other.txt", "oo")
    assert cli("add", "images", "other.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    assert len(_diff(cli, "HEAD~1", "HEAD")) == 3
    cats = _diff(cli, "HEAD~1", "HEAD", "--", "images/cats")
    assert [c["path"] for c in cats] == ["images/cats/1.png"]
    assert [c["path"] for c in _diff(cli, "HEAD~1", "HEAD", "--targets", "other.txt")] == [
        "other.txt"]
    assert [c["path"] for c in _diff(cli, "HEAD~1", "-t", "images")] == [
        "images/cats/1.png", "images/dogs/1.png"]
    assert _diff(cli, "HEAD~1", "HEAD", "--", "nothing/here") == []


def test_diff_before_the_first_commit_is_empty(gitrepo: Path, cli) -> None:
    assert cli("init", "-q").code == 0
    write(gitrepo / "f.txt", "f")
    assert cli("add", "f.txt").code == 0
    r = cli("diff")
    assert r.code == 0 and "No tracked data changed" in r.out
    assert _diff(cli) == []


def test_diff_reports_renames(repo: Path, cli) -> None:
    write(repo / "data" / "old.csv", "a,b\n1,2\n")
    write(repo / "model.bin", "weights")
    write(repo / "empty1", "")
    assert cli("add", "data", "model.bin", "empty1").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    os.rename(repo / "data" / "old.csv", repo / "data" / "new.csv")
    assert cli("remove", "model.bin", "empty1").code == 0
    os.rename(repo / "model.bin", repo / "renamed.bin")
    os.rename(repo / "empty1", repo / "empty2")
    assert cli("add", "data", "renamed.bin", "empty2").code == 0
    changes = {(c["kind"], c.get("old_path"), c["path"]) for c in _diff(cli, "HEAD")}
    assert changes == {("renamed", "data/old.csv", "data/new.csv"),
                       ("renamed", "model.bin", "renamed.bin"),
                       ("added", None, "empty2"), ("deleted", None, "empty1")}
    out = cli("diff").out
    assert "data/old.csv -> data/new.csv" in out and "2 renamed" in out


def test_diff_in_a_clone_fetches_the_manifest(repo: Path, tmp_path: Path, cli,
                                               monkeypatch) -> None:
    assert cli("remote", "add", "storage", str(tmp_path / "remote"), "--default").code == 0
    write(repo / "images" / "a.png", "a")
    assert cli("add", "images").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "images" / "b.png", "b")
    assert cli("add", "images").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    assert cli("push", "--rev", "HEAD~1").code == 0 and cli("push").code == 0
    git(tmp_path, "clone", "-q", str(repo), str(tmp_path / "clone"))
    monkeypatch.chdir(tmp_path / "clone")
    changes = _diff(cli, "HEAD~1", "HEAD")
    assert [(c["kind"], c["path"]) for c in changes] == [("added", "images/b.png")]


def _lose_manifest(repo: Path) -> tuple[str, list[str]]:
    """Commit a tracked directory, then lose its manifest; returns (manifest, file oids)."""
    import gitml
    from gitml import manifest, pointer

    write(repo / "images" / "a.png", "a")
    write(repo / "images" / "b.png", "b")
    assert run_cli("add", "images").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "images")
    store = gitml.Repo().store
    moid = pointer.load(str(repo / "images.gitml")).oid
    files = [e.oid for e in manifest.loads(store.read_bytes(moid), "m")]
    os.unlink(store.path(moid))
    return moid, files


def test_gc_never_guesses_about_a_manifest_it_cannot_read(repo: Path, cli) -> None:
    import gitml

    moid, files = _lose_manifest(repo)
    store = gitml.Repo().store
    for args in (("gc",), ("gc", "--dry-run")):
        r = cli(*args)
        assert r.code == 1, r.out + r.err
        assert moid in r.err and "images at commit" in r.err and "nothing was deleted" in r.err
    assert all(store.has(o) for o in files)
    r = cli("gc", "--force")
    assert r.code == 0 and moid in r.err and "were not kept" in r.err
    assert not any(store.has(o) for o in files)


def test_gc_fetches_a_missing_manifest_from_the_default_remote(repo: Path, tmp_path: Path,
                                                               cli) -> None:
    import gitml

    assert cli("remote", "add", "storage", str(tmp_path / "remote"), "--default").code == 0
    write(repo / "images" / "a.png", "a")
    assert cli("add", "images").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "images")
    assert cli("push").code == 0
    from gitml import pointer

    store = gitml.Repo().store
    moid = pointer.load(str(repo / "images.gitml")).oid
    os.unlink(store.path(moid))
    r = cli("gc")
    assert r.code == 0, r.err
    assert store.has(moid) and len(list(store.iter_oids())) == 2


def test_gc_remote_never_guesses_either(repo: Path, tmp_path: Path, cli) -> None:
    assert cli("remote", "add", "storage", str(tmp_path / "remote"), "--default").code == 0
    moid, files = _lose_manifest(repo)
    remote_files = tmp_path / "remote" / "objects"
    for o in files:  # the remote has the files, not the manifest
        (remote_files / o[5:7]).mkdir(parents=True, exist_ok=True)
        (remote_files / o[5:7] / o[7:]).write_text("x")
    r = cli("gc", "--remote", "storage")
    assert r.code == 1 and moid in r.err and "nothing was deleted" in r.err
    assert all((remote_files / o[5:7] / o[7:]).exists() for o in files)
