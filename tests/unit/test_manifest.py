"""Manifest canonical bytes and validation (the bytes decide every directory hash)."""

from __future__ import annotations

import pytest

from gitml import manifest
from gitml.errors import FormatError
from gitml.manifest import Entry

A = "xxh3:" + "a" * 32
B = "xxh3:" + "b" * 32


def test_canonical_bytes_are_sorted_compact_json_lines() -> None:
    data = manifest.dumps([Entry("z/é.txt", B, 2, True), Entry("a", A, 1)])
    assert data == ('{"format":"gitml-manifest","version":1}\n'
                    f'["a","{A}",1,false]\n["z/é.txt","{B}",2,true]\n').encode()
    assert manifest.oid_of([Entry("a", A, 1)])[0] == manifest.oid_of([Entry("a", A, 1)])[0]


def test_names_that_look_like_separators_round_trip() -> None:
    entries = [Entry('we],[ird "name"', A, 1), Entry("n\nl", B, 2)]
    data = manifest.dumps(entries)
    assert manifest.loads(data, "m") == sorted(entries)
    assert data.count(b"\n") == 3


def test_empty_directory() -> None:
    assert manifest.loads(manifest.dumps([]), "m") == []


@pytest.mark.parametrize("path", ["../x", "/abs", "a/./b", "a/../b", "..", ".", "a/", "",
                                  "a//b", "a\\b", "a\x00b"])
def test_unsafe_paths_are_rejected(path: str) -> None:
    data = manifest.HEADER + f'["{path}","{A}",1,false]\n'.encode()
    data = data.replace(b"\x00", b"\\u0000").replace(b"a\\b", b"a\\\\b")
    with pytest.raises(FormatError):
        manifest.loads(data, "m")


@pytest.mark.parametrize("line", [
    f'["a","{A[:-1]}",1,false]', f'["a","{A}",-1,false]', f'["a","{A}",1]',
    f'["a","{A}","1",false]', f'["a","{A}",1,0]', '{"path":"a"}',
    f'["a","{A}",1,false]\n["a","{B}",1,false]', f'["a","{A}",1,false]\n["a/b","{B}",1,false]',
])
def test_malformed_entries_are_rejected(line: str) -> None:
    with pytest.raises(FormatError):
        manifest.loads(manifest.HEADER + line.encode() + b"\n", "m")


def test_hidden_files_are_fine() -> None:
    data = manifest.dumps([Entry(".hidden/.x", A, 1)])
    assert manifest.loads(data, "m")[0].path == ".hidden/.x"
