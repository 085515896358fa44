"""``gitml status --remote``: per tracked path, what is not pushed and what is not fetched."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import GitmlError
from gitml.remotes import config as rconfig
from gitml.remotes import select
from gitml.remotes.base import TransferIncomplete

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
    backend = rconfig.open_backend(repo, rs, jobs=rs.jobs(jobs), must_exist=False)
    try:
        remote_has = backend.exists(sorted(every))
    finally:
        backend.close()
    for item, wants in per_item:
        ps = PathState(item.rel, item.ptr.kind, "in sync", len(wants))
        for oid in wants:
            here, there = store.has(oid), oid in remote_has
            ps.not_pushed += here and not there
            ps.not_fetched += there and not here
            ps.missing += not here and not there
        ps.state = ("missing" if ps.missing else "not pushed" if ps.not_pushed
                    else "not fetched" if ps.not_fetched else "in sync")
        out.paths.append(ps)
    return out
