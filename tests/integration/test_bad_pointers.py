"""Malformed pointers and manifests: one clear line naming the file, exit 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write

import gitml
from gitml import manifest

OID = "xxh3:" + "ab" * 16


@pytest.mark.parametrize("text, message", [
    ("gitml: 1\npath: [unclosed\n", "invalid YAML"),
    ("gitml: 1\npath: f.bin\nkind: file\nhash: xxh3:XYZ\nsize: 1\n", "malformed hash"),
    (f"gitml: 1\npath: ../f.bin\nkind: file\nhash: {OID}\nsize: 1\n", "plain name"),
    (f"gitml: 1\npath: /etc/passwd\nkind: file\nhash: {OID}\nsize: 1\n", "plain name"),
    (f"gitml: 1\npath: other.bin\nkind: file\nhash: {OID}\nsize: 1\n", "disagrees"),
    (f"gitml: 1\npath: f.bin\nkind: blob\nhash: {OID}\nsize: 1\n", "kind must be"),
    (f"gitml: 9\npath: f.bin\nkind: file\nhash: {OID}\nsize: 1\n", "format version"),
    (f"gitml: 1\npath: f.bin\nkind: file\nhash: {OID}\nsize: -3\n", "malformed size"),
    (f"gitml: 1\npath: f.bin\nkind: file\nhash: {OID}\nsize: 1\nextra: 2\n", "unknown key"),
    ("- just\n- a list\n", "expected a mapping"),
])
@pytest.mark.parametrize("command", ["status", "checkout", "diff"])
def test_malformed_pointer(repo: Path, cli, text: str, message: str, command: str) -> None:
    write(repo / "f.bin.gitml", text)
    before = sorted(os.listdir(repo))
    r = cli(command)
    assert r.code == 2, r.out + r.err
    assert "f.bin.gitml" in r.err and message in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert sorted(os.listdir(repo)) == before


@pytest.mark.parametrize("bad_path", ["../escape.txt", "/tmp/abs.txt", "a/../../x", "a//b", ""])
def test_manifest_naming_a_path_outside_is_refused(repo: Path, cli, tmp_path: Path,
                                                    bad_path: str) -> None:
    store = gitml.Repo().store
    content = store.put_bytes(b"payload")
    line = f'["{bad_path}","{content}",7,false]\n'.encode()
    moid = store.put_bytes(manifest.HEADER + line)
    write(repo / "d.gitml", f"gitml: 1\npath: d\nkind: dir\nhash: {moid}\nsize: 7\nfiles: 1\n")
    r = cli("checkout")
    assert r.code == 2, r.out + r.err
    assert "manifest of d" in r.err
    assert not (repo / "d").exists()
    assert not (repo.parent / "escape.txt").exists()
    assert not Path("/tmp/abs.txt").exists() or bad_path != "/tmp/abs.txt"


def test_manifest_that_is_not_a_manifest(repo: Path, cli) -> None:
    store = gitml.Repo().store
    moid = store.put_bytes(b"not json at all")
    write(repo / "d" / "x", "x")
    write(repo / "d.gitml", f"gitml: 1\npath: d\nkind: dir\nhash: {moid}\nsize: 7\nfiles: 1\n")
    r = cli("status")
    assert r.code == 2 and "not a gitml manifest" in r.err
