"""The run cache: outputs of every successful stage run, found again by what went in.

The key is the XXH3-128 of the canonical JSON of the stage's cmd, wdir, dep hashes,
param values and output paths (not its name). An entry is a small JSON file in the
object store's directory, ``<store>/runs/<2 hex>/<30 hex>``, written atomically, so
every branch and every worktree sharing the store sees it. It records each
output's pointer (for a Git-committed output too: its bytes are stored so that a
restore can recreate it)::

    {"format": "gitml-run", "version": 1, "stage": "train", "cmd": ["python train.py"],
     "created": "2026-01-01T12:00:00Z",
     "outs": [{"path": "models/model.pkl", "cache": true, "pointer": {<pointer fields>}},
              {"path": "metrics.json", "cache": false, "pointer": {...}}]}

gc (see :func:`collect`): an entry is kept while every *stored* output it names is
still referenced by a pointer somewhere; its Git-committed outputs (metrics, plots)
are kept with it. Otherwise the entry is deleted with the objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import xxhash

from gitml import manifest, pointer, tracked, yamlio
from gitml.errors import FormatError, GitmlError, IntegrityError, MissingObjectError
from gitml.fsutil import SafeDirs, atomic_write, check_relpath
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.pipeline.lockfile import HashInfo, LockEntry
    from gitml.pipeline.schema import Stage
    from gitml.pipeline.state import State
    from gitml.repo import Repo
    from gitml.store import Store

VERSION = 1
ENTRY_MAX = 1 << 20  # an entry from a remote larger than this is refused


def key(stage: Stage, deps: dict[str, HashInfo], params: dict[str, dict[str, Any]]) -> str:
    """The run-cache key of running ``stage`` on these inputs."""
    return _key(stage.cmd, stage.wdir, deps, params, [[o.path, o.cache] for o in stage.outs])


def lock_key(entry: LockEntry) -> str:
    """The key of the run a ``gitml.lock`` entry records: the one :func:`key` gave it, so a
    commit's lock file names the run-cache entries its outputs came with."""
    return _key(entry.cmd, entry.wdir, entry.deps, entry.params,
                [[p, p not in entry.uncached] for p in entry.outs])


def _key(cmd: tuple[str, ...] | list[str], wdir: str, deps: dict[str, HashInfo],
         params: dict[str, dict[str, Any]], outs: list[list[Any]]) -> str:
    doc = {"cmd": list(cmd), "wdir": wdir, "deps": [[p, deps[p].oid] for p in sorted(deps)],
           "params": params, "outs": sorted(outs)}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return xxhash.xxh3_128_hexdigest(data.encode())


def is_key(k: str) -> bool:
    """32 lowercase hex digits: a run-cache key (also a file name from a remote)."""
    return len(k) == 32 and all(c in "0123456789abcdef" for c in k)


class RunCache:
    """Entries under ``<store>/runs``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = os.path.join(store.root, "runs")

    def path(self, k: str) -> str:
        return os.path.join(self.root, k[:2], k[2:])

    def get(self, k: str) -> dict[str, Any] | None:
        """A valid entry for key ``k``, or None."""
        try:
            entry = yamlio.load(self.path(k), k, "record", "json")
        except (OSError, FormatError):
            return None
        return entry if _valid(entry) else None

    def read_raw(self, k: str) -> bytes | None:
        """The bytes of entry ``k`` as stored (to send to a remote), or None."""
        try:
            with open(self.path(k), "rb") as f:
                return f.read()
        except OSError:
            return None

    def put_raw(self, k: str, data: bytes, source: str) -> None:
        """Store an entry received from ``source`` (a remote) after :func:`parse_entry`
        accepts it; an entry already here is kept. Not flushed: the caller syncs once."""
        parse_entry(k, data, source)
        path = self.path(k)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, data, durable=False)

    def entry_keys(self) -> list[str]:
        """The keys of every entry in the store."""
        out = []
        for path, e in self.entries():
            top, name = path.split(os.sep)[-2:]
            if e is not None and is_key(top + name):
                out.append(top + name)
        return sorted(out)

    def put(self, k: str, stage: Stage, outs: list[tuple[str, bool, Pointer]]) -> None:
        entry = {"format": "gitml-run", "version": VERSION, "stage": stage.name,
                 "cmd": list(stage.cmd),
                 "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "outs": [{"path": p, "cache": c, "pointer": ptr.to_dict()}
                          for p, c, ptr in outs]}
        path = self.path(k)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, json.dumps(entry, separators=(",", ":")).encode())

    def entries(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(file path, entry or None when unreadable) of every entry."""
        try:
            tops = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for top in tops:
            d = os.path.join(self.root, top)
            if len(top) != 2 or not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                path = os.path.join(d, name)
                if name.startswith("."):
                    continue
                try:
                    entry = yamlio.load(path, path, "record", "json")
                except (OSError, FormatError):
                    entry = None
                yield path, entry if _valid(entry) else None

    # -- restoring -------------------------------------------------------------------
    def restorable(self, entry: dict[str, Any], stage: Stage) -> list[tuple[str, bool, Pointer]
                                                                       ] | None:
        """The entry's outputs when every object they need is in the store, else None."""
        wanted = {o.path: o.cache for o in stage.outs}
        outs = []
        for o in entry["outs"]:
            if wanted.get(o["path"]) != o["cache"]:
                return None
            try:
                ptr = Pointer.from_dict(o["pointer"], "run cache",
                                        o["path"].rpartition("/")[2])
                if not self.store.has(ptr.oid):
                    return None
                if ptr.is_dir:
                    entries = manifest.loads(self.store.read_bytes(ptr.oid), o["path"])
                    if not all(self.store.has(e.oid) for e in entries):
                        return None
            except GitmlError:
                return None
            outs.append((o["path"], o["cache"], ptr))
        return outs if len(outs) == len(wanted) else None

    def restore(self, repo: Repo, outs: list[tuple[str, bool, Pointer]], state: State
                ) -> list[str]:
        """Link each output from the store and write its pointer; returns changed files."""
        changed: list[str] = []
        store = self.store
        safe = SafeDirs(repo.root)  # entries may come from a teammate: no write through links
        for rel, cached, ptr in outs:
            cache = repo.statcache.root(rel)
            full = repo.abspath(rel)
            types = None if cached else ("copy",)  # Git-committed files are plain copies
            safe.make(os.path.dirname(full))
            if not ptr.is_dir:
                pairs = [("", full, manifest.Entry("", ptr.oid, ptr.size))]
            else:
                entries = manifest.loads(store.read_bytes(ptr.oid), rel)
                pairs = [(e.path, os.path.join(full, *e.path.split("/")), e)
                         for e in entries]
                safe.make(full)
            for d in entries.empty if ptr.is_dir else ():  # empty folders come back too
                safe.make(os.path.join(full, *d.split("/")))
            for key, path, e in pairs:
                safe.make(os.path.dirname(path))
                try:
                    st = store.link(e.oid, path, executable=e.exec, link_types=types)
                except (MissingObjectError, IntegrityError) as err:
                    raise GitmlError(f"cannot restore {rel} from the run cache: {err}"
                                     ) from None
                cache.put(key, st, e.oid, written=True)
            state.remember(rel, _info(ptr))
            if cached:
                prel = rel + pointer.SUFFIX
                data = pointer.dumps(ptr).encode()
                if _read(repo.abspath(prel)) != data:
                    atomic_write(repo.abspath(prel), data)
                    changed.append(prel)
                gi = tracked.ignore(repo.root, rel)
                if gi:
                    changed.append(repo.rel(gi))
            else:
                changed.append(rel)
        return changed


def parse_entry(k: str, data: bytes, source: str) -> dict[str, Any]:
    """An entry from ``source`` (a remote: a stranger), checked as gitml checks its own:
    the key's form, size, JSON, output paths, and every output pointer. Raises FormatError."""
    where = f"{source}: run-cache entry {k}"
    if not is_key(k):
        raise FormatError(where, "not a run-cache key")
    if len(data) > ENTRY_MAX:
        raise FormatError(where, f"larger than {ENTRY_MAX} bytes")
    try:
        entry = yamlio.loads(data, where, "record", "json")
    except FormatError as e:
        raise FormatError(where, f"not JSON ({e.problem})") from None
    problem = _problem(entry)
    if problem is not None:
        raise FormatError(where, problem)
    pointers(entry, where)
    return entry  # type: ignore[no-any-return]


def pointers(entry: dict[str, Any], source: str) -> list[tuple[str, Pointer]]:
    """(path, pointer) of every output a valid entry names, stored or Git-committed."""
    return [(o["path"], Pointer.from_dict(o["pointer"], source, o["path"].rpartition("/")[2]))
            for o in entry["outs"]]


def _info(ptr: Pointer) -> HashInfo:
    from gitml.pipeline.lockfile import HashInfo

    return HashInfo(ptr.oid, ptr.size, ptr.files)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _valid(entry: Any) -> bool:
    return _problem(entry) is None


def _problem(entry: Any) -> str | None:
    """What is wrong with a parsed entry, or None."""
    if not (isinstance(entry, dict) and entry.get("format") == "gitml-run"
            and entry.get("version") == VERSION and isinstance(entry.get("outs"), list)):
        return "not a version 1 run-cache entry"
    for o in entry["outs"]:
        if not (isinstance(o, dict) and isinstance(o.get("path"), str)
                and isinstance(o.get("cache"), bool) and isinstance(o.get("pointer"), dict)):
            return "malformed output"
        try:
            check_relpath(o["path"], source="run cache")
        except FormatError as e:
            return e.problem
    return None


def collect(repo: Repo, keep: set[str], *, dry_run: bool = False) -> tuple[int, int]:
    """Settle the run cache for gc; returns (entries kept, entries dropped).

    Called by gc with the store locked exclusively and ``keep`` = the referenced
    objects. An entry survives when every stored output's object is in ``keep``; the
    objects of its Git-committed outputs are then added to ``keep``. Otherwise (or
    when unreadable) the entry is deleted, unless ``dry_run``.
    """
    rc = RunCache(repo.store)
    kept = dropped = 0
    for path, entry in list(rc.entries()):
        extra = survives(entry, keep, repo.store)
        if extra is not None:
            keep.update(extra)
            kept += 1
        else:
            dropped += 1
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
    return kept, dropped


def survives(entry: dict[str, Any] | None, keep: set[str], store: Store) -> set[str] | None:
    """gc's rule for one entry (local or on a remote): None when it goes (unreadable, or a
    stored output's object is not in ``keep``); else the objects its Git-kept outputs need
    (a directory's manifest is read from ``store`` when there), which must be kept too."""
    if entry is None:
        return None
    extra: set[str] = set()
    for o in entry["outs"]:
        oid = o["pointer"].get("hash")
        if not isinstance(oid, str):
            return None
        if o["cache"]:
            if oid not in keep:
                return None
            continue
        extra.add(oid)
        if o["pointer"].get("kind") == "dir" and store.has(oid):
            with contextlib.suppress(GitmlError):
                extra.update(e.oid for e in manifest.loads(store.read_bytes(oid), "run cache"))
    return extra
