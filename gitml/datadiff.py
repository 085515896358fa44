"""``gitml diff``: tracked data that changed between two revisions or a revision and the workspace.

Changes use one shape for data, metrics and params: a kind plus old and new values.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer, tracked
from gitml.errors import GitmlError
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass(frozen=True)
class Change:
    """``kind`` is added, deleted, modified or renamed (the same bytes under a new path:
    ``old_path`` says where from); a file inside a directory has ``dir`` set."""

    kind: str
    path: str
    old: str | None
    new: str | None
    old_size: int | None = None
    new_size: int | None = None
    dir: str | None = None
    note: str = ""
    old_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


EMPTY_FOLDER = "folder"  # the "hash" of an empty folder of a tracked directory

# A side of a diff: data path -> (pointer, {file path -> (oid, size)} for dirs or None)
Side = dict[str, tuple[Pointer, "dict[str, tuple[str, int]] | None"]]


def pointers_at(repo: Repo, rev: str) -> dict[str, Pointer]:
    """Data path -> pointer for every pointer committed at ``rev``."""
    items = gitio.tree_pointers(repo.root, rev)
    out: dict[str, Pointer] = {}
    with gitio.BatchReader(repo.root) as reader:
        for path, sha in items:
            data = reader.read(sha) or b""
            out[path[: -len(pointer.SUFFIX)]] = pointer.load_at(data, path, f"{rev}:{path}")
        _dvc_era(repo, rev, reader, out)
    return out


def _dvc_era(repo: Repo, rev: str, reader: gitio.BatchReader, out: dict[str, Pointer]) -> None:
    """A revision from before ``gitml import-dvc``: the data its DVC files track."""
    from gitml.dvcimport import history

    for path, ptr in history.pointers_at(repo, rev, reader).items():
        out.setdefault(path, ptr)


def _files(repo: Repo, ptr: Pointer, where: str) -> dict[str, tuple[str, int]] | None:
    """{file: (oid, size)} of a directory pointer; its manifest is fetched from the default
    remote when the store lacks it (a fresh clone); None when it cannot be had."""
    if not ptr.is_dir:
        return None
    if not repo.store.has(ptr.oid):
        from gitml.readapi import _fetch_missing

        try:
            _fetch_missing(repo, ptr.oid, where)
        except GitmlError:
            return None
    entries = manifest.loads(repo.store.read_bytes(ptr.oid), f"manifest of {where}")
    files = {e.path: (e.oid, e.size) for e in entries}
    files.update((d + "/", (EMPTY_FOLDER, 0)) for d in entries.empty)
    return files


def _rev_side(repo: Repo, rev: str, wanted: Callable[[str], bool]) -> Side:
    return {p: (ptr, _files(repo, ptr, f"{rev}:{p}"))
            for p, ptr in pointers_at(repo, rev).items() if wanted(p)}


def _workspace_side(repo: Repo, wanted: Callable[[str], bool]) -> Side:
    """The data as it is on disk now (hashed through the stat cache)."""
    from gitml.fsutil import scan_stats
    from gitml.workspace import NOT_A_FILE, Hasher

    side: Side = {}
    for t in tracked.workspace_tracked(repo.root):
        full = repo.abspath(t.rel)
        if not wanted(t.rel) or not os.path.lexists(full):
            continue
        h = Hasher(repo, t.rel)
        if not t.ptr.is_dir:
            st = os.lstat(full)
            oid = h.oid(t.rel, full, st)
            ptr = t.ptr if oid == t.ptr.oid else Pointer(t.ptr.path, "file", oid, st.st_size)
            side[t.rel] = (ptr, None)
        else:
            files = {rel: (EMPTY_FOLDER, 0) if rel[-1] == "/" else
                     (h.oid(f"{t.rel}/{rel}", os.path.join(full, rel), st), st.st_size)
                     for rel, st in scan_stats(full).items()}
            # what add would skip (links to folders, devices) is no change of the data
            side[t.rel] = (t.ptr, {k: v for k, v in files.items() if v[0] != NOT_A_FILE})
    repo.statcache.commit()
    return side


def diff(repo: Repo, a: str | None, b: str | None, targets: list[str] | None = None
         ) -> list[Change]:
    """Changes from ``a`` to ``b``; ``a`` defaults to HEAD and ``b`` to the workspace.

    ``targets`` (repository-relative paths) limit it to changes at or below them. Before
    the first commit there is nothing to compare: the diff is empty."""
    if a is None and b is None:
        if gitio.no_commit_yet(repo.root):
            return []
        a = "HEAD"
    if a is None:
        raise GitmlError("give the older revision first")
    prefixes = [t.rstrip("/") for t in targets or [] if t not in ("", ".")]

    def wanted(path: str) -> bool:  # a tracked path at, above or below a target
        return not prefixes or any(path == p or path.startswith(p + "/")
                                   or p.startswith(path + "/") for p in prefixes)

    old = _rev_side(repo, a, wanted)
    new = _workspace_side(repo, wanted) if b is None else _rev_side(repo, b, wanted)
    changes: list[Change] = []
    for path in sorted(old.keys() | new.keys()):
        o, n = old.get(path), new.get(path)
        if o and n and o[0].oid == n[0].oid and o[0].kind == n[0].kind and n[1] is None:
            continue
        if (o is None or o[0].is_dir) and (n is None or n[0].is_dir) and \
                (o is None or o[1] is not None) and (n is None or n[1] is not None):
            changes.extend(_dir_changes(path, o, n))  # every file of the directory
            continue
        if o and n and o[0].is_dir and n[0].is_dir:
            if o[0].oid != n[0].oid:
                changes.append(Change("modified", path + "/", o[0].oid, n[0].oid, o[0].size,
                                      n[0].size, note="manifest not in the store nor on the "
                                                      "default remote: per-file changes unknown"))
            continue
        if o and n and o[0].oid == n[0].oid:
            continue
        changes.append(Change(
            "added" if o is None else "deleted" if n is None else "modified",
            path + ("/" if (n or o)[0].is_dir else ""),  # type: ignore[index]
            o[0].oid if o else None, n[0].oid if n else None,
            o[0].size if o else None, n[0].size if n else None,
            note=_note(o[0] if o else None, n[0] if n else None)))
    if prefixes:
        changes = [c for c in changes if any(c.path.rstrip("/") == p
                                             or c.path.startswith(p + "/")
                                             or p.startswith(c.path.rstrip("/") + "/")
                                             for p in prefixes)]
    return _renames(changes)


def _dir_changes(path: str, o: tuple[Pointer, Any] | None, n: tuple[Pointer, Any] | None
                 ) -> list[Change]:
    of = o[1] if o else {}
    nf = n[1] if n else {}
    out = []
    for f in sorted(of.keys() | nf.keys()):
        x, y = of.get(f), nf.get(f)
        if x == y or (x and y and x[0] == y[0]):
            continue
        kind = "added" if x is None else "deleted" if y is None else "modified"
        out.append(Change(kind, f"{path}/{f}", x[0] if x else None, y[0] if y else None,
                          x[1] if x else None, y[1] if y else None, dir=path))
    return out


def _renames(changes: list[Change]) -> list[Change]:
    """Pair a deleted and an added path with the same bytes as one rename (empty files
    excepted, as Git does); each pair in path order, so the result is deterministic."""
    gone: dict[str, list[Change]] = {}
    for c in changes:
        if c.kind == "deleted" and c.old and c.old_size and not c.path.endswith("/"):
            gone.setdefault(c.old, []).append(c)
    if not gone:
        return changes
    paired: dict[int, Change] = {}  # id of the deleted change -> its rename
    out = []
    for c in changes:
        if c.kind == "added" and c.new in gone and gone[c.new]:
            d = gone[c.new].pop(0)
            paired[id(d)] = c
            out.append(replace(c, kind="renamed", old=c.new, old_size=c.new_size,
                               old_path=d.path))
        else:
            out.append(c)
    return [c for c in out if id(c) not in paired]


def _note(o: Pointer | None, n: Pointer | None) -> str:
    """A one-line table summary from Parquet pointer metadata (no data is read).

    e.g. ``rows 1,000 -> 1,200 (+200), columns 5 -> 6, schema changed``; a file whose rows
    and schema are unchanged says so, since then only values changed.
    """
    om, nm = (o.meta if o else {}), (n.meta if n else {})
    if "rows" not in om and "rows" not in nm:
        return ""
    ro, rn = om.get("rows"), nm.get("rows")
    if o is None or n is None:
        rows = rn if rn is not None else ro
        cols = nm.get("columns", om.get("columns"))
        return f"{rows:,} rows" + (f", {cols} columns" if cols is not None else "")
    if not om or not nm:  # an edit not stored yet: its table was never read, say nothing
        return ""
    parts = []
    if ro != rn:
        delta = f" ({rn - ro:+,})" if ro is not None and rn is not None else ""
        parts.append(f"rows {_num(ro)} -> {_num(rn)}{delta}")
    co, cn = om.get("columns"), nm.get("columns")
    if co != cn and co is not None and cn is not None:
        parts.append(f"columns {co} -> {cn}")
    if om and nm and om.get("schema") != nm.get("schema"):
        parts.append("schema changed")
    if not parts and om and nm:
        parts.append("same rows and schema, values changed")
    return ", ".join(parts)


def _num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"
