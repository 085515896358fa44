"""gitml doctor: what a bug report needs (issue 17, item 13). A real S3 server and
directory remotes; a wrong secret and a missing directory are named, no secret printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git
from test_remote import add_remote, s3  # noqa: F401 - fixtures

from gitml import __version__


@pytest.mark.s3
def test_doctor_reports_versions_store_remotes_and_hooks(repo: Path, cli, tmp_path: Path,
                                                        request) -> None:
    handle = add_remote("s3", repo, tmp_path, cli, request)
    assert cli("remote", "add", "-q", "nas", str(tmp_path / "nas")).code == 0
    (tmp_path / "nas").mkdir()
    assert cli("remote", "add", "-q", "gone", str(tmp_path / "no-such-dir")).code == 0
    assert cli("hooks", "install", "pre-push", "-q").code == 0
    r = cli("doctor", "--json")
    assert r.code == 1  # a remote that does not answer needs attention
    info = json.loads(r.out)
    git_version = git(repo, "version").strip().removeprefix("git version ")
    assert info["versions"]["gitml"] == __version__
    assert info["versions"]["git"] == git_version
    assert info["versions"]["pyarrow"] and info["versions"]["click"]
    store = info["store"]
    assert store["path"] == str(repo / ".gitml" / "cache")
    assert store["filesystem"] not in ("", "unknown")
    assert store["free"] > 0 and store["writable"] is True
    assert store["links"]["hardlink"] is True and store["links"]["copy"] is True
    assert store["link_used"] in ("reflink", "copy")  # the default: reflink,copy
    remotes = {x["name"]: x for x in info["remotes"]}
    assert remotes["storage"]["answers"] is True and remotes["storage"]["default"] is True
    assert remotes["storage"]["url"] == handle.url
    assert remotes["nas"]["answers"] is True
    assert remotes["gone"]["answers"] is False
    assert "does not exist" in remotes["gone"]["error"]
    assert info["problems"] == [f"remote gone does not answer: {remotes['gone']['error']}"]
    assert info["hooks"]["hooks"]["pre-push"] == "installed"
    assert info["hooks"]["hooks"]["pre-commit"] == "missing"
    # the human form says the same, and the last line is the one error
    r = cli("doctor")
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0].split() == ["gitml", __version__]
    assert any(ln.split()[:2] == ["remote", "storage"] and ln.endswith("answers")
               for ln in lines)
    assert any(ln.startswith("remote gone") and "DOES NOT ANSWER" in ln for ln in lines)
    assert r.err.strip().startswith("error: remote gone does not answer:")
    # a wrong secret is named as the remote's problem; no secret is ever printed
    assert cli("remote", "remove", "-q", "gone").code == 0
    assert cli("remote", "modify", "-q", "--local", "storage", "secret_access_key",
               "not-the-secret-at-all").code == 0
    r = cli("doctor", "--json")
    assert r.code == 1
    bad = {x["name"]: x for x in json.loads(r.out)["remotes"]}["storage"]
    assert bad["answers"] is False and bad["error"]
    for text in (r.out, r.err, cli("doctor", "-v").out):
        assert handle.server.secret_key not in text and "not-the-secret-at-all" not in text
        assert handle.server.access_key not in text


def test_doctor_outside_a_repository_and_quiet(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("doctor")
    assert r.code == 0
    assert "repository  none here" in r.out and f"gitml       {__version__}" in r.out
    info = json.loads(cli("doctor", "--json").out)
    assert info["repository"] is None and info["problems"] == []
    assert cli("doctor", "-q").out == ""

