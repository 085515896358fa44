"""Garbage collection and integrity checks of the object store."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer
from gitml.errors import CheckFailed, GitmlError, IntegrityError, MissingObjectError
from gitml.progress import Progress

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.store import Store


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


def pointers(repo: Repo, *, workspace_only: bool = False
             ) -> tuple[list[tuple[str, pointer.Pointer]], list[tuple[str, str]]]:
    """(source, pointer) of every pointer that gc treats as a root: those on disk in every
    work tree and, unless ``workspace_only``, every pointer blob in any commit reachable from
    any ref (branches, tags, experiment and queue refs, the stash) or reflog, and the index;
    and (source, problem) of those that do not parse as checkout parses them (a newer
    gitml's, a merge conflict, a damaged file): what they name is unknown."""
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
    out, bad = [], []
    for rel, source, data in blobs:
        try:
            out.append((source, pointer.load_at(data, rel, source)))
        except GitmlError as e:
            bad.append((source, getattr(e, "problem", str(e))))
    return out, bad


@dataclass(frozen=True)
class Unseen:
    """Something gc must keep but cannot read (a directory manifest, a chunk list, a
    pointer): the objects it names are unknown."""

    oid: str  # "" for a pointer that does not parse
    where: str  # the pointer (a workspace path, or "path at commit abc1234")
    why: str  # "missing" (in neither the store nor the remote) or the parse error
    kind: str = "manifest"  # or "chunk list" (a big file's chunks), or "pointer"

    def __str__(self) -> str:
        what = "is in neither the store nor the remote" if self.why == "missing" else \
            f"cannot be read ({self.why})"
        if self.kind == "pointer":
            return f"the pointer {self.where} {what}"
        return f"the {self.kind} {self.oid} of {self.where} {what}"


def referenced(repo: Repo, *, workspace_only: bool = False, remote: str | None = None,
               fetch: bool = True) -> tuple[set[str], list[Unseen]]:
    """Object ids that something references, and what gc cannot read (pointers that do not
    parse, directory manifests and chunk lists) so that what they name is unknown.

    Roots: the pointers in every work tree on disk, and unless ``workspace_only`` every
    pointer blob in any commit reachable from any ref (branches, tags, experiment and
    queue refs, the stash) or reflog, and the index. A manifest the store lacks is first
    fetched from ``remote`` (or the default remote) when ``fetch``.
    """
    ptrs, bad = pointers(repo, workspace_only=workspace_only)
    # each _where is a git log: a repository full of bad pointers names its first few so
    unseen = [Unseen("", _where(repo, source) if i < 20 else source, why, "pointer")
              for i, (source, why) in enumerate(bad)]
    keep = {ptr.oid for _, ptr in ptrs}
    dirs: dict[str, str] = {}
    for source, ptr in ptrs:  # named by a commit rather than a work tree where both do
        if ptr.is_dir and (ptr.oid not in dirs or os.path.isabs(dirs[ptr.oid])):
            dirs[ptr.oid] = source
    lacking = [oid for oid in dirs if not repo.store.has(oid)]
    if lacking and fetch:
        _fetch_manifests(repo, lacking, remote)
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
    follow_chunks(repo.store, keep, unseen)
    return keep, unseen


def follow_chunks(store: Store, keep: set[str], unseen: list[Unseen]) -> None:
    """Add to ``keep`` the chunk list and chunks of every kept file the store holds as
    chunks; a list that cannot be read is unseen (its chunks cannot be told from garbage)."""
    for oid in store.iter_chunked():
        if oid not in keep:
            continue
        try:
            cl = store.chunk_list(oid)
            lid = store.list_id(oid)
        except MissingObjectError as e:
            unseen.append(Unseen(e.oid, f"the chunked file {oid}", "missing", "chunk list"))
            continue
        except GitmlError as e:
            unseen.append(Unseen(oid, "its record", getattr(e, "problem", str(e)),
                                 "chunk list"))
            continue
        if cl is not None and lid is not None:
            keep.add(lid)
            keep.update(cl.ids)


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
    """gc never guesses: with a pointer or manifest it cannot read, it deletes nothing
    (exit 1)."""
    more = f" (and {len(unseen) - 1} more)" if len(unseen) > 1 else ""
    fix = "Fix or remove it (one from a newer gitml: upgrade gitml)" \
        if unseen[0].kind == "pointer" else "Fetch it ('gitml fetch' from a remote that has it)"
    raise CheckFailed(f"{unseen[0]}{more}, so its files cannot be told from garbage: "
                      f"nothing was deleted. {fix}, or run again with --force to collect "
                      "without it")


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
        for oid in list(repo.store.iter_chunked()):  # names first, then what they named
            if oid not in keep and not dry_run:
                repo.store.remove_record(oid)
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


def _fsck_chunked(store: Store, result: FsckResult) -> set[str]:
    """Check every file held as chunks: its record and list, each chunk, and the whole
    file's hash over the chunks in order. Returns the chunks and lists checked."""
    import xxhash

    from gitml.hashing import PREFIX, hash_bytes

    done: set[str] = set()
    for oid in store.iter_chunked():
        rec = store.record_path(oid)
        try:
            cl = store.chunk_list(oid)
        except MissingObjectError as e:
            result.missing.append({"oid": e.oid, "path": f"the chunk list of {oid}"})
            continue
        except IntegrityError as e:
            result.corrupt.append({"oid": e.oid, "actual": e.actual, "path": e.where})
            continue
        except GitmlError as e:
            result.corrupt.append({"oid": oid, "actual": "unreadable", "path": rec,
                                   "problem": str(e)})
            continue
        if cl is None:
            continue
        result.checked += 1
        whole = xxhash.xxh3_128()
        bad = False
        for cid in cl.ids:
            try:
                data = store.chunk_bytes(cid, oid)
            except MissingObjectError:
                result.missing.append({"oid": cid, "path": f"a chunk of {oid}"})
                bad = True
                break
            if cid not in done:
                done.add(cid)
                actual = hash_bytes(data)
                if actual != cid:
                    result.corrupt.append({"oid": cid, "actual": actual,
                                           "path": store.path(cid)})
                    bad = True
            whole.update(data)
        done.add(store.list_id(oid) or "")
        actual = PREFIX + whole.hexdigest()
        if not bad and actual != oid:
            result.corrupt.append({"oid": oid, "actual": actual, "path": rec})
    result.checked += len(done - {""})
    return done


def fsck(repo: Repo) -> FsckResult:
    """Re-hash every object in the store; check that workspace pointers' objects exist."""
    store = repo.store
    result = FsckResult(0)
    done = _fsck_chunked(store, result)
    oids = [o for o in store.iter_oids() if o not in done]
    result.checked += len(oids)

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
