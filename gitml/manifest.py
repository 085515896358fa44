"""Directory manifests: the sorted list of (path, hash, size, exec) and its canonical bytes.

Canonical form (format version 1, specified in docs/formats.md): UTF-8 JSON Lines,
a header line ``{"format":"gitml-manifest","version":1}``, then one line per file,
``["rel/posix/path","xxh3:<32 hex>",size,exec]``, sorted by path (code point order),
compact separators, no trailing spaces, every line ending in ``\\n``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gitml.errors import FormatError
from gitml.fsutil import check_relpath
from gitml.hashing import hash_bytes, is_oid

VERSION = 1
HEADER = b'{"format":"gitml-manifest","version":1}\n'


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a tracked directory."""

    path: str
    oid: str
    size: int
    exec: bool = False


def dumps(entries: list[Entry]) -> bytes:
    """The canonical bytes of a manifest (entries are sorted here)."""
    ordered = sorted(entries, key=lambda e: e.path)
    dump = json.dumps
    lines = [dump([e.path, e.oid, e.size, e.exec], ensure_ascii=False, separators=(",", ":"))
             for e in ordered]
    body = "\n".join(lines).encode()
    return HEADER + body + (b"\n" if lines else b"")


def oid_of(entries: list[Entry]) -> tuple[str, bytes]:
    """(object id, canonical bytes) of a manifest."""
    data = dumps(entries)
    return hash_bytes(data), data


def loads(data: bytes, source: str) -> list[Entry]:
    """Parse and validate manifest bytes; every path must stay inside the directory."""
    if not data.startswith(b'{"format":"gitml-manifest"'):
        raise FormatError(source, "not a gitml manifest")
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
        rows = json.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(source, f"malformed manifest: {e}") from None
    if header.get("version") != VERSION:
        raise FormatError(source, f"unsupported manifest version {header.get('version')!r}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for row in rows:
        if (not isinstance(row, list) or len(row) != 4 or not isinstance(row[0], str)
                or not is_oid(row[1]) or type(row[2]) is not int or row[2] < 0
                or not isinstance(row[3], bool)):
            raise FormatError(source, f"malformed manifest entry {row!r}")
        path = row[0]
        check_relpath(path, source=source)
        if path in seen:
            raise FormatError(source, f"duplicate path {path!r}")
        seen.add(path)
        entries.append(Entry(path, row[1], row[2], row[3]))
    for e in entries:  # a path cannot be both a file and a directory
        parent = e.path.rpartition("/")[0]
        while parent:
            if parent in seen:
                raise FormatError(source, f"{parent!r} is both a file and a directory")
            parent = parent.rpartition("/")[0]
    return entries
