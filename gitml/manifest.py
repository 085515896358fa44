"""Directory manifests: the sorted list of (path, hash, size, exec) and its canonical bytes.

Canonical form (format version 1, specified in docs/formats.md): UTF-8 JSON Lines,
a header line ``{"format":"gitml-manifest","version":1}``, then one line per file,
``["rel/posix/path","xxh3:<32 hex>",size,exec]``, sorted by path (code point order),
compact separators, non-ASCII characters as themselves, every line ending in ``\\n``.

Manifests of 100,000 files are parsed and validated with whole-list operations
(one JSON parse, one regular-expression pass over all hashes and all paths).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import NamedTuple

from gitml.errors import FormatError
from gitml.hashing import hash_bytes
from gitml.pathrules import check_many

VERSION = 2  # the newest this gitml reads; it writes 1 unless a directory is kept empty
HEADER = b'{"format":"gitml-manifest","version":1}\n'
_OIDS = re.compile(r"(?:xxh3:[0-9a-f]{32}\n)*")


class Manifest(list["Entry"]):
    """The files of a tracked directory (sorted entries) and its empty folders."""

    def __init__(self, entries: Iterable[Entry] = (), empty: Iterable[str] = ()) -> None:
        super().__init__(entries)
        self.empty: tuple[str, ...] = tuple(empty)


class Entry(NamedTuple):
    """One file of a tracked directory."""

    path: str
    oid: str
    size: int
    exec: bool = False


def header(empty: Iterable[str] = ()) -> bytes:
    """The header line: version 1, or version 2 naming the empty folders (sorted)."""
    folders = sorted(set(empty))
    if not folders:
        return HEADER
    return (b'{"format":"gitml-manifest","version":2,"empty":'
            + json.dumps(folders, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "surrogateescape") + b"}\n")


def dumps(entries: list[Entry], empty: Iterable[str] = ()) -> bytes:
    """The canonical bytes of a manifest (entries and empty folders are sorted here)."""
    ordered = sorted(entries, key=itemgetter(0))
    head = header(empty)
    if not ordered:
        return head
    joined = "\x00".join(e[0] for e in ordered)
    if "],[" in joined:  # the fast path below would split inside such a name
        lines = "\n".join(json.dumps(list(e), ensure_ascii=False, separators=(",", ":"))
                          for e in ordered)
    else:
        body = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
        lines = body[1:-1].replace("],[", "]\n[")
    return head + lines.encode("utf-8", "surrogateescape") + b"\n"


def oid_of(entries: list[Entry], empty: Iterable[str] = ()) -> tuple[str, bytes]:
    """(object id, canonical bytes) of a manifest."""
    data = dumps(entries, empty)
    return hash_bytes(data), data


_OID_FIELD = re.compile(rb'"(xxh3:[0-9a-f]{32})"')


def oids(data: bytes) -> set[str]:
    """The object ids a manifest names, without validating it (for existence shortcuts)."""
    return {m.decode() for m in _OID_FIELD.findall(data)}


def loads(data: bytes, source: str) -> Manifest:
    """Parse and validate manifest bytes; every path must stay inside the directory."""
    if not data.startswith(b'{"format":"gitml-manifest"'):
        raise FormatError(source, "not a gitml manifest")
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
        rows = json.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
    except (ValueError, RecursionError) as e:  # syntax, huge integers, deep nesting
        raise FormatError(source, f"malformed manifest: {str(e) or 'nested too deeply'}"
                          ) from None
    version = header.get("version") if isinstance(header, dict) else None
    if version not in (1, 2):
        newer = isinstance(version, int) and version > VERSION
        raise FormatError(source, f"unsupported manifest version {version!r}"
                                  + (": written by a newer gitml; upgrade gitml" if newer else ""))
    empty = _empty_folders(header, source) if version == 2 else ()
    if not rows:
        return Manifest((), empty)
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {4}:
        raise FormatError(source, "malformed manifest entry (expected [path, hash, size, exec])")
    paths, oids, sizes, execs = zip(*rows, strict=True)
    if (set(map(type, paths)) != {str} or set(map(type, oids)) != {str}
            or set(map(type, sizes)) != {int} or not set(map(type, execs)) <= {bool}
            or min(sizes) < 0 or not _OIDS.fullmatch("\n".join(oids) + "\n")):
        bad = next((r for r in rows if not (isinstance(r[0], str) and type(r[2]) is int
                                            and r[2] >= 0 and type(r[3]) is bool
                                            and isinstance(r[1], str)
                                            and _OIDS.fullmatch(r[1] + "\n"))), rows[0])
        raise FormatError(source, f"malformed manifest entry {bad!r}")
    fileset, dirs = check_paths(paths, source)
    busy = set(empty) & (dirs | fileset)
    if busy:
        raise FormatError(source, f"{sorted(busy)[0]!r} is listed as an empty folder but is not")
    return Manifest(map(Entry._make, rows), empty)


def check_paths(paths: Sequence[str], source: str) -> tuple[set[str], set[str]]:
    """The rules for the file paths of a manifest (whole-list operations): each passes the
    path validator, none is a pointer file, none twice, none both a file and a directory.
    Returns (the paths, the folders above them)."""
    check_many(paths, source=source)
    if ".gitml\x00" in "\x00".join(paths) + "\x00":  # add never stores a pointer in a dir
        bad = next(p for p in paths if p.endswith(".gitml"))
        raise FormatError(source, f"{bad!r}: a pointer file inside a tracked directory")
    fileset = set(paths)
    if len(fileset) != len(paths):
        raise FormatError(source, "duplicate path in manifest")
    dirs: set[str] = set()
    for parent in {p.rpartition("/")[0] for p in paths}:
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    clash = fileset & dirs
    if clash:
        raise FormatError(source, f"{sorted(clash)[0]!r} is both a file and a directory")
    return fileset, dirs


def _empty_folders(header: dict[str, object], source: str) -> tuple[str, ...]:
    """The ``empty`` list of a version-2 header, validated: sorted, unique, clean paths,
    none inside another (then that one would not be empty)."""
    empty = header.get("empty")
    if (set(header) != {"format", "version", "empty"} or not isinstance(empty, list) or not empty
            or not all(isinstance(p, str) for p in empty) or empty != sorted(set(empty))):
        raise FormatError(source, "malformed manifest header (version 2 names its empty "
                                  "folders, sorted)")
    check_many(empty, source=source)
    folders = set(empty)
    for p in empty:
        parent = p.rpartition("/")[0]
        while parent:
            if parent in folders:
                raise FormatError(source, f"empty folder {parent!r} contains {p!r}")
            parent = parent.rpartition("/")[0]
    return tuple(empty)
