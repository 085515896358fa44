"""Garbage collection and integrity checks of the object store."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer
from gitml.errors import CheckFailed, GitmlError, MissingObjectError
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
                    blobs.append((path, f"{sha}:{path}", data))
    out = []
    for rel, source, data in blobs:
        try:
            out.append((source, pointer.load_at(data, rel, source)))
        except GitmlError:
            continue
    return out


@dataclass(frozen=True)
class Unseen:
    """A directory manifest that gc must keep but cannot read: its files are unknown."""

    oid: str
    where: str  # the pointer (a workspace path, or "path at commit abc1234")
    why: str  # "missing" (in neither the store nor the remote) or the parse error

    def __str__(self) -> str:
        what = "is in neither the store nor the remote" if self.why == "missing" else \
            f"cannot be read ({self.why})"
        return f"the manifest {self.oid} of {self.where} {what}"


def referenced(repo: Repo, *, workspace_only: bool = False, remote: str | None = None,
               fetch: bool = True) -> tuple[set[str], list[Unseen]]:
    """Object ids that something references, and the directory manifests whose files are
    unknown because the manifest cannot be read.

    Roots: the pointers in every work tree on disk, and unless ``workspace_only`` every
    pointer blob in any commit reachable from any ref (branches, tags, experiment and
    queue refs, the stash) or reflog, and the index. A manifest the store lacks is first
    fetched from ``remote`` (or the default remote) when ``fetch``.
    """
    ptrs = pointers(repo, workspace_only=workspace_only)
    keep = {ptr.oid for _, ptr in ptrs}
    dirs: dict[str, str] = {}
    for source, ptr in ptrs:  # named by a commit rather than a work tree where both do
        if ptr.is_dir and (ptr.oid not in dirs or os.path.isabs(dirs[ptr.oid])):
            dirs[ptr.oid] = source
    lacking = [oid for oid in dirs if not repo.store.has(oid)]
    if lacking and fetch:
        _fetch_manifests(repo, lacking, remote)
    unseen: list[Unseen] = []
    for oid, source in dirs.items():
        try:
            entries = manifest.loads(repo.store.read_bytes(oid), source)
        except MissingObjectError:
            unseen.append(Unseen(oid, _where(repo, source), "missing"))
            continue
        except GitmlError as e:
            unseen.append(Unseen(oid, _where(repo, source), getattr(e, "problem", str(e))))
            continue
        keep.update(e.oid for e in entries)
    if not workspace_only:  # what revisions from before gitml import-dvc name
        from gitml.dvcimport import dvcmap

        keep |= dvcmap.referenced(repo)
    return keep, unseen


def _fetch_manifests(repo: Repo, oids: list[str], remote: str | None) -> None:
    """Bring what it can of ``oids`` from the remote; what it cannot stays missing."""
    from gitml.remotes import transfer

    if remote is None and transfer.default_remote(repo) is None:
        return
    try:
        transfer.fetch_objects(repo, oids, remote)
    except GitmlError:
        pass  # named by the caller as unseen


def _where(repo: Repo, source: str) -> str:
    """A pointer's source as a person reads it: "data at commit 1a2b3c4" for a blob."""
    if os.path.isabs(source):
        return f"{source[: -len(pointer.SUFFIX)]} (in a work tree)"
    sha, sep, path = source.partition(":")
    if not sep or len(sha) != 40:
        return source
    out = gitio.run(repo.root, "log", "--all", "--reflog", "-1", "--format=%h",
                    f"--find-object={sha}", check=False).decode().strip()
    rel = path[: -len(pointer.SUFFIX)]
    return f"{rel} at commit {out}" if out else f"{rel} (blob {sha[:10]})"


def refuse_unseen(unseen: list[Unseen]) -> None:
    """gc never guesses: with a manifest it cannot read, it deletes nothing (exit 1)."""
    more = f" (and {len(unseen) - 1} more)" if len(unseen) > 1 else ""
    raise CheckFailed(f"{unseen[0]}{more}, so its files cannot be told from garbage: "
                      "nothing was deleted. Fetch it ('gitml fetch' from a remote that has "
                      "it), or run again with --force to collect without it")


def gc(repo: Repo, *, dry_run: bool = False, workspace_only: bool = False,
       force: bool = False) -> GcResult:
    """Delete unreferenced objects. Narrowing to the workspace needs ``force``; so does
    collecting while a directory manifest that must be kept cannot be read."""
    if workspace_only and not force and not dry_run:
        raise GitmlError("--workspace-only deletes data that other branches and tags still "
                         "reference; add --force to confirm (or --dry-run to look first)")
    own = os.path.join(gitio.common_root(repo.root), ".gitml", "cache")
    if os.path.realpath(repo.store.root) != os.path.realpath(own) and not force and not dry_run:
        raise GitmlError(f"the store {repo.store.root} may be shared with other repositories, "
                         "whose objects this one cannot see; add --force to collect anyway")
    with repo.store.lock(exclusive=True):
        keep, unseen = referenced(repo, workspace_only=workspace_only)
        if unseen and not force:
            refuse_unseen(unseen)
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
            from gitml.heal import clean_quarantine  # bad copies kept 30 days (issue 18)

            clean_quarantine(repo.store)
    return GcResult(removed, freed, kept, dry_run, [str(u) for u in unseen])


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
