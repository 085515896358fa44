"""add / status / remove of tracked data in the workspace (checkout: gitml/checkout.py)."""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitml import faults, forkpool, manifest, pointer, tracked
from gitml.errors import GitmlError
from gitml.fsutil import (
    atomic_write,
    scan_stats,
    split_top,
    walk_stats,
)
from gitml.hashing import hash_file
from gitml.manifest import Entry
from gitml.pointer import Pointer
from gitml.progress import Progress
from gitml.statcache import digest_columns, join_digest, stat_digest, tree_digest

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.store import Store

EXEC = 0o100  # the owner's executable bit
NOT_A_FILE = ""  # what Hasher says of a link to a folder, a device or nowhere


@dataclass
class AddResult:
    path: str
    kind: str
    oid: str
    size: int
    files: int | None
    changed: bool
    pointer: str
    gitignore: str | None = None
    skipped: list[str] = field(default_factory=list)  # "path: why" of what was not stored
    new_bytes: int = 0  # bytes this add stored that the store did not have
    notes: list[str] = field(default_factory=list)  # advice (-v): e.g. Parquet that defeats dedup

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PathStatus:
    """One tracked path. ``state``: ok, modified, missing, not in store, or corrupt: a file
    linked into the store (hardlink/symlink) was edited in place, so its stored object
    no longer matches its hash (``corrupt`` lists them).

    ``schema_changed``: a modified Parquet file whose schema (read from its footer, never
    its data) differs from the fingerprint in its pointer.
    """

    path: str
    kind: str
    state: str
    added: int = 0
    modified: int = 0
    deleted: int = 0
    in_store: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    schema_changed: bool = False
    corrupt: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("added", "modified", "deleted") if self.kind == "file" else ("schema_changed",):
            d.pop(k)
        return d


# -- hashing the workspace through the stat cache -------------------------------------------
class Hasher:
    """Hashes files under one tracked path, asking the stat cache first and feeding it after.

    Cache keys are relative to ``root_rel`` ("" for the tracked file itself).
    """

    def __init__(self, repo: Repo, root_rel: str) -> None:
        repo.statcache.begin()
        self.repo = repo
        self.prefix = root_rel
        self.cache = repo.statcache.root(root_rel)
        self._objects = repo.store.objects + os.sep

    def key(self, rel: str) -> str:
        return "" if rel == self.prefix else rel[len(self.prefix) + 1:]

    def oid(self, rel: str, path: str, st: os.stat_result) -> str:
        """The hash of the file at ``path`` (repo-relative ``rel``) whose lstat is ``st``."""
        return self.oid_key(self.key(rel), path, st)

    def oid_key(self, key: str, path: str, st: os.stat_result) -> str:
        """The hash of the file, or :data:`NOT_A_FILE` when ``path`` is not a regular file
        nor a link to one (a link to a folder or a device, a dangling link): such a thing
        is never read, and never equals any object."""
        if stat.S_ISLNK(st.st_mode):
            try:
                target, st = os.readlink(path), os.stat(path)
            except OSError:
                return NOT_A_FILE
            if target.startswith(self._objects) and stat.S_ISREG(st.st_mode):
                # a symlink link-type file: the object it names, unless the object's own
                # stat moved since it was linked (edited through the link): then hash it
                named = "xxh3:" + target[len(self._objects):].replace(os.sep, "")
                if self.cache.get(key, st) == named:
                    return named
        if not stat.S_ISREG(st.st_mode):
            return NOT_A_FILE
        oid = self.cache.get(key, st)
        if oid is None:
            oid = hash_file(path)
            self.cache.put(key, st, oid)
        return oid


def load_manifest(repo: Repo, ptr: Pointer, rel: str) -> manifest.Manifest | None:
    """The verified manifest of a directory pointer, or None when the store lacks it."""
    if not repo.store.has(ptr.oid):
        return None
    return manifest.loads(repo.store.read_bytes(ptr.oid, what=rel), f"manifest of {rel}")


# -- add -----------------------------------------------------------------------------------
def add(repo: Repo, targets: list[str], *, quiet: bool = False,
        meta: dict[str, Any] | None = None, chunk: bool = True,
        advise: bool = False) -> list[AddResult]:
    """Store each target (file or directory) and write its pointer and .gitignore entry.

    ``meta``: entries added to each file's pointer ``meta`` (e.g. ``synth`` lineage);
    ``chunk=False``: store big files whole (``gitml add --no-chunk``); ``advise``: notes
    on big Parquet files written in a way that defeats deduplication (``add -v``).
    """
    if not targets:
        raise GitmlError("nothing to add: name at least one file or directory")
    paths = tracked.expand(targets)
    rels = [tracked.to_rel(repo.root, t) for t in paths]
    kinds = [tracked.check_addable(repo.root, t, r) for t, r in zip(paths, rels, strict=True)]
    tracked.check_not_git_tracked(repo.root, rels)
    plain: dict[str, bool] = {}
    inside: dict[str, list[str]] = {}  # tracked directory -> paths in it to refresh
    for r, is_dir in zip(rels, kinds, strict=True):
        parent = tracked.tracked_parent(repo.root, r)
        if parent is not None:
            inside.setdefault(parent, []).append(r[len(parent) + 1:])
            continue
        if is_dir:
            _refuse_nested_pointers(repo, r)
        plain[r] = is_dir
    store = repo.store
    threshold = store.chunk_threshold
    if not chunk:
        store.chunk_threshold = 0
    try:
        with repo.lock(), store.lock():
            results = _add_locked(repo, plain, inside, quiet, meta)
    finally:
        store.chunk_threshold = threshold
    for r in results if advise and threshold and chunk else ():
        if r.kind == "file" and r.path.endswith(".parquet") and r.size >= threshold:
            from gitml.tabular.dedup import advice

            r.notes = advice(repo.abspath(r.path), r.path)
    return results


def _add_locked(repo: Repo, plain: dict[str, bool], inside: dict[str, list[str]],
                quiet: bool, meta: dict[str, Any] | None) -> list[AddResult]:
    store = repo.store
    repo.statcache.begin()

    def stage(rel: str, is_dir: bool, subs: list[str] | None = None) -> Staged:
        before = store.new_bytes
        s = store_target(repo, rel, is_dir, quiet, inside=subs)
        s.new_bytes = store.new_bytes - before
        return s

    staged = [stage(r, is_dir) for r, is_dir in plain.items() if r not in inside]
    staged += [stage(d, True, subs if d not in plain else None)
               for d, subs in inside.items()]
    for s in staged if meta else []:
        if not s.ptr.is_dir:
            s.ptr = replace(s.ptr, meta={**s.ptr.meta, **(meta or {})})
    store.flush()  # objects durable before any pointer names them
    faults.point("add.before-pointers")
    results = [write_pointer(repo, s) for s in staged]
    repo.statcache.commit()
    return results


def _refuse_nested_pointers(repo: Repo, rel: str) -> None:
    prefix = rel + "/"
    for p in tracked.gitio.workspace_pointers(repo.root):
        if p.startswith(prefix):
            raise GitmlError(f"{rel} contains the tracked path {p[:-6]}; "
                             f"run 'gitml remove {p[:-6]}' first")


def _old_pointer(repo: Repo, rel: str) -> Pointer | None:
    try:
        return tracked.load_pointer(repo.root, rel + pointer.SUFFIX).ptr
    except GitmlError:
        return None


@dataclass
class Staged:
    """A path whose objects are stored, waiting for its pointer (:func:`write_pointer`)."""

    rel: str
    ptr: Pointer
    old: Pointer | None
    skipped: list[str] = field(default_factory=list)
    new_bytes: int = 0


def store_target(repo: Repo, rel: str, is_dir: bool, quiet: bool,
                 inside: list[str] | None = None) -> Staged:
    """Store the file or directory at ``rel``; returns it with its new and old pointer.
    ``inside``: paths in the tracked directory ``rel`` to refresh; the rest of its manifest
    stays as it is (``gitml add data/images/new.png``).

    The caller holds the workspace and store locks, has begun the stat cache, and flushes
    the store before any pointer is written (``write_pointer``).
    """
    store = repo.store
    old = _old_pointer(repo, rel)
    full = repo.abspath(rel)
    hasher = Hasher(repo, rel)
    if not is_dir:
        st = os.stat(full)
        oid = _store_file(repo, hasher, "", full, st, None)
        meta = old.meta if old and old.oid == oid else _file_meta(full)
        return Staged(rel, Pointer(os.path.basename(full), "file", oid, st.st_size, None, meta,
                                   exec=bool(st.st_mode & EXEC)), old)
    known: set[str] = set()  # objects the current pointer references: present in the store
    if old and old.is_dir and store.has(old.oid):
        with contextlib.suppress(GitmlError):
            known = manifest.oids(store.read_bytes(old.oid))
    cached = hasher.cache.entries

    def survey(walk: Iterable[tuple[str, os.stat_result]]) -> _Survey:
        return _survey(full, rel, walk, cached, known, store.has)

    if inside is None:
        parts = _split_survey(full, survey, old.files if old and old.is_dir else None)
    else:
        parts = [_Survey(*_kept(repo, rel, old, inside))]
        parts += [survey(_walk_one(full, sub)) for sub in inside]
    entries: list[Entry] = [e for part in parts for e in part.entries]
    new: list[int] = []  # indexes in entries of files to store, with their stat ids
    ids: list[tuple[int, int, int]] = []
    offset = 0
    for part in parts:
        new.extend(i + offset for i in part.new)
        ids.extend(part.ids)
        offset += len(part.entries)
    total = sum(e[2] for e in entries)
    with Progress(f"adding {rel}", total=len(entries), unit="files") as bar:
        show = bar.on and not quiet
        if show:  # the files the stat cache vouches for are done already
            bar.update(len(entries) - len(new), total - sum(entries[i][2] for i in new))
        # reading, hashing and writing the new files: two processes when there are many
        stored = store.put_files([(f"{full}/{entries[i][0]}", entries[i][2]) for i in new],
                                 (lambda n: bar.update(n)) if show else None)
    put_ids = hasher.cache.put_ids
    for i, (oid, n), st_ids in zip(new, stored, ids, strict=True):
        frel, _, size, exe = entries[i]
        put_ids(frel, st_ids, oid)
        entries[i] = (frel, oid, n, exe)  # type: ignore[assignment]
        total += n - size  # the bytes stored, should the file have changed since its stat
    moid, data = manifest.oid_of(entries, [e for part in parts for e in part.empty])
    store.put_bytes(data)
    if inside is None:
        hasher.cache.set_snapshot(moid, join_digest([p.digest_part for p in parts]))
    name = os.path.basename(full)
    return Staged(rel, Pointer(name, "dir", moid, total, len(entries)), old,
                  [f"{rel}/{s}" for part in parts for s in part.skipped])


@dataclass
class _Survey:
    """A walk of (part of) a directory being added, checked against the stat cache."""

    entries: list[Entry] = field(default_factory=list)  # oid "" for files to store
    new: list[int] = field(default_factory=list)  # their indexes in entries
    ids: list[tuple[int, int, int]] = field(default_factory=list)  # their (ino, mtime, size)
    digest_part: tuple[bytes, ...] = ()  # what statcache.join_digest needs of this part
    skipped: list[str] = field(default_factory=list)  # "rel: why" of what is not a file
    empty: list[str] = field(default_factory=list)  # empty folders


def _survey(full: str, rel: str, walk: Iterable[tuple[str, os.stat_result]],
            cached: dict[str, Any], known: set[str], has: Callable[[str], bool]) -> _Survey:
    """Each regular file of ``walk`` (links followed) with its cached id when its stat
    still matches, else marked to be stored."""
    out = _Survey()
    entries, new, ids = out.entries, out.new, out.ids
    suffix = pointer.SUFFIX

    def regular_files() -> Iterator[tuple[str, os.stat_result]]:
        # The loop runs once per file of directories of 100,000 files: the cache check is
        # inlined, and entries are plain tuples in Entry's field order.
        for frel, st in walk:
            if frel.endswith(suffix):
                raise GitmlError(f"{rel}/{frel} is a gitml pointer inside a directory "
                                 "being added")
            if stat.S_ISLNK(st.st_mode):  # links to files are followed: their target is stored
                try:
                    st = os.stat(f"{full}/{frel}")
                except FileNotFoundError:
                    raise GitmlError(f"{rel}/{frel} is a broken symbolic link") from None
                if stat.S_ISDIR(st.st_mode):
                    out.skipped.append(f"{frel}: a symbolic link to a folder (not followed)")
                    continue
            if not stat.S_ISREG(st.st_mode):
                if frel[-1] == "/":  # an empty folder: kept in the manifest
                    out.empty.append(frel[:-1])
                    yield frel, st
                else:
                    out.skipped.append(f"{frel}: not a regular file")
                continue
            size = st.st_size
            c = cached.get(frel)
            if (c is not None and c[1] == st.st_mtime_ns and c[0] == st.st_ino
                    and c[2] == size and c[1] < c[4] and (c[3] in known or has(c[3]))):
                oid = c[3]
            else:
                oid = ""
                new.append(len(entries))
                ids.append((st.st_ino, st.st_mtime_ns, size))
            entries.append((frel, oid, size, bool(st.st_mode & EXEC)))  # type: ignore[arg-type]
            yield frel, st

    out.digest_part = digest_columns(regular_files())[0]  # the snapshot: of these files
    return out


def _kept(repo: Repo, rel: str, old: Pointer | None, inside: list[str]
          ) -> tuple[list[Entry], list[int], list[tuple[int, int, int]], tuple[bytes, ...],
                     list[str], list[str]]:
    """The fields of a :class:`_Survey` of the part of tracked directory ``rel`` that an
    add of paths ``inside`` it leaves as its manifest says."""
    m = load_manifest(repo, old, rel) if old is not None and old.is_dir else None
    if m is None:
        raise GitmlError(f"the manifest of {rel} is not in the store, so a path inside it "
                         f"cannot be added alone: run 'gitml pull {rel}' or 'gitml add {rel}'")

    def out(p: str) -> bool:
        return not any(p == s or p.startswith(s + "/") or s.startswith(p + "/")
                       for s in inside)

    return [e for e in m if out(e.path)], [], [], (), [], [d for d in m.empty if out(d)]


def _walk_one(full: str, sub: str) -> Iterator[tuple[str, os.stat_result]]:
    """The walk of one path ``sub`` inside the tracked directory at ``full``."""
    path = os.path.join(full, *sub.split("/"))
    if os.path.isdir(path) and not os.path.islink(path):
        yield from walk_stats([(sub + "/", path)])  # an empty one yields itself
    else:
        yield sub, os.lstat(path)


def _split_survey(full: str, survey: Callable[[Iterable[tuple[str, os.stat_result]]], _Survey],
                  expected: int | None) -> list[_Survey]:
    """``[survey(the whole walk)]``, or its two halves in walk order, the second surveyed by
    a forked child, for a big tree (``expected`` files; unknown: 8 or more folders at the
    top): the walk is mostly kernel time, which two processes share."""
    if (expected is not None and expected < forkpool.MIN_ITEMS) or forkpool.workers() < 2:
        return [survey(walk_stats([("", full)]))]
    files, subdirs = split_top(full)
    if len(subdirs) < (2 if expected is not None else 8):
        return [survey(itertools.chain(files, walk_stats(subdirs)))]
    return forkpool.split_walk(files, subdirs, survey)


def _store_file(repo: Repo, hasher: Hasher, key: str, path: str, st: os.stat_result,
                known: set[str] | None) -> str:
    oid = hasher.cache.get(key, st)
    if oid is not None and ((known is not None and oid in known) or repo.store.has(oid)):
        return oid
    oid, _ = repo.store.put_file(path, st.st_size)
    hasher.cache.put(key, st, oid)
    return oid


def _file_meta(path: str) -> dict[str, Any]:
    if path.endswith(".parquet"):
        from gitml.tabular.meta import parquet_meta

        return parquet_meta(path)
    return {}


def write_pointer(repo: Repo, staged: Staged) -> AddResult:
    """Write the staged path's pointer and .gitignore line once its objects are durable."""
    rel, ptr, old = staged.rel, staged.ptr, staged.old
    prel = rel + pointer.SUFFIX
    changed = old is None or old.to_dict() != ptr.to_dict()
    if changed:
        atomic_write(repo.abspath(prel), pointer.dumps(ptr).encode())
    gi = tracked.ignore(repo.root, rel)
    _relink(repo, rel, ptr)
    repo.statcache.mark_tracked([rel])
    return AddResult(rel, ptr.kind, ptr.oid, ptr.size, ptr.files, changed, prel,
                     repo.rel(gi) if gi else None, staged.skipped, staged.new_bytes)


def _relink(repo: Repo, rel: str, ptr: Pointer) -> None:
    """With a linking link type, replace the added files by links into the store."""
    first = repo.store.link_types[0]
    if first not in ("hardlink", "symlink"):
        return
    full = repo.abspath(rel)
    if not ptr.is_dir:
        pairs = [(rel, full, Entry(rel, ptr.oid, ptr.size))]
    else:
        entries = manifest.loads(repo.store.read_bytes(ptr.oid), rel)
        pairs = [(f"{rel}/{e.path}", os.path.join(full, *e.path.split("/")), e) for e in entries]
    cache = repo.statcache.root(rel)
    from gitml.chunks import THRESHOLD_MIN

    for frel, path, e in pairs:
        if e.exec or links_to(repo.store, path, e.oid) or \
                (e.size >= THRESHOLD_MIN and repo.store.chunk_list(e.oid) is not None):
            continue  # a chunked file has no single stored file to link to: it stays as is
        st = repo.store.link(e.oid, path)
        key = "" if frel == rel else frel[len(rel) + 1:]
        cache.put(key, st, e.oid, written=True)


# -- status --------------------------------------------------------------------------------
def status(repo: Repo, targets: list[str] | None = None) -> list[PathStatus]:
    """Compare every tracked path with its pointer; reads only files whose stat changed."""
    out = []
    for t in tracked.workspace_tracked(repo.root, targets):
        out.append(_status_one(repo, t))
    if "statcache" in repo.__dict__:  # opened only when something was hashed
        repo.statcache.commit()
    return out


def _status_one(repo: Repo, t: tracked.Tracked) -> PathStatus:
    ptr, full = t.ptr, repo.abspath(t.rel)
    in_store = repo.store.has(ptr.oid)
    res = PathStatus(t.rel, ptr.kind, "ok", in_store=in_store, meta=ptr.meta)
    if t.only:  # a target inside a tracked directory: that part only
        res.path = ", ".join(f"{t.rel}/{o}" for o in t.only)
    if not os.path.lexists(full):
        res.state = "missing"
        return res
    hasher = Hasher(repo, t.rel)
    if not ptr.is_dir:
        if os.path.isdir(full) or hasher.oid_key("", full, os.lstat(full)) != ptr.oid:
            res.state = "modified"
            if links_to(repo.store, full, ptr.oid):
                res.state, res.corrupt = "corrupt", [t.rel]
            elif ptr.meta.get("schema") and os.path.isfile(full):
                res.schema_changed = _file_meta(full).get("schema") != ptr.meta["schema"]
    else:
        if not in_store:
            res.state = "not in store"
            return res
        if t.only:
            ws = {k: v for k, v in scan_stats(full).items() if t.wants(k.rstrip("/"))}
            digest = ""
        elif (ptr.files or 0) >= forkpool.MIN_ITEMS:  # a big tree: two processes walk it
            if hasher.cache.clean_snapshot(ptr.oid, *tree_digest(full, parallel=True)):
                return res
            ws = scan_stats(full)  # changed: walk again, keeping every file's stat
            digest = stat_digest(ws)[0]
        else:
            ws = scan_stats(full)
            digest, newest = stat_digest(ws)
            if hasher.cache.clean_snapshot(ptr.oid, digest, newest):
                return res
        entries = load_manifest(repo, ptr, t.rel) or manifest.Manifest()
        if t.only:
            entries = manifest.Manifest([e for e in entries if t.wants(e.path)],
                                        [d for d in entries.empty if t.wants(d)])
        added, modified, deleted = _compare_dir(hasher, full, entries, ws)
        res.added, res.modified, res.deleted = len(added), len(modified), len(deleted)
        if added or modified or deleted:
            res.state = "modified"
            oids = {e.path: e.oid for e in entries} if modified else {}
            res.corrupt = [f"{t.rel}/{p}" for p in modified
                           if links_to(repo.store, os.path.join(full, p), oids[p])]
            if res.corrupt:
                res.state = "corrupt"
        elif not t.only and not any(stat.S_ISLNK(st.st_mode) for st in ws.values()):
            # a tree with links into the store is never trusted by its links' stats alone:
            # its objects' own stats are checked file by file (Hasher.oid_key)
            hasher.cache.set_snapshot(ptr.oid, digest)
    if res.state == "ok" and not in_store:
        res.state = "not in store"
    return res


def links_to(store: Store, path: str, oid: str) -> bool:
    """True when ``path`` is a hard or symbolic link to the object ``oid``. If its content
    then differs from ``oid``, an edit of it was an edit of the stored object itself."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return os.readlink(path) == store.path(oid)
        if st.st_nlink < 2:
            return False
        ost = os.stat(store.path(oid))
    except OSError:
        return False
    return (ost.st_ino, ost.st_dev) == (st.st_ino, st.st_dev)


def _compare_dir(hasher: Hasher, full: str, entries: manifest.Manifest,
                 ws: dict[str, os.stat_result]) -> tuple[list[str], list[str], list[str]]:
    """(added, modified, deleted) paths of the scanned tree ``ws`` against the manifest
    (empty folders as ``folder/``)."""
    ws = dict(ws)
    modified: list[str] = []
    deleted = [d + "/" for d in entries.empty if ws.pop(d + "/", None) is None]
    get = hasher.cache.get
    for e in entries:
        st = ws.pop(e.path, None)
        if st is None:
            deleted.append(e.path)
            continue
        if stat.S_ISREG(st.st_mode):
            if st.st_size != e.size:
                modified.append(e.path)
                continue
            oid = get(e.path, st)
            if oid is not None:
                if oid != e.oid:
                    modified.append(e.path)
                continue
        if hasher.oid_key(e.path, os.path.join(full, e.path), st) != e.oid:
            modified.append(e.path)
    return sorted(ws), modified, deleted


# -- remove --------------------------------------------------------------------------------
def remove(repo: Repo, targets: list[str]) -> list[str]:
    """Delete the pointers and .gitignore lines of ``targets``; the data stays as a plain copy."""
    if not targets:
        raise GitmlError("nothing to remove: name at least one tracked path")
    with repo.lock():
        items = []
        for target in targets:
            rel = tracked.to_rel(repo.root, target)
            if rel.endswith(pointer.SUFFIX):
                rel = rel[: -len(pointer.SUFFIX)]
            if not os.path.exists(repo.abspath(rel + pointer.SUFFIX)):
                raise GitmlError(f"{target} is not tracked by gitml")
            items.append(tracked.load_pointer(repo.root, rel + pointer.SUFFIX))
        for t in items:
            unshare(repo, repo.abspath(t.rel))
            os.unlink(repo.abspath(t.pointer_rel))
            tracked.unignore(repo.root, t.rel)
            repo.statcache.forget(t.rel)
        repo.statcache.commit()
    return [t.rel for t in items]


def unshare(repo: Repo, full: str) -> None:
    """Turn the files at ``full`` (a file or a directory) that share bytes with the store
    into private writable copies, so editing them cannot reach the store."""
    if os.path.isdir(full) and not os.path.islink(full):
        paths = [f"{full}/{rel}" for rel in scan_stats(full)]
    else:
        paths = [full] if os.path.lexists(full) else []
    for path in paths:
        if repo.store.is_linked(path):
            tmp = path + ".gitml-unlink"
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 22):
                    dst.write(chunk)
            os.replace(tmp, path)


def __getattr__(name: str) -> Any:  # checkout moved to its own module (gitml/checkout.py)
    if name in ("checkout", "CheckoutResult", "CheckoutIncomplete"):
        from gitml import checkout

        return getattr(checkout, name)
    raise AttributeError(f"module 'gitml.workspace' has no attribute {name!r}")
