"""``gitml status --remote``: per tracked path, what is not pushed and what is not fetched."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.chunks import ChunkList
from gitml.errors import GitmlError
from gitml.remotes import config as rconfig
from gitml.remotes import select
from gitml.remotes.base import TransferIncomplete
from gitml.remotes.chunked import may_be_chunked, record_key, remote_list

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class PathState:
    """``state``: in sync, not pushed, not fetched, or missing (in neither place)."""

    path: str
    kind: str
    state: str
    objects: int
    not_pushed: int = 0
    not_fetched: int = 0
    missing: int = 0
    bytes: int = 0  # of its files
    bytes_not_pushed: int = 0  # a chunked file: only the chunks the remote lacks
    bytes_not_fetched: int = 0  # a chunked file: only the chunks the store lacks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RemoteStatus:
    remote: str
    url: str
    paths: list[PathState] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return all(p.state == "in sync" for p in self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {"remote": self.remote, "url": self.url, "in_sync": self.in_sync,
                "not_pushed": sum(p.not_pushed for p in self.paths),
                "not_fetched": sum(p.not_fetched for p in self.paths),
                "missing": sum(p.missing for p in self.paths),
                "bytes_not_pushed": sum(p.bytes_not_pushed for p in self.paths),
                "bytes_not_fetched": sum(p.bytes_not_fetched for p in self.paths),
                "paths": [p.to_dict() for p in self.paths]}


def remote_status(repo: Repo, targets: list[str] | None = None, remote: str | None = None,
                  jobs: int | None = None) -> RemoteStatus:
    """Compare the objects of the workspace's tracked paths with the store and a remote.

    Directory manifests the store lacks are fetched (verified) to learn their files.
    """
    from gitml.remotes import transfer

    rs = rconfig.spec(repo, remote)
    sel = select.select(repo, targets, None)
    store = repo.store
    lacking = [i.ptr.oid for i in sel.items if i.ptr.is_dir and not store.has(i.ptr.oid)]
    if lacking:
        try:
            transfer.fetch_objects(repo, lacking, rs.name, jobs)
        except TransferIncomplete:
            pass  # counted below as a missing manifest

    def read_manifest(oid: str, rel: str) -> bytes | None:
        try:
            return store.read_bytes(oid, what=rel) if store.has(oid) else None
        except GitmlError:
            return None

    per_item = []
    every: set[str] = set()
    for item in sel.items:
        wants, _ = select.expand(select.Selection([item]), read_manifest)
        per_item.append((item, wants))
        every.update(wants)
    out = RemoteStatus(rs.name, rs.url)
    if not every:
        return out
    big = {w.oid: w for _, wants in per_item for w in wants.values() if may_be_chunked(w)}
    local = {}  # files the store holds as chunks: their lists
    for oid in big:
        with contextlib.suppress(GitmlError):
            if (cl := store.chunk_list(oid)) is not None:
                local[oid] = cl
    backend = rconfig.open_backend(repo, rs, jobs=rs.jobs(jobs), must_exist=False)
    try:
        parts = {c for cl in local.values() for c in cl.ids}
        remote_has = backend.exists(sorted(every | parts))
        held: dict[str, ChunkList | None] = {}  # on the remote as chunks: list if known
        for oid in big:
            if oid not in remote_has:
                with contextlib.suppress(GitmlError):
                    if oid in local and backend.read_key(record_key(oid)) is not None:
                        held[oid] = None
                    elif oid not in local and (rl := remote_list(backend, oid, rs.name)):
                        held[oid] = rl
    finally:
        backend.close()

    def lacking(oid: str, size: int, cl: ChunkList | None, has: Callable[[str], bool]) -> int:
        return size if cl is None else sum(n for c, n in cl.distinct().items() if not has(c))

    for item, wants in per_item:
        ps = PathState(item.rel, item.ptr.kind, "in sync", len(wants))
        for oid, w in wants.items():
            here, there = store.has(oid), oid in remote_has or oid in held
            size = w.size or 0
            ps.bytes += size
            ps.not_pushed += here and not there
            ps.not_fetched += there and not here
            ps.missing += not here and not there
            if here and not there:
                ps.bytes_not_pushed += lacking(oid, size, local.get(oid), remote_has.__contains__)
            elif there and not here:
                ps.bytes_not_fetched += lacking(oid, size, held.get(oid),
                                                lambda c: os.path.exists(store.path(c)))
        ps.state = ("missing" if ps.missing else "not pushed" if ps.not_pushed
                    else "not fetched" if ps.not_fetched else "in sync")
        out.paths.append(ps)
    return out
