"""``gitml du``: what tracked data weighs (its files' size) against what it takes in the
store, per tracked path and for the whole store. A file held as chunks shares chunks
with its other versions, so its versions together take much less than their sizes add
up to (docs/core.md, "Big files are stored as chunks")."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import manifest
from gitml.errors import GitmlError

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.store import Store


@dataclass
class PathUsage:
    path: str
    kind: str
    size: int  # its files, as the pointer says
    stored: int  # its distinct objects (chunks, lists, manifest) in the store
    chunked: int = 0  # files held as chunks
    missing: int = 0  # objects the store lacks (not fetched)


@dataclass
class Usage:
    rev: str | None
    paths: list[PathUsage] = field(default_factory=list)
    store_files: int = 0  # files the store holds (whole or as chunks), all versions
    store_size: int = 0  # their sizes added up
    store_bytes: int = 0  # the bytes of every object in the store
    store_objects: int = 0
    stored: int = 0  # the bytes all paths' objects take together (shared chunks once)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = sum(p.size for p in self.paths)
        return d


def usage(repo: Repo, targets: list[str] | None = None, rev: str | None = None) -> Usage:
    """Logical size against bytes stored, per tracked path (the workspace's pointers, or
    those at ``rev``) and for the store."""
    from gitml.remotes import select

    sel = select.select(repo, targets, [rev] if rev else None)
    store = repo.store
    out = Usage(rev)
    sizes: dict[str, int] = {}  # object -> bytes it takes
    every: set[str] = set()
    for item in sel.items:
        objs: dict[str, int] = {}
        pu = PathUsage(item.rel, item.ptr.kind, item.ptr.size, 0)
        files = [(item.ptr.oid, item.ptr.size)]
        if item.ptr.is_dir:
            objs[item.ptr.oid] = _size(store, item.ptr.oid)
            try:
                files = [(e.oid, e.size) for e in manifest.loads(
                    store.read_bytes(item.ptr.oid, what=item.rel), item.rel)]
            except GitmlError:
                files = []
                pu.missing += 1
        for oid, size in files:
            cl = _chunk_list(store, oid, size)
            if cl is None:
                objs[oid] = _size(store, oid)
                continue
            pu.chunked += 1
            lid = store.list_id(oid) or ""
            objs[lid] = _size(store, lid)
            for cid, n in cl.distinct().items():
                objs[cid] = n if os.path.exists(store.path(cid)) else -1
        pu.missing += sum(1 for n in objs.values() if n < 0)
        pu.stored = sum(max(n, 0) for n in objs.values())
        sizes.update(objs)
        every.update(objs)
        out.paths.append(pu)
    out.stored = sum(max(sizes[o], 0) for o in every)
    _store_totals(store, out)
    return out


def _chunk_list(store: Store, oid: str, size: int) -> Any:
    from gitml.chunks import THRESHOLD_MIN

    if size < THRESHOLD_MIN:
        return None
    try:
        return store.chunk_list(oid)
    except GitmlError:
        return None


def _size(store: Store, oid: str) -> int:
    try:
        return os.lstat(store.path(oid)).st_size
    except (FileNotFoundError, ValueError):
        return -1


def _store_totals(store: Store, out: Usage) -> None:
    parts: set[str] = set()  # chunks and lists: not files of their own
    for oid in store.iter_chunked():
        try:
            cl = store.chunk_list(oid)
        except GitmlError:
            continue
        if cl is not None:
            out.store_files += 1
            out.store_size += cl.size
            parts.update(cl.ids)
            parts.add(store.list_id(oid) or "")
    for oid in store.iter_oids():
        n = _size(store, oid)
        out.store_objects += 1
        out.store_bytes += max(n, 0)
        if oid not in parts:
            out.store_files += 1
            out.store_size += max(n, 0)
