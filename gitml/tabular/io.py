"""Table specs (paths, REV:path) to readable tables, from any source.

A table spec is a path in the workspace (relative to the current directory, or absolute)
or Git's ``REV:path`` (relative to the repository root; ``REV:./x`` to the current
directory). It may name:

- a Parquet or CSV/TSV file (optionally ``.gz``/``.bz2``/``.zst``): a Git blob at a
  revision, tracked data in the store, a file inside a tracked directory, or a plain file;
- a directory of Parquet (or CSV) parts: a workspace directory, a tracked directory at a
  revision, or a Git tree whose files or pointers are the parts. ``key=value`` directory
  names (Hive partitions) become columns; ``_*`` and ``.*`` files are skipped.

Reading never holds more than a row group (Parquet) or a block (CSV) per part, except
small CSV files (<= 256 MiB), read whole so column types are inferred from every row.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitml import manifest, pointer
from gitml.errors import BadInputError
from gitml.tabular.table import _HIVE, EmptyTableError, Part, Table, format_of

if TYPE_CHECKING:
    from gitml.readapi import RevReader
    from gitml.repo import Repo

__all__ = ["EmptyTableError", "Opener", "Part", "Table", "format_of", "open_table"]


# -- resolving a spec to parts ------------------------------------------------------------
def open_table(spec: str, repo: Repo | None = None, reader: RevReader | None = None,
               rev: str | None = None) -> Table:
    """The table named by ``spec`` (``REV:path`` or a workspace path).

    ``rev`` (with a plain path relative to the current directory) is the form of
    ``gitml data diff main exp-3 data/x.parquet``.
    """
    from gitml.readapi import split_revpath

    cwd_relative = rev is not None  # REV PATH: a user path; REV:path: from the root
    if rev is None:
        rev, path = split_revpath(spec)
        name = spec
    else:
        path, name = spec, f"{rev}:{spec}"
    if rev is None:
        return _workspace_table(path, repo, reader)
    if repo is None or reader is None:
        raise BadInputError(f"{name}: reading a revision needs a gitml repository")
    if cwd_relative or path.startswith(("./", "../")):
        from gitml.tracked import to_rel

        path = to_rel(repo.root, path)
    rel = path.strip("/")
    parts = _rev_parts(repo, reader, rev, rel)
    if parts is None:
        raise BadInputError(f"{rel} does not exist at {rev}")
    return _make(name, rel, parts)


def _workspace_table(path: str, repo: Repo | None, reader: RevReader | None) -> Table:
    if os.path.isfile(path):
        return _make(path, path, [Part("", path=os.path.abspath(path))])
    if os.path.isdir(path):
        parts = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                parts.append(Part(rel, path=os.path.abspath(full)))
        return _make(path, path, parts, directory=True)
    if repo is not None and reader is not None:  # tracked but not checked out
        from gitml.tracked import to_rel

        try:
            rel = to_rel(repo.root, path)
        except BadInputError:
            rel = None
        if rel:
            parts = _tracked_parts(repo, reader, rel, None)
            if parts is not None:
                return _make(path, rel, parts)
    raise BadInputError(f"{path} does not exist")


def _make(name: str, logical: str, parts: list[Part], directory: bool | None = None) -> Table:
    is_dir = directory if directory is not None else any(p.rel for p in parts)
    if not is_dir:
        p = parts[0]
        fmt = format_of(logical) or _sniff(p)
        if fmt is None:
            raise BadInputError(f"{name} is not a Parquet or CSV file "
                                f"(expected .parquet, .csv or .tsv)")
        return Table(name, fmt, parts, logical)
    data = [p for p in parts
            if not any(s.startswith(("_", ".")) for s in p.rel.split("/"))]
    fmts = {format_of(p.rel) for p in data} - {None}
    fmt = "parquet" if "parquet" in fmts else "csv" if "csv" in fmts else None
    if fmt is None:
        raise BadInputError(f"{name}: no Parquet or CSV files in this directory")
    chosen = []
    for p in data:
        if format_of(p.rel) == fmt:
            segs = p.rel.split("/")[:-1]
            hive = dict(m.groups() for s in segs if (m := _HIVE.match(s)))
            chosen.append(Part(p.rel, p.path, p.data, hive))
    return Table(name, fmt, chosen, logical)


def _sniff(p: Part) -> str | None:
    if p.data is not None:
        head = p.data[:4]
    else:
        assert p.path is not None
        with open(p.path, "rb") as f:
            head = f.read(4)
    return "parquet" if head == b"PAR1" else None


def _rev_parts(repo: Repo, reader: RevReader, rev: str, rel: str) -> list[Part] | None:
    """Parts of ``rel`` at ``rev``: a Git blob or tree, or tracked data."""
    from gitml import gitio

    gitio.rev_parse(repo.root, rev)  # an unknown revision is its own clear error
    obj = reader.batch.read_object(f"{rev}:{rel}", limit=None)
    if obj is not None and obj[1] == "blob":
        return [Part("", data=obj[2])]
    if obj is not None and obj[1] == "tree":
        return _tree_parts(repo, reader, rev, rel)
    return _tracked_parts(repo, reader, rel, rev)


def _tree_parts(repo: Repo, reader: RevReader, rev: str, rel: str) -> list[Part]:
    """A Git directory at ``rev``: its blobs, and the data its pointers name."""
    from gitml import gitio

    out = gitio.run(repo.root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", rel)
    parts: list[Part] = []
    for rec in out.decode(errors="surrogateescape").split("\0"):
        meta, _, path = rec.partition("\t")
        bits = meta.split()
        if len(bits) != 3 or bits[1] != "blob" or not path.startswith(rel + "/"):
            continue
        inner = path[len(rel) + 1:]
        if inner.endswith(pointer.SUFFIX):
            data_rel = path[: -len(pointer.SUFFIX)]
            sub = _tracked_parts(repo, reader, data_rel, rev) or []
            base = inner[: -len(pointer.SUFFIX)]
            parts.extend(Part(f"{base}/{p.rel}" if p.rel else base, p.path, p.data)
                         for p in sub)
        elif format_of(inner):
            parts.append(Part(inner, data=reader.batch.read(bits[2])))
    return sorted(parts, key=lambda p: p.rel)


def _tracked_parts(repo: Repo, reader: RevReader, rel: str, rev: str | None
                   ) -> list[Part] | None:
    """Tracked data at ``rel`` (a tracked file or dir, or a path inside a tracked dir)."""
    segs = rel.split("/")
    for i in range(len(segs), 0, -1):
        base = "/".join(segs[:i])
        ptr = reader.pointer_at(base, rev)
        if ptr is None:
            continue
        rest = "/".join(segs[i:])
        where = f"{rev}:{rel}" if rev else rel
        if not ptr.is_dir:
            return [Part("", path=reader.object_path(ptr.oid, where))] if not rest else None
        entries = manifest.loads(reader.object_bytes(ptr.oid, base), f"manifest of {base}")
        if rest:
            exact = [e for e in entries if e.path == rest]
            if exact:
                return [Part("", path=reader.object_path(exact[0].oid, where))]
            entries = [e for e in entries if e.path.startswith(rest + "/")]
            if not entries:
                return None
        cut = len(rest) + 1 if rest else 0
        return [Part(e.path[cut:], path=reader.object_path(e.oid, f"{where}/{e.path[cut:]}"))
                for e in entries]
    return None


class Opener:
    """Opens several table specs against one repository and one Git reader."""

    def __init__(self, need_repo: bool = False) -> None:
        from gitml.errors import NotARepoError
        from gitml.readapi import RevReader
        from gitml.repo import Repo

        self.repo: Repo | None
        try:
            self.repo = Repo()
        except NotARepoError:
            if need_repo:
                raise
            self.repo = None
        self.reader = RevReader(self.repo) if self.repo is not None else None

    def open(self, spec: str, rev: str | None = None) -> Table:
        return open_table(spec, self.repo, self.reader, rev)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.repo is not None:
            self.repo.close()

    def __enter__(self) -> Opener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
