"""Garbage collection and integrity checks of the object store."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer
from gitml.errors import GitmlError
from gitml.progress import Progress

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class GcResult:
    removed: int
    bytes_freed: int
    kept: int
    dry_run: bool
    missing_manifests: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FsckResult:
    checked: int
    corrupt: list[dict[str, str]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "corrupt": self.corrupt,
                "missing": self.missing}


def pointers(repo: Repo, *, workspace_only: bool = False) -> list[tuple[str, pointer.Pointer]]:
    """(source, pointer) of every pointer that gc treats as a root: those on disk in every
    work tree and, unless ``workspace_only``, every pointer blob in any commit reachable from
    any ref (branches, tags, experiment and queue refs, the stash) or reflog, and the index.
    Each is parsed as checkout parses it; one that does not parse names no object."""
    blobs: list[tuple[str, str, bytes]] = []  # (pointer path, source, bytes)
    for wt in gitio.worktrees(repo.root):
        if os.path.isdir(wt):
            for rel in gitio.workspace_pointers(wt):
                with open(os.path.join(wt, rel), "rb") as f:
                    blobs.append((rel, os.path.join(wt, rel), f.read()))
    if not workspace_only:
        with gitio.BatchReader(repo.root) as reader:
            for path, sha in gitio.all_pointer_blobs(repo.root):
                data = reader.read(sha)
                if data is not None:
                    blobs.append((path, f"{sha[:10]}:{path}", data))
    out = []
    for rel, source, data in blobs:
        try:
            out.append((source, pointer.load_at(data, rel, source)))
        except GitmlError:
            continue
    return out


def referenced(repo: Repo, *, workspace_only: bool = False) -> tuple[set[str], list[str]]:
    """Object ids that something references, and dir manifests that could not be read.

    Roots: the pointers in every work tree on disk, and unless ``workspace_only`` every
    pointer blob in any commit reachable from any ref (branches, tags, experiment and
    queue refs, the stash) or reflog, and the index.
    """
    keep: set[str] = set()
    unreadable: list[str] = []
    seen_dirs: set[str] = set()
    for source, ptr in pointers(repo, workspace_only=workspace_only):
        keep.add(ptr.oid)
        if ptr.is_dir and ptr.oid not in seen_dirs:
            seen_dirs.add(ptr.oid)
            if not repo.store.has(ptr.oid):
                continue
            try:
                entries = manifest.loads(repo.store.read_bytes(ptr.oid), source)
            except GitmlError:
                unreadable.append(source)
                continue
            keep.update(e.oid for e in entries)
    if not workspace_only:  # what revisions from before gitml import-dvc name
        from gitml.dvcimport import dvcmap

        keep |= dvcmap.referenced(repo)
    return keep, unreadable


def gc(repo: Repo, *, dry_run: bool = False, workspace_only: bool = False,
       force: bool = False) -> GcResult:
    """Delete unreferenced objects. Narrowing to the workspace needs ``force``."""
    if workspace_only and not force and not dry_run:
        raise GitmlError("--workspace-only deletes data that other branches and tags still "
                         "reference; add --force to confirm (or --dry-run to look first)")
    own = os.path.join(gitio.common_root(repo.root), ".gitml", "cache")
    if os.path.realpath(repo.store.root) != os.path.realpath(own) and not force and not dry_run:
        raise GitmlError(f"the store {repo.store.root} may be shared with other repositories, "
                         "whose objects this one cannot see; add --force to collect anyway")
    with repo.store.lock(exclusive=True):
        keep, unreadable = referenced(repo, workspace_only=workspace_only)
        if unreadable:
            raise GitmlError(f"cannot read the manifest for {unreadable[0]}: refusing to "
                             "collect (run 'gitml fsck')")
        from gitml.pipeline.runcache import collect  # run-cache entries (issue 4)

        collect(repo, keep, dry_run=dry_run)  # keeps entries whose stored outputs stay
        removed = freed = kept = 0
        for oid in list(repo.store.iter_oids()):
            if oid in keep:
                kept += 1
                continue
            removed += 1
            if dry_run:
                freed += os.lstat(repo.store.path(oid)).st_size
            else:
                freed += repo.store.remove(oid)
        if not dry_run:
            repo.store.clean_tmp()
    return GcResult(removed, freed, kept, dry_run)


def fsck(repo: Repo) -> FsckResult:
    """Re-hash every object in the store; check that workspace pointers' objects exist."""
    store = repo.store
    oids = list(store.iter_oids())
    result = FsckResult(len(oids))

    def check(oid: str) -> tuple[str, str]:
        return oid, store.verify(oid)

    with Progress("checking objects", total=len(oids), unit="objects") as bar, \
            ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for oid, actual in pool.map(check, oids, chunksize=64):
            if actual != oid:
                result.corrupt.append({"oid": oid, "actual": actual, "path": store.path(oid)})
            bar.update()
    from gitml import tracked

    for t in tracked.workspace_tracked(repo.root):
        if not store.has(t.ptr.oid):
            result.missing.append({"oid": t.ptr.oid, "path": t.rel})
        elif t.ptr.is_dir and t.ptr.oid not in {c["oid"] for c in result.corrupt}:
            for e in manifest.loads(store.read_bytes(t.ptr.oid), t.rel):
                if not store.has(e.oid):
                    result.missing.append({"oid": e.oid, "path": f"{t.rel}/{e.path}"})
    return result
