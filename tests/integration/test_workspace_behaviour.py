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


# -- item 1: checkout mirrors the revision ----------------------------------------------------
def test_checkout_removes_data_the_revision_no_longer_tracks(repo: Path, cli) -> None:
    write(repo / "base.txt", "base")
    assert cli("add", "base.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "switch", "-q", "-c", "feature")
    write(repo / "data" / "new" / "a.txt", "a")
    write(repo / "data" / "new" / "b.txt", "b")
    write(repo / "model.bin", "weights")
    assert cli("add", "data/new", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature data")
    write(repo / "data" / "mine.txt", "the user's own file, never tracked")
    git(repo, "switch", "-q", "main")
    r = cli("checkout", "--json")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert sorted(res["deleted"]) == ["data/new/a.txt", "data/new/b.txt", "model.bin"]
    assert not (repo / "data" / "new").exists() and not (repo / "model.bin").exists()
    assert (repo / "data" / "mine.txt").read_text() == "the user's own file, never tracked"
    assert git(repo, "status", "--porcelain") == "?? data/\n"  # only the user's file
    # and back: the data returns
    git(repo, "switch", "-q", "feature")
    r = cli("checkout", "--json")
    assert sorted(json.loads(r.out)["created"]) == ["data/new/a.txt", "data/new/b.txt",
                                                     "model.bin"]


def test_checkout_keeps_a_changed_file_no_longer_tracked(repo: Path, cli) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    write(repo / "model.bin", "weights")
    write(repo / "notes.txt", "notes")
    assert cli("add", "model.bin", "notes.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature data")
    git(repo, "switch", "-q", "main")
    write(repo / "model.bin", "fine-tuned, never stored")
    r = cli("checkout")
    assert r.code == 0 and "kept model.bin" in r.out, r.out + r.err
    assert (repo / "model.bin").read_text() == "fine-tuned, never stored"
    assert not (repo / "notes.txt").exists()
    r = cli("checkout", "--force")
    assert r.code == 0 and "replaced model.bin" in r.out
    assert not (repo / "model.bin").exists()


def test_remove_then_checkout_keeps_the_plain_copy(repo: Path, cli) -> None:
    write(repo / "data.csv", "x")
    assert cli("add", "data.csv").code == 0
    assert cli("remove", "data.csv").code == 0
    assert cli("checkout").code == 0
    assert (repo / "data.csv").read_text() == "x"


# -- items 2 and 3: executable bit, empty folders ---------------------------------------------
def test_exec_bit_is_recorded_and_restored(repo: Path, cli) -> None:
    import stat as st

    write(repo / "run.sh", "#!/bin/sh\necho hi\n")
    os.chmod(repo / "run.sh", 0o755)
    write(repo / "plain.txt", "p")
    assert cli("add", "run.sh", "plain.txt").code == 0
    text = (repo / "run.sh.gitml").read_text()
    assert text.startswith("gitml: 2\n") and "exec: true" in text
    assert (repo / "plain.txt.gitml").read_text().startswith("gitml: 1\n")  # unchanged format
    os.unlink(repo / "run.sh")
    assert cli("checkout").code == 0
    assert st.S_IMODE(os.stat(repo / "run.sh").st_mode) & 0o111 == 0o111
    assert st.S_IMODE(os.stat(repo / "plain.txt").st_mode) & 0o111 == 0


def test_newer_pointer_version_is_a_clear_error(repo: Path, cli) -> None:
    write(repo / "x.gitml", "gitml: 3\npath: x\nkind: file\nhash: xxh3:" + "0" * 32
          + "\nsize: 1\n")
    r = cli("status")
    assert r.code == 2 and "written by a newer gitml" in r.err
    write(repo / "x.gitml", "gitml: 1\npath: x\nkind: file\nhash: xxh3:" + "0" * 32
          + "\nsize: 1\nexec: true\n")  # exec needs version 2
    r = cli("status")
    assert r.code == 2 and "unknown key 'exec'" in r.err


def test_empty_folders_come_back(repo: Path, cli) -> None:
    (repo / "e").mkdir()
    write(repo / "data" / "a.txt", "a")
    (repo / "data" / "empty" / "deeper").mkdir(parents=True)
    (repo / "data" / "also-empty").mkdir()
    assert cli("add", "e", "data").code == 0
    assert cli("status", "-q").code == 0
    os.rmdir(repo / "e")
    os.rmdir(repo / "data" / "empty" / "deeper")
    os.rmdir(repo / "data" / "also-empty")
    s = json.loads(cli("status", "--json").out)
    assert {x["path"]: (x["state"], x.get("deleted")) for x in s} == {
        "e": ("missing", 0), "data": ("modified", 2)}
    r = cli("checkout", "--json")
    assert r.code == 0, r.err
    assert sorted(json.loads(r.out)["created"]) == ["data/also-empty/", "data/empty/deeper/",
                                                     "e/"]
    assert (repo / "e").is_dir() and (repo / "data" / "empty" / "deeper").is_dir()
    assert cli("status", "-q").code == 0
    # a manifest with an empty folder is version 2; one without stays version 1
    import gitml as g
    from gitml import pointer as p

    store = g.Repo().store
    assert store.read_bytes(p.load(str(repo / "data.gitml")).oid).startswith(
        b'{"format":"gitml-manifest","version":2,"empty":["also-empty","empty/deeper"]}')
    assert store.read_bytes(p.load(str(repo / "e.gitml")).oid) == \
        b'{"format":"gitml-manifest","version":1}\n'


# -- item 4: targets inside tracked directories ------------------------------------------------
def test_targets_inside_a_tracked_directory(repo: Path, cli) -> None:
    for name in ("cats/1.png", "cats/2.png", "dogs/1.png"):
        write(repo / "images" / name, name)
    assert cli("add", "images").code == 0
    for name in ("cats/1.png", "cats/2.png", "dogs/1.png"):
        os.unlink(repo / "images" / name)
    s = json.loads(cli("status", "--json", "images/cats").out)
    assert [(x["path"], x["deleted"]) for x in s] == [("images/cats", 2)]
    r = cli("checkout", "--json", "images/cats/1.png")
    assert json.loads(r.out)["created"] == ["images/cats/1.png"]
    assert not (repo / "images" / "cats" / "2.png").exists()
    r = cli("checkout", "--json", "images/cats")
    assert json.loads(r.out)["created"] == ["images/cats/2.png"]
    assert not (repo / "images" / "dogs" / "1.png").exists()
    assert cli("checkout", "images/nothing").code == 0  # inside, but names no file: no-op


def test_add_inside_a_tracked_directory_updates_its_manifest(repo: Path, cli) -> None:
    import gitml as g
    from gitml import manifest, pointer

    write(repo / "images" / "a.png", "a")
    write(repo / "images" / "sub" / "b.png", "b")
    assert cli("add", "images").code == 0
    write(repo / "images" / "new.png", "new")
    write(repo / "images" / "a.png", "a edited, not to be picked up")
    write(repo / "images" / "more" / "c.png", "c")
    r = cli("add", "images/new.png", "images/more")
    assert r.code == 0, r.err
    ptr = pointer.load(str(repo / "images.gitml"))
    entries = {e.path: e for e in manifest.loads(g.Repo().store.read_bytes(ptr.oid), "m")}
    assert sorted(entries) == ["a.png", "more/c.png", "new.png", "sub/b.png"]
    assert ptr.files == 4
    s = json.loads(cli("status", "--json").out)
    assert [(x["path"], x["modified"]) for x in s] == [("images", 1)]  # a.png only
    os.unlink(repo / "images" / "new.png")
    assert cli("checkout", "images/new.png").code == 0
    assert (repo / "images" / "new.png").read_text() == "new"
    assert not (repo / "images" / "new.png.gitml").exists()


# -- item 5: gitml commit ----------------------------------------------------------------------
def test_commit_records_a_hand_fixed_output_without_running(repo: Path, cli) -> None:
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "gitml.yaml", "stages:\n  make:\n    cmd: echo ran >> runs.log && "
          "mkdir -p out && echo generated > out/model.txt\n    deps: [params.yaml]\n"
          "    params: [n]\n    outs: [out]\n")
    assert cli("repro", "-q").code == 0
    assert (repo / "runs.log").read_text() == "ran\n"
    write(repo / "out" / "model.txt", "fixed by hand")
    write(repo / "params.yaml", "n: 2\n")
    assert cli("status", "-q").code == 1  # the output and a param changed
    r = cli("commit", "make")
    assert r.code == 0 and "committed stage 'make'" in r.out, r.out + r.err
    assert cli("status", "-q").code == 0  # up to date: nothing left to run or store
    dry = cli("repro", "--dry", "--json")
    assert '"would-run"' not in dry.out
    assert cli("repro", "-q").code == 0
    assert (repo / "runs.log").read_text() == "ran\n"  # never ran again
    assert (repo / "out" / "model.txt").read_text() == "fixed by hand"
    lock = (repo / "gitml.lock").read_text()
    assert "n: 2" in lock
    r = cli("commit", "--json")
    assert r.code == 0 and json.loads(r.out)["stages"] == []


def test_commit_of_a_path_and_of_an_output_path(repo: Path, cli) -> None:
    write(repo / "raw.csv", "a\n1\n")
    assert cli("add", "raw.csv").code == 0
    write(repo / "raw.csv", "a\n2\n")
    r = cli("commit", "raw.csv", "--json")
    assert r.code == 0 and json.loads(r.out)["data"] == ["raw.csv"]
    assert cli("status", "-q").code == 0
    write(repo / "gitml.yaml", "stages:\n  s:\n    cmd: echo x > o.txt\n    outs: [o.txt]\n")
    assert cli("repro", "-q").code == 0
    write(repo / "o.txt", "edited")
    r = cli("commit", "o.txt", "--json")
    assert r.code == 0 and json.loads(r.out)["stages"] == ["s"], r.out + r.err
    bad = cli("commit", "nope")
    assert bad.code == 2 and "nope" in bad.err
