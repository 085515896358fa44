"""``gitml diff``: tracked data that changed between two revisions or a revision and the workspace.

Changes use one shape for data, metrics and params: a kind plus old and new values.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer, tracked
from gitml.errors import GitmlError
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass(frozen=True)
class Change:
    """``kind`` is added, deleted or modified; a file inside a directory has ``dir`` set."""

    kind: str
    path: str
    old: str | None
    new: str | None
    old_size: int | None = None
    new_size: int | None = None
    dir: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


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
    if not ptr.is_dir or not repo.store.has(ptr.oid):
        return None
    entries = manifest.loads(repo.store.read_bytes(ptr.oid), f"manifest of {where}")
    return {e.path: (e.oid, e.size) for e in entries}


def _rev_side(repo: Repo, rev: str) -> Side:
    return {p: (ptr, _files(repo, ptr, f"{rev}:{p}")) for p, ptr in pointers_at(repo, rev).items()}


def _workspace_side(repo: Repo) -> Side:
    """The data as it is on disk now (hashed through the stat cache)."""
    from gitml.fsutil import scan_stats
    from gitml.workspace import NOT_A_FILE, Hasher

    side: Side = {}
    for t in tracked.workspace_tracked(repo.root):
        full = repo.abspath(t.rel)
        if not os.path.lexists(full):
            continue
        h = Hasher(repo, t.rel)
        if not t.ptr.is_dir:
            st = os.lstat(full)
            oid = h.oid(t.rel, full, st)
            ptr = t.ptr if oid == t.ptr.oid else Pointer(t.ptr.path, "file", oid, st.st_size)
            side[t.rel] = (ptr, None)
        else:
            files = {rel: (h.oid(f"{t.rel}/{rel}", os.path.join(full, rel), st), st.st_size)
                     for rel, st in scan_stats(full).items()}
            # what add would skip (links to folders, devices) is no change of the data
            side[t.rel] = (t.ptr, {k: v for k, v in files.items() if v[0] != NOT_A_FILE})
    repo.statcache.commit()
    return side


def diff(repo: Repo, a: str | None, b: str | None) -> list[Change]:
    """Changes from ``a`` to ``b``; ``a`` defaults to HEAD and ``b`` to the workspace."""
    if a is None and b is None:
        a = "HEAD"
    if a is None:
        raise GitmlError("give the older revision first")
    old = _rev_side(repo, a)
    new = _workspace_side(repo) if b is None else _rev_side(repo, b)
    changes: list[Change] = []
    for path in sorted(old.keys() | new.keys()):
        o, n = old.get(path), new.get(path)
        if o and n and o[0].oid == n[0].oid and o[0].kind == n[0].kind and n[1] is None:
            continue
        if o and n and o[0].is_dir and n[0].is_dir:
            changes.extend(_dir_changes(path, o, n))
            continue
        if o and n and o[0].oid == n[0].oid:
            continue
        changes.append(Change(
            "added" if o is None else "deleted" if n is None else "modified", path,
            o[0].oid if o else None, n[0].oid if n else None,
            o[0].size if o else None, n[0].size if n else None,
            note=_note(o[0] if o else None, n[0] if n else None)))
    return changes


def _dir_changes(path: str, o: tuple[Pointer, Any], n: tuple[Pointer, Any]) -> list[Change]:
    of, nf = o[1], n[1]
    if of is None or nf is None:
        if o[0].oid == n[0].oid:
            return []
        return [Change("modified", path + "/", o[0].oid, n[0].oid, o[0].size, n[0].size,
                       note="manifest not in the store: per-file changes unknown")]
    out = []
    for f in sorted(of.keys() | nf.keys()):
        x, y = of.get(f), nf.get(f)
        if x == y or (x and y and x[0] == y[0]):
            continue
        kind = "added" if x is None else "deleted" if y is None else "modified"
        out.append(Change(kind, f"{path}/{f}", x[0] if x else None, y[0] if y else None,
                          x[1] if x else None, y[1] if y else None, dir=path))
    return out


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
