"""Interrupted transfers: an injected failure, SIGKILL of gitml, the S3 server killed
mid-transfer, refused credentials. Each leaves nothing corrupt, and a rerun finishes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import s3server
from conftest import git
from test_remote import (
    add_remote,
    assert_files,
    clone,
    make_data,
)

import gitml
from gitml.hashing import hash_bytes, hash_file
from gitml.remotes import transfer

ALL = 43  # objects make_data tracks


@pytest.fixture(scope="session")
def s3() -> s3server.S3Server:
    return s3server.shared()


@pytest.fixture(params=["dir", "s3"])
def remote(request, repo: Path, tmp_path: Path, cli) -> s3server.RemoteHandle:
    return add_remote(request.param, repo, tmp_path, cli, request)


def assert_remote_whole(remote: s3server.RemoteHandle) -> dict[str, bytes]:
    objs = remote.objects()
    assert all(hash_bytes(data) == oid for oid, data in objs.items())
    return objs


def assert_store_whole() -> None:
    store = gitml.Repo().store
    for oid in store.iter_oids():
        assert hash_file(store.path(oid)) == oid


def gitml_process(*args: str, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitml", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_failure_mid_push_leaves_whole_objects_and_a_rerun_finishes(
        repo: Path, remote: s3server.RemoteHandle, cli, monkeypatch) -> None:
    make_data(repo, cli)
    monkeypatch.setenv(transfer.FAIL_AFTER_ENV, "5")
    r = cli("push", "-j", "2")
    assert r.code == 2 and "injected failure after 5 objects" in r.err
    partial = assert_remote_whole(remote)
    assert 5 <= len(partial) < ALL
    manifest = gitml.pointer.load("images.gitml").oid
    assert manifest not in partial  # manifests go last: never before their files
    monkeypatch.delenv(transfer.FAIL_AFTER_ENV)
    r = cli("push")
    assert r.code == 0 and f"{len(partial)} already there" in r.out
    assert len(assert_remote_whole(remote)) == ALL


def test_failure_mid_fetch_leaves_the_store_whole_and_a_rerun_finishes(
        repo: Path, remote: s3server.RemoteHandle, cli, tmp_path: Path, monkeypatch) -> None:
    files = make_data(repo, cli)
    assert cli("push").code == 0
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    monkeypatch.setenv(transfer.FAIL_AFTER_ENV, "5")
    r = cli("pull", "-j", "2")
    assert r.code == 2 and "injected failure after 5 objects" in r.err
    assert not (dest / "images").exists()  # no checkout after a failed fetch
    assert_store_whole()
    monkeypatch.delenv(transfer.FAIL_AFTER_ENV)
    r = cli("pull")
    assert r.code == 0 and "already in the store" in r.out
    assert_files(dest, files)


def test_sigkill_during_push_and_pull_then_rerun(repo: Path, cli, tmp_path: Path, monkeypatch,
                                                 request) -> None:
    # A directory remote: temp file + rename is ours to get right (an S3 PUT is atomic).
    remote = add_remote("dir", repo, tmp_path, cli, request)
    files = make_data(repo, cli)
    kill = {transfer.FAIL_AFTER_ENV: "7", transfer.FAIL_ACTION_ENV: "sigkill"}
    p = gitml_process("push", "-j", "2", env=kill)
    assert p.returncode == -9, p.stderr
    assert 7 <= len(assert_remote_whole(remote)) < ALL
    assert gitml_process("push").returncode == 0
    assert len(assert_remote_whole(remote)) == ALL

    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    p = gitml_process("pull", "-j", "2", env=kill)
    assert p.returncode == -9, p.stderr
    assert_store_whole()
    p = gitml_process("pull")
    assert p.returncode == 0, p.stderr
    assert_files(dest, files)
    assert cli("fsck").code == 0


def test_s3_server_killed_mid_transfer_gives_a_clear_error_then_rerun_completes(
        repo: Path, cli, tmp_path: Path, monkeypatch, request, s3: s3server.S3Server) -> None:
    remote = add_remote("s3", repo, tmp_path, cli, request)
    files = make_data(repo, cli)
    monkeypatch.setattr(transfer, "FAULT_HOOK", s3.kill)
    monkeypatch.setenv(transfer.FAIL_AFTER_ENV, "5")
    try:
        t0 = time.monotonic()
        r = cli("push", "-j", "4")
        assert r.code == 2
        assert "cannot reach remote storage" in r.err and "after 2 attempts" in r.err
        assert time.monotonic() - t0 < 20  # bounded retries, no hang
    finally:
        s3.start()
    monkeypatch.delenv(transfer.FAIL_AFTER_ENV)
    assert 5 <= len(assert_remote_whole(remote)) < ALL
    assert cli("push").code == 0
    assert len(assert_remote_whole(remote)) == ALL

    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    monkeypatch.setenv(transfer.FAIL_AFTER_ENV, "5")
    try:
        r = cli("pull", "-j", "4")
        assert r.code == 2 and "cannot reach remote storage" in r.err
    finally:
        s3.start()
    monkeypatch.delenv(transfer.FAIL_AFTER_ENV)
    assert_store_whole()
    assert cli("pull").code == 0
    assert_files(dest, files)


def test_refused_credentials_exit_2_with_no_secret_shown_and_nothing_written(
        repo: Path, cli, tmp_path: Path, monkeypatch, request, s3: s3server.S3Server) -> None:
    remote = add_remote("s3", repo, tmp_path, cli, request)
    make_data(repo, cli)
    assert cli("push").code == 0
    dest = clone(repo, tmp_path / "clone", monkeypatch, remote)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-123")
    r = cli("pull")
    assert r.code == 2
    assert "remote storage" in r.err and "refused the credentials (SignatureDoesNotMatch)" in r.err
    assert "wrong-secret-123" not in r.err + r.out and s3.secret_key not in r.err
    store = gitml.Repo().store
    assert not list(store.iter_oids())
    assert not list(Path(store.root).rglob(".gitml-tmp-*"))
    assert not (dest / "images").exists() and not (dest / "data/big.bin").exists()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    r = cli("fetch")
    assert r.code == 2 and "(InvalidAccessKeyId)" in r.err
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k)
    r = cli("status", "--remote")
    assert r.code == 2 and "no credentials found" in r.err

    monkeypatch.chdir(repo)  # credentials in config.local.yaml are refused the same way
    assert cli("remote", "modify", "--local", "storage", "secret_access_key", "bad-456").code == 0
    (repo / "new.txt").write_text("new")
    assert cli("add", "new.txt").code == 0
    before = len(remote.objects())
    r = cli("push")
    assert r.code == 2 and "refused the credentials" in r.err and "bad-456" not in r.err
    assert len(remote.objects()) == before
    git(repo, "status")  # the repository is untouched and usable


@pytest.mark.parametrize("path", ["fast", "boto-only"])
def test_refused_push_and_status_name_the_s3_error_code_not_403(
        repo: Path, cli, tmp_path: Path, monkeypatch, request, s3: s3server.S3Server,
        path: str) -> None:
    # push and status --remote start with HEAD requests, whose 403 has no body (no S3 code)
    if path == "boto-only":
        monkeypatch.setenv("GITML_S3_BOTO_ONLY", "1")
    remote = add_remote("s3", repo, tmp_path, cli, request)
    (repo / "a.txt").write_text("a")
    assert cli("add", "a.txt").code == 0
    for k in ("access_key_id", "secret_access_key"):
        assert cli("remote", "modify", "--local", "storage", k, "--unset").code == 0
    for key_id, code in ((s3.access_key, "SignatureDoesNotMatch"),
                         ("nobody", "InvalidAccessKeyId")):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-123")
        for args in (("push",), ("status", "--remote")):
            r = cli(*args)
            assert r.code == 2, (args, r.err)
            lines = r.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: remote storage (s3://")
            assert f"refused the credentials ({code}): check" in lines[0], (args, lines[0])
            assert "403" not in lines[0] and "wrong-secret-123" not in r.err + r.out
            assert s3.secret_key not in r.err + r.out
    assert remote.objects() == {}
