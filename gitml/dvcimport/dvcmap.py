"""The DVC map: DVC's MD5 of every imported object -> its gitml hash, so that revisions from
before the import (whose ``.dvc`` files and ``dvc.lock`` name MD5s) stay readable.

The map is an object in the store (pushed and fetched like any other); the committed
record ``.gitml/dvc-map.yaml`` names it::

    gitml-dvc-map: 1
    map: xxh3:<32 hex>
    entries: 1234

Map object, version 1: a header line, then one line per object, sorted::

    {"format":"gitml-dvcmap","version":1}
    <md5>[.dir] xxh3:<32 hex> <size>[ <files>]

A ``.dir`` line names the gitml manifest of the same directory and its file count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitml import yamlio
from gitml.errors import FormatError
from gitml.fsutil import atomic_write
from gitml.hashing import is_oid

if TYPE_CHECKING:
    from gitml.repo import Repo

RECORD = ".gitml/dvc-map.yaml"
HEADER = b'{"format":"gitml-dvcmap","version":1}\n'
# md5[.dir] -> (oid, size, files or None)
Map = dict[str, tuple[str, int, "int | None"]]


def dumps(entries: Map) -> bytes:
    lines = [HEADER]
    for key in sorted(entries):
        oid, size, files = entries[key]
        tail = f" {files}" if files is not None else ""
        lines.append(f"{key} {oid} {size}{tail}\n".encode())
    return b"".join(lines)


def loads(data: bytes, source: str) -> Map:
    if not data.startswith(HEADER):
        raise FormatError(source, "not a gitml DVC map")
    out: Map = {}
    for n, line in enumerate(data[len(HEADER):].decode("ascii", "replace").splitlines(), 2):
        parts = line.split(" ")
        key = parts[0]
        ok = (len(parts) in (3, 4) and len(key) in (32, 36) and is_oid(parts[1])
              and parts[2].isdigit() and (len(parts) == 3 or parts[3].isdigit())
              and (len(key) == 32 or key.endswith(".dir")))
        if not ok:
            raise FormatError(source, f"line {n}: malformed entry")
        out[key] = (parts[1], int(parts[2]), int(parts[3]) if len(parts) == 4 else None)
    return out


def record_oid(repo: Repo) -> str | None:
    """The map object the record names: the workspace's, or in a repository without one
    (another repository's bare clone) HEAD's; None: no DVC import there."""
    path = os.path.join(repo.root, *RECORD.split("/"))
    try:
        data: bytes | None = yamlio.read(path, RECORD, "record")
    except FileNotFoundError:  # a work tree without it has no import; a bare clone: HEAD's
        data = None if os.path.isdir(os.path.join(repo.root, ".gitml")) else _at_head(repo)
    if data is None:
        return None
    doc = yamlio.loads(data, RECORD, "record")
    if not isinstance(doc, dict) or doc.get("gitml-dvc-map") != 1 or not is_oid(doc.get("map")):
        raise FormatError(RECORD, "not a gitml DVC map record (expected gitml-dvc-map: 1 and "
                                  "map: xxh3:...)")
    return str(doc["map"])


_heads: dict[str, bytes | None] = {}


def _at_head(repo: Repo) -> bytes | None:
    if repo.root not in _heads:
        from gitml import gitio

        with gitio.BatchReader(repo.root) as reader:
            obj = reader.read_object(f"HEAD:{RECORD}", limit=1 << 16)
        _heads[repo.root] = obj[2] if obj is not None and obj[1] == "blob" else None
    return _heads[repo.root]


def save(repo: Repo, entries: Map) -> str:
    """Store the map (merged with the one already recorded) and write the record; the
    store must be flushed before the record names the object: the caller does it."""
    old = load(repo, fetch=False)
    merged = {**old, **entries}
    data = dumps(merged)
    oid = repo.store.put_bytes(data)
    repo.store.flush()
    text = yamlio.dumps({"gitml-dvc-map": 1, "map": oid, "entries": len(merged)})
    atomic_write(os.path.join(repo.root, *RECORD.split("/")), text.encode())
    _cache.pop(repo.root, None)
    return oid


_cache: dict[str, Map] = {}


def load(repo: Repo, *, fetch: bool | Callable[[str], None] = True) -> Map:
    """The map the record names ({} without one). A map missing from the store is fetched
    from the default remote (``fetch``; or by ``fetch(oid)`` when it is a function), else
    an error says so."""
    if repo.root in _cache:
        return _cache[repo.root]
    oid = record_oid(repo)
    if oid is None:
        return {}
    if not repo.store.has(oid):
        if not fetch:
            return {}
        if callable(fetch):
            fetch(oid)
        else:
            from gitml.readapi import RevReader

            with RevReader(repo) as reader:  # from the default remote, or an error
                reader.object_path(oid, RECORD)
    m = loads(repo.store.read_bytes(oid, what=RECORD), f"DVC map {oid}")
    _cache[repo.root] = m
    return m


def referenced(repo: Repo) -> set[str]:
    """The map object and every object it names (kept by gc: older revisions name them)."""
    oid = record_oid(repo)
    if oid is None:
        return set()
    return {oid} | {v[0] for v in load(repo, fetch=False).values()}
