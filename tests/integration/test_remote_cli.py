"""gitml remote add/list/modify/remove/default; credentials; bad input to push/fetch;
corrupt or missing local objects on push (directory remotes: no server needed)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from conftest import git, write

import gitml
from gitml import pointer


def test_remote_add_list_default_remove(repo: Path, cli) -> None:
    r = cli("remote", "add", "nas", "/mnt/gitml-store")
    assert r.code == 0 and "Added remote nas (/mnt/gitml-store) as the default" in r.out
    r = cli("remote", "add", "storage", "s3://ml-bucket/projects/churn")
    assert r.code == 0 and "default" not in r.out.splitlines()[0]
    assert cli("remote", "modify", "storage", "endpoint_url", "http://127.0.0.1:8333").code == 0
    rows = json.loads(cli("remote", "list", "--json").out)
    assert [(x["name"], x["default"], x["credentials"]) for x in rows] == [
        ("nas", True, "-"), ("storage", False, "AWS chain")]
    assert rows[1]["options"] == {"endpoint_url": "http://127.0.0.1:8333"}
    assert cli("remote", "default").out.strip() == "nas"
    assert cli("remote", "default", "storage").code == 0
    assert "storage (default)" in cli("remote", "list").out
    assert (repo / ".gitml/config.yaml").read_text().count("s3://ml-bucket/projects/churn") == 1

    r = cli("remote", "add", "nas", "/elsewhere")
    assert r.code == 2 and "remote 'nas' exists; use --force" in r.err
    assert cli("remote", "add", "nas", "/elsewhere", "--force").code == 0
    assert gitml.Repo().config.get("remote.nas.url") == "/elsewhere"
    assert cli("remote", "remove", "storage").code == 0
    assert cli("remote", "default").code == 2  # the default went with it
    assert "storage" not in (repo / ".gitml/config.yaml").read_text()


def test_bad_remote_input_is_refused_and_changes_nothing(repo: Path, cli) -> None:
    before = (repo / ".gitml/config.yaml").read_bytes()
    cases = [
        (("remote", "add", "../x", "/d"), "invalid remote name '../x'"),
        (("remote", "add", "g", "gs://bucket/x"), "unsupported remote URL 'gs://bucket/x'"),
        (("remote", "add", "s", "s3:///nobucket"), "names no bucket"),
        (("remote", "modify", "nope", "region", "eu"), "unknown remote 'nope'"),
        (("remote", "remove", "nope"), "unknown remote 'nope'"),
        (("remote", "default", "nope"), "unknown remote 'nope'"),
    ]
    for args, msg in cases:
        r = cli(*args)
        assert r.code == 2 and msg in r.err, (args, r.err)
    assert (repo / ".gitml/config.yaml").read_bytes() == before
    assert cli("remote", "add", "s", "s3://b/p").code == 0
    r = cli("remote", "modify", "s", "colour", "blue")
    assert r.code == 2 and "unknown remote option 'colour'" in r.err
    r = cli("remote", "modify", "s", "jobs", "0")
    assert r.code == 2 and "expected a number >= 1" in r.err
    r = cli("remote", "modify", "s", "addressing_style", "sideways")
    assert r.code == 2 and "expected one of auto, path, virtual" in r.err


def test_bad_remote_settings_and_hand_edits_get_one_line_and_change_nothing(
        repo: Path, cli, tmp_path: Path) -> None:
    write(repo / "a.txt", "a")
    assert cli("add", "a.txt").code == 0
    assert cli("remote", "add", "s", "s3://b/p").code == 0
    conf = repo / ".gitml/config.yaml"
    before = conf.read_bytes()
    for args, msg in [
        (("endpoint_url", "notaurl"), "expected an http:// or https:// URL, not 'notaurl'"),
        (("endpoint_url", "ftp://h:1"), "expected an http:// or https:// URL"),
        (("jobs", "100000"), "expected a number <= 256"),
        (("url", "--unset"), "a remote needs its url: to forget remote 's', run "
                             "'gitml remote remove s'"),
    ]:
        r = cli("remote", "modify", "s", *args)
        assert r.code == 2 and msg in r.err, (args, r.err)
    assert conf.read_bytes() == before
    r = cli("remote", "modify", "s", "region", "eu-west-1")
    assert r.code == 0
    r = cli("remote", "modify", "s", "region", "--unset")
    assert r.code == 0 and "Unset remote.s.region in .gitml/config.yaml" in r.out
    assert conf.read_bytes() == before

    # values edited by hand into the files: one line naming the file and key, exit 2
    store = tmp_path / "store"
    for line, msg in [
        ("jobs: lots", "remote.s.jobs: expected a whole number, not 'lots'"),
        ("retries: x", "remote.s.retries: expected a whole number, not 'x'"),
        ("region: [1, 2]", "remote.s.region: expected text"),
        ("endpoint_url: notaurl", "remote.s.endpoint_url: expected an http:// or https://"),
        ("endpont_url: http://h", "unknown config key 'remote.s.endpont_url'"),
    ]:
        conf.write_text(f"core:\n  remote: s\nremote:\n  s:\n    url: {store}\n    {line}\n")
        for cmd in (("push",), ("fetch",), ("status", "--remote")):
            r = cli(*cmd)
            assert r.code == 2 and r.err.startswith("error: .gitml/config.yaml: ") \
                and msg in r.err and "Traceback" not in r.err, (line, cmd, r.err)
    assert not store.exists()


def test_credentials_go_only_to_the_local_file_and_are_never_printed(repo: Path, cli) -> None:
    assert cli("remote", "add", "s", "s3://b/p").code == 0
    shared = (repo / ".gitml/config.yaml").read_bytes()
    r = cli("remote", "modify", "s", "secret_access_key", "TOPSECRET")
    assert r.code == 2 and "credential" in r.err and "--local" in r.err
    r = cli("config", "remote.s.secret_access_key", "TOPSECRET")  # the generic path too
    assert r.code == 2 and "config.local.yaml" in r.err
    r = cli("config", "--local", "remote.s.secret_access_key", "TOPSECRET")
    assert r.code == 2 and "gitml remote modify --local" in r.err
    assert (repo / ".gitml/config.yaml").read_bytes() == shared
    assert not (repo / ".gitml/config.local.yaml").exists()

    r = cli("remote", "modify", "--local", "s", "secret_access_key", "TOPSECRET")
    assert r.code == 0 and "config.local.yaml" in r.out and "TOPSECRET" not in r.out
    assert cli("remote", "modify", "--local", "s", "access_key_id", "AKIAEXAMPLE").code == 0
    local = repo / ".gitml/config.local.yaml"
    assert "TOPSECRET" in local.read_text()
    assert stat.S_IMODE(os.stat(local).st_mode) == 0o600
    assert (repo / ".gitml/config.yaml").read_bytes() == shared
    assert "config.local.yaml" in git(repo, "check-ignore", ".gitml/config.local.yaml")
    for args in (("remote", "list"), ("remote", "list", "--json"), ("config", "--list"),
                 ("config", "--list", "--json"), ("config", "remote.s.secret_access_key")):
        r = cli(*args)
        assert r.code == 0 and "TOPSECRET" not in r.out + r.err and "AKIAEXAMPLE" not in r.out
    assert "config.local.yaml" in cli("remote", "list").out
    assert cli("remote", "modify", "--local", "s", "secret_access_key", "--unset").code == 0
    assert "TOPSECRET" not in local.read_text()


def test_push_and_fetch_need_a_usable_remote(repo: Path, cli, tmp_path: Path) -> None:
    write(repo / "a.txt", "a")
    assert cli("add", "a.txt").code == 0
    r = cli("push")
    assert r.code == 2 and "no remote given and no default remote" in r.err
    assert cli("remote", "add", "nas", str(tmp_path / "store")).code == 0
    r = cli("push", "-r", "other")
    assert r.code == 2 and "unknown remote 'other' (configured: nas)" in r.err
    r = cli("fetch")
    assert r.code == 2 and f"remote directory {tmp_path / 'store'} does not exist" in r.err
    r = cli("push", "-j", "0")
    assert r.code == 2 and "-j must be between 1 and 256, not 0" in r.err
    r = cli("push", "-j", "100000")  # would size connection pools by it and stall for minutes
    assert r.code == 2 and "-j must be between 1 and 256, not 100000" in r.err
    r = cli("push", "nothere.txt")
    assert r.code == 2 and "nothere.txt is not tracked by gitml in the workspace" in r.err
    r = cli("push", "--json")
    assert r.code == 0 and json.loads(r.out)["transferred"] == 1
    r = cli("status", "--remote", "nas")
    assert r.code == 0 and "In sync with nas" in r.out
    # a remote whose path is a file: one clear line, the file untouched
    write(tmp_path / "afile", "not a remote")
    assert cli("remote", "add", "filed", str(tmp_path / "afile")).code == 0
    r = cli("push", "-r", "filed")
    assert r.code == 2 and f"{tmp_path / 'afile'} exists and is not a directory" in r.err
    assert "Traceback" not in r.err and (tmp_path / "afile").read_text() == "not a remote"


def test_rev_with_all_branches_or_all_tags_is_refused_and_changes_nothing(
        repo: Path, cli, tmp_path: Path) -> None:
    write(repo / "a.txt", "a")
    assert cli("add", "a.txt").code == 0
    git(repo, "add", "a.txt.gitml", ".gitignore")
    git(repo, "commit", "-q", "-m", "a")
    git(repo, "tag", "v1")
    store = tmp_path / "store"
    store.mkdir()
    assert cli("remote", "add", "nas", str(store)).code == 0
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    for cmd in ("push", "fetch", "pull"):
        for flags, named in ((["--all-branches"], "--all-branches"),
                             (["--all-tags"], "--all-tags"),
                             (["--all-branches", "--all-tags"], "--all-branches and --all-tags")):
            r = cli(cmd, "--rev", "HEAD", *flags)
            assert (r.code, r.err.strip()) == (2, f"error: --rev cannot be combined with {named}: "
                                                  "give the revisions, or every branch/tag, "
                                                  "not both"), (cmd, flags)
            assert r.out == ""
    assert list(store.iterdir()) == []
    assert sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts) == before
    # every branch and every tag together is not ambiguous
    r = cli("push", "--all-branches", "--all-tags", "--json")
    assert r.code == 0 and json.loads(r.out)["transferred"] == 1


def test_remote_directory_given_relative_to_a_subdirectory(repo: Path, cli, tmp_path: Path,
                                                           monkeypatch) -> None:
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    assert cli("remote", "add", "rel", "../../shared-store").code == 0
    assert gitml.Repo().config.get("remote.rel.url") == "../shared-store"
    write(repo / "a.txt", "a")
    assert cli("add", "../a.txt").code == 0
    assert cli("push").code == 0
    assert len(list((tmp_path / "shared-store" / "objects").glob("*/*"))) == 1


def test_push_reports_corrupt_and_missing_local_objects_and_sends_the_rest(
        repo: Path, cli, tmp_path: Path) -> None:
    for name in ("good.txt", "bad.txt", "gone.txt"):
        write(repo / name, name)
    assert cli("add", "good.txt", "bad.txt", "gone.txt").code == 0
    store = gitml.Repo().store
    bad = pointer.load(str(repo / "bad.txt.gitml")).oid
    gone = pointer.load(str(repo / "gone.txt.gitml")).oid
    os.chmod(store.path(bad), 0o644)
    Path(store.path(bad)).write_bytes(b"rotten")
    os.unlink(store.path(gone))
    assert cli("remote", "add", "nas", str(tmp_path / "store")).code == 0
    r = cli("push")
    assert r.code == 1
    assert f"1 object missing locally or on remote nas: {gone} (gone.txt)" in r.err
    assert f"1 corrupt (hash mismatch, not sent): {bad} (bad.txt)" in r.err
    assert "pushed 1 object" in r.out
    sent = {"xxh3:" + p.parent.name + p.name for p in (tmp_path / "store/objects").glob("*/*")}
    assert sent == {pointer.load(str(repo / "good.txt.gitml")).oid}


def test_gc_remote_sweeps_temp_files_that_killed_writers_left(repo: Path, cli,
                                                              tmp_path: Path) -> None:
    write(repo / "a.txt", "a")
    assert cli("add", "a.txt").code == 0
    assert cli("remote", "add", "nas", str(tmp_path / "store")).code == 0
    assert cli("push").code == 0
    tmp = tmp_path / "store/tmp"  # where versions before 2026-11-27 wrote them
    tmp.mkdir(exist_ok=True)
    [objdir] = (tmp_path / "store/objects").iterdir()
    old, new = tmp / "dead.1-x", tmp / "live.2-y"
    old2, new2 = objdir / ".gitml-tmp-dead.1.2", objdir / ".gitml-tmp-live.3.4"
    for p in (old, new, old2, new2):
        p.write_bytes(b"half")
    os.utime(old, (0, 0))
    os.utime(old2, (0, 0))
    r = cli("gc", "--remote", "--json")
    assert r.code == 0 and json.loads(r.out)["kept"] == 1  # temp files are not objects
    assert not old.exists() and not old2.exists()
    assert new.exists() and new2.exists()  # a fresh one may belong to a live push
