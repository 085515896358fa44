"""``gitml gc --remote``: delete remote objects that no branch, tag or work tree references.

The references are the local repository's (:func:`gitml.gc.referenced`: every ref
including remote-tracking branches, reflogs, stashes, work trees), so run ``git fetch``
first. Directories whose manifest the store lacks have it fetched first; when a
manifest can be found in neither place, its files cannot be told apart from garbage,
and gc refuses unless forced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gc as local_gc
from gitml.errors import GitmlError, MissingObjectError
from gitml.remotes import config as rconfig

if TYPE_CHECKING:
    from gitml.remotes.base import Backend
    from gitml.repo import Repo


@dataclass
class RemoteGcResult:
    remote: str
    url: str
    removed: int
    bytes_freed: int
    kept: int
    dry_run: bool
    missing_manifests: list[str] = field(default_factory=list)  # unseen, with --force

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gc_remote(repo: Repo, remote: str | None = None, *, dry_run: bool = False,
              workspace_only: bool = False, force: bool = False,
              jobs: int | None = None) -> RemoteGcResult:
    """Delete the remote's objects that nothing in this repository references."""

    if workspace_only and not force and not dry_run:
        raise GitmlError("--workspace-only deletes remote data that other branches and tags "
                         "still reference; add --force to confirm (or --dry-run to look first)")
    rs = rconfig.spec(repo, remote)
    keep, unseen = local_gc.referenced(repo, workspace_only=workspace_only, remote=rs.name)
    if unseen and not force:
        local_gc.refuse_unseen(unseen)
    backend = rconfig.open_backend(repo, rs, jobs=rs.jobs(jobs), must_exist=False)
    try:
        from gitml.remotes.runs import collect_remote  # entries whose outputs stay (issue 18)

        collect_remote(repo, backend, keep, dry_run=dry_run, jobs=rs.jobs(jobs))
        records = _follow_remote_chunks(backend, keep, unseen, rs.name)
        if unseen and not force:
            local_gc.refuse_unseen(unseen)
        gone = [key for oid, key in records.items() if oid not in keep]
        if gone and not dry_run:  # the names first, then what they named
            backend.delete_keys(gone)
        listing = list(backend.list(sizes=True))
        garbage = [(oid, size) for oid, size in listing if oid not in keep]
        if garbage and not dry_run:
            backend.delete([oid for oid, _ in garbage])
        if not dry_run and hasattr(backend, "clean_tmp"):
            backend.clean_tmp()
    finally:
        backend.close()
    return RemoteGcResult(rs.name, rs.url, len(garbage), sum(max(s, 0) for _, s in garbage),
                          len(listing) - len(garbage), dry_run, [str(u) for u in unseen])


def _follow_remote_chunks(backend: Backend, keep: set[str], unseen: list[local_gc.Unseen],
                          name: str) -> dict[str, str]:
    """Keep the lists and chunks of kept files the remote holds as chunks; returns
    {file id: record key} of every record on the remote."""
    from gitml.remotes.chunked import TOP, key_oid, remote_list

    records = {oid: key for key in backend.list_keys(TOP) if (oid := key_oid(key))}
    for oid in records:
        if oid not in keep:
            continue
        try:
            cl = remote_list(backend, oid, f"remote {name}")
        except MissingObjectError as e:
            unseen.append(local_gc.Unseen(e.oid, f"the chunked file {oid}", "missing",
                                          "chunk list"))
            continue
        except GitmlError as e:
            unseen.append(local_gc.Unseen(oid, f"remote {name}", str(e), "chunk list"))
            continue
        if cl is not None:
            data = backend.read_key(records[oid]) or b""
            keep.add(data.decode().strip())
            keep.update(cl.ids)
    return records
