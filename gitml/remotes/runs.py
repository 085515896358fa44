"""Run-cache entries on a remote, so that a teammate's ``repro`` restores instead of running.

Layout (docs/formats.md): ``runs/<2 hex>/<30 hex>`` beside ``objects/``, the bytes of the
store's own entry file. Order: a push sends an entry's objects first and the entry after
them, so an entry on the remote means its outputs are there; a fetch gets the objects
first (each verified) and writes the entry after them. An entry is not content-addressed:
what comes from a remote is validated (size, JSON, every output path and pointer) before
it is stored, and one already in the store is never replaced.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import manifest
from gitml.errors import FormatError, GitmlError
from gitml.fsutil import syncfs
from gitml.pipeline.runcache import RunCache, is_key, parse_entry, pointers, survives
from gitml.remotes import config as rconfig
from gitml.remotes import select
from gitml.remotes.base import TransferIncomplete

if TYPE_CHECKING:
    from gitml.pointer import Pointer
    from gitml.remotes.base import Backend
    from gitml.remotes.transfer import TransferResult
    from gitml.repo import Repo

TOP = "runs"


@dataclass
class RunsResult:
    """What a run-cache push or fetch did: ``transferred`` entries sent or received,
    ``present`` already on the other side, ``skipped`` entries left out (and why),
    ``stale`` entries whose objects the remote no longer has (ignored, as locally)."""

    action: str
    remote: str
    entries: int = 0
    transferred: int = 0
    present: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    stale: int = 0
    objects: TransferResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "transferred": self.transferred,
                "present": self.present, "skipped": self.skipped, "stale": self.stale,
                "objects": self.objects.to_dict() if self.objects else None}


def remote_key(k: str) -> str:
    return f"{TOP}/{k[:2]}/{k[2:]}"


def _selection(entries: dict[str, list[tuple[str, Pointer]]]) -> select.Selection:
    sel = select.Selection()
    seen: set[tuple[str, str]] = set()
    for pairs in entries.values():
        for rel, ptr in pairs:
            if (rel, ptr.oid) not in seen:
                seen.add((rel, ptr.oid))
                sel.items.append(select.Item(rel, ptr))
    return sel


def _complete(repo: Repo, pairs: list[tuple[str, Pointer]]) -> bool:
    """Every object the outputs need is in the store (a directory: its files too)."""
    store = repo.store
    for rel, ptr in pairs:
        if not store.has(ptr.oid):
            return False
        if ptr.is_dir:
            try:
                files = manifest.loads(store.read_bytes(ptr.oid, what=rel), rel)
            except GitmlError:
                return False
            if not all(store.has(e.oid) for e in files):
                return False
    return True


def push_runs(repo: Repo, keys: list[str] | None = None, remote: str | None = None,
              jobs: int | None = None) -> RunsResult:
    """Send run-cache entries (all, or ``keys``) and their outputs' objects to a remote.
    An entry whose outputs are not all in the store is skipped (and named)."""
    from gitml.remotes.transfer import push_selection

    rs = rconfig.spec(repo, remote)
    rc = RunCache(repo.store)
    result = RunsResult("push", rs.name)
    chosen: dict[str, list[tuple[str, Pointer]]] = {}
    for k in rc.entry_keys() if keys is None else sorted(set(keys)):
        entry = rc.get(k)
        if entry is None:
            continue
        pairs = pointers(entry, f"run-cache entry {k}")
        if _complete(repo, pairs):
            chosen[k] = pairs
        else:
            result.skipped.append({"key": k, "stage": str(entry.get("stage", "")),
                                   "why": "outputs not all in the store"})
    result.entries = len(chosen) + len(result.skipped)
    if not chosen:
        return result
    result.objects = push_selection(repo, _selection(chosen), rs.name, jobs)
    njobs = rs.jobs(jobs)
    backend = rconfig.open_backend(repo, rs, jobs=njobs, create=True)
    try:
        there = {k.replace("/", "")[len(TOP):] for k in backend.list_keys(TOP)}
        todo = [k for k in chosen if k not in there]
        result.present = len(chosen) - len(todo)

        def send(k: str) -> None:
            data = rc.read_raw(k)
            if data is not None:
                backend.put_key(remote_key(k), data)

        with ThreadPoolExecutor(max_workers=max(1, min(njobs, len(todo) or 1))) as pool:
            list(pool.map(send, todo))
        result.transferred = len(todo)
    finally:
        backend.close()
    return result


def fetch_runs(repo: Repo, keys: list[str] | None = None, remote: str | None = None,
               jobs: int | None = None) -> RunsResult:
    """Receive run-cache entries (all the remote has, or those of ``keys`` it has) and the
    objects of their outputs. Malformed entries, and those with an output the remote holds
    corrupt, are skipped (and named); those whose objects the remote lacks are stale and
    ignored; everything else is stored, after its objects."""
    from gitml.remotes.transfer import fetch_selection

    rs = rconfig.spec(repo, remote)
    rc = RunCache(repo.store)
    result = RunsResult("fetch", rs.name)
    njobs = rs.jobs(jobs)
    backend = rconfig.open_backend(repo, rs, jobs=njobs, must_exist=False)
    try:
        if keys is None:
            found = [k.replace("/", "")[len(TOP):] for k in backend.list_keys(TOP)]
            wanted = sorted(k for k in found if is_key(k))
        else:
            wanted = sorted({k for k in keys if is_key(k)})
        todo = [k for k in wanted if rc.get(k) is None]
        result.present = len(wanted) - len(todo)
        with ThreadPoolExecutor(max_workers=max(1, min(njobs, len(todo) or 1))) as pool:
            raw = dict(zip(todo, pool.map(lambda k: backend.read_key(remote_key(k)), todo),
                           strict=True))
    finally:
        backend.close()
    source = f"remote {rs.name}"
    entries: dict[str, tuple[bytes, list[tuple[str, Pointer]]]] = {}
    for k, data in raw.items():
        if data is None:  # asked for by key, and the remote has none: not an entry
            continue
        try:
            entry = parse_entry(k, data, source)
            entries[k] = (data, pointers(entry, f"{source}: run-cache entry {k}"))
        except FormatError as e:
            result.skipped.append({"key": k, "why": e.problem})
    result.entries = len(entries) + len(result.skipped) + result.present
    if not entries:
        return result
    sel = _selection({k: pairs for k, (_, pairs) in entries.items()})
    corrupt: dict[str, str] = {}
    try:
        result.objects = fetch_selection(repo, sel, rs.name, jobs)
    except TransferIncomplete as e:
        result.objects = e.result  # type: ignore[assignment]
        assert result.objects is not None
        corrupt = {d["oid"]: d["path"] for d in result.objects.corrupt}
        result.objects.missing = []  # a stale entry's objects: not an error (see below)
    for k, (data, pairs) in entries.items():
        if not _complete(repo, pairs):
            bad = [p for rel, ptr in pairs if (p := corrupt.get(ptr.oid))]
            if bad:
                result.skipped.append({"key": k, "why": f"corrupt output {bad[0]} on {source}"})
            else:  # objects gone from the remote (its gc keeps entries in step): ignored
                result.stale += 1
            continue
        rc.put_raw(k, data, source)
        result.transferred += 1
    if result.transferred:
        syncfs(repo.store.root)
    return result



def collect_remote(repo: Repo, backend: Backend, keep: set[str], *, dry_run: bool = False,
                   jobs: int = 8) -> tuple[int, int]:
    """``gc --remote``'s run-cache half, the local rule (:func:`runcache.survives`): an
    entry whose stored outputs are all kept stays, and keeps the objects of its Git-kept
    outputs (added to ``keep``); the others (and unreadable ones) are deleted unless
    ``dry_run``. Returns (kept, dropped)."""
    keys = [k for k in backend.list_keys(TOP) if is_key(k.replace("/", "")[len(TOP):])]
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(keys) or 1))) as pool:
        raw = list(pool.map(backend.read_key, keys))
    drop = []
    for k, data in zip(keys, raw, strict=True):
        try:
            entry = parse_entry(k.replace("/", "")[len(TOP):], data or b"", "remote")
        except GitmlError:
            entry = None
        extra = survives(entry, keep, repo.store)
        if extra is None:
            drop.append(k)
        else:
            keep.update(extra)
    if drop and not dry_run:
        backend.delete_keys(drop)
    return len(keys) - len(drop), len(drop)
