"""``gitml gc --remote``: delete remote objects that no branch, tag or work tree references.

The references are the local repository's (:func:`gitml.gc.referenced`: every ref
including remote-tracking branches, reflogs, stashes, work trees), so run ``git fetch``
first. Directories whose manifest the store lacks have it fetched first; when a
manifest can be found in neither place, its files cannot be told apart from garbage,
and gc refuses unless forced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gitml import gc as local_gc
from gitml.errors import GitmlError
from gitml.remotes import config as rconfig
from gitml.remotes.base import TransferIncomplete

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class RemoteGcResult:
    remote: str
    url: str
    removed: int
    bytes_freed: int
    kept: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dir_manifests(repo: Repo, workspace_only: bool) -> dict[str, str]:
    """{manifest oid: where} of every directory pointer gc treats as a root."""
    from gitml.gc import pointers

    out: dict[str, str] = {}
    for source, ptr in pointers(repo, workspace_only=workspace_only):
        if ptr.is_dir:
            out.setdefault(ptr.oid, source)
    return out


def gc_remote(repo: Repo, remote: str | None = None, *, dry_run: bool = False,
              workspace_only: bool = False, force: bool = False,
              jobs: int | None = None) -> RemoteGcResult:
    """Delete the remote's objects that nothing in this repository references."""
    from gitml.remotes import transfer

    if workspace_only and not force and not dry_run:
        raise GitmlError("--workspace-only deletes remote data that other branches and tags "
                         "still reference; add --force to confirm (or --dry-run to look first)")
    rs = rconfig.spec(repo, remote)
    manifests = _dir_manifests(repo, workspace_only)
    lacking = [oid for oid in manifests if not repo.store.has(oid)]
    if lacking:
        try:
            transfer.fetch_objects(repo, lacking, rs.name, jobs)
        except TransferIncomplete as e:
            bad = e.result.missing + e.result.corrupt  # type: ignore[attr-defined]
            if not force:
                first = bad[0]["oid"]
                raise GitmlError(
                    f"cannot read the directory manifest {first} ({manifests.get(first, '')}):"
                    f" it is in neither the store nor remote {rs.name}, so its files cannot be"
                    " told from garbage; refusing to collect (--force deletes them)") from None
    keep, unreadable = local_gc.referenced(repo, workspace_only=workspace_only)
    if unreadable and not force:
        raise GitmlError(f"cannot read the manifest for {unreadable[0]}: refusing to collect "
                         "(run 'gitml fsck')")
    backend = rconfig.open_backend(repo, rs, jobs=rs.jobs(jobs), must_exist=False)
    try:
        from gitml.remotes.runs import collect_remote  # entries whose outputs stay (issue 18)

        collect_remote(repo, backend, keep, dry_run=dry_run, jobs=rs.jobs(jobs))
        listing = list(backend.list(sizes=True))
        garbage = [(oid, size) for oid, size in listing if oid not in keep]
        if garbage and not dry_run:
            backend.delete([oid for oid, _ in garbage])
        if not dry_run and hasattr(backend, "clean_tmp"):
            backend.clean_tmp()
    finally:
        backend.close()
    return RemoteGcResult(rs.name, rs.url, len(garbage), sum(max(s, 0) for _, s in garbage),
                          len(listing) - len(garbage), dry_run)
