"""Series files at revisions: which files to draw, and their tables.

A file is read at every revision through one :class:`~gitml.readapi.RevReader` (one
``git cat-file --batch`` process), so a Git blob, a tracked file and the workspace are all
the same to the caller. Problems (a file missing at a revision, a parse error) become a
note on that revision, never an exception: the other revisions are still drawn.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitml import gitio, pointer, project
from gitml.errors import FormatError, GitmlError
from gitml.plots.config import LIVE_PLOTS, PlotDef, is_series_file, parse_section
from gitml.readapi import NotFoundError, RevReader
from gitml.repo import Repo
from gitml.structured import MAX_BYTES, bounded_text

WORKSPACE = "workspace"


@dataclass(frozen=True)
class Rev:
    """A revision as the user named it (``label``) and what it resolves to (None: workspace)."""

    label: str
    sha: str | None

    @property
    def short(self) -> str:
        return self.sha[:8] if self.sha else WORKSPACE


@dataclass
class Table:
    """Columns of one series file: header order kept, raw cell values (str or JSON)."""

    columns: dict[str, list[Any]]
    rows: int
    settings: dict[str, Any] | None = None  # a JSON file's own "plot" settings

    @property
    def names(self) -> list[str]:
        return list(self.columns)


@dataclass
class FileAtRev:
    rev: Rev
    table: Table | None = None
    problem: str | None = None


@dataclass
class SeriesFile:
    """One plot definition resolved to a file, with its table at each revision."""

    plot: PlotDef
    at: list[FileAtRev] = field(default_factory=list)


def resolve_revs(repo: Repo, revs: list[str | None]) -> list[Rev]:
    """Labels and SHAs; an unknown revision is a usage error. Duplicates are dropped."""
    out: list[Rev] = []
    for rev in revs:
        label = WORKSPACE if rev is None else rev
        if any(r.label == label for r in out):
            continue
        out.append(Rev(label, None if rev is None else gitio.rev_parse(repo.root, rev)))
    return out


def parse_table(data: bytes, path: str) -> Table:
    """A series file as columns: CSV/TSV with a header row, or JSON/YAML records."""
    text = bounded_text(data, path, f"larger than {MAX_BYTES >> 20} MiB; not drawn")
    low = path.lower()
    if low.endswith((".csv", ".tsv")):
        return _delimited(text, "\t" if low.endswith(".tsv") else ",", path)
    from gitml import yamlio

    doc = yamlio.loads(text, path, "series", "json" if low.endswith(".json") else "yaml")
    return _records(doc or [], path)


def _delimited(text: str, delim: str, path: str) -> Table:
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            return Table({}, 0)
        names = [h.strip() for h in header]
        if len(set(names)) != len(names) or "" in names:
            raise FormatError(path, "the header row has empty or repeated column names")
        cols: list[list[Any]] = [[] for _ in names]
        width = len(names)
        n = 0
        for row in reader:
            if not row:
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))
            for i in range(width):
                cols[i].append(row[i])
            n += 1
    except csv.Error as e:
        raise FormatError(path, f"cannot parse: {e}") from None
    return Table(dict(zip(names, cols, strict=True)), n)


def _records(doc: Any, path: str) -> Table:
    settings = None
    if isinstance(doc, dict) and isinstance(doc.get("plot"), dict):
        # a file that says how to draw it (Live.log_sklearn_plot): {"plot": {...}, "roc": [...]}
        doc = dict(doc)
        settings = doc.pop("plot")
        if isinstance(doc.get("summary"), dict):
            doc.pop("summary")
    table = _plain_records(doc, path)
    table.settings = settings
    return table


def _plain_records(doc: Any, path: str) -> Table:
    if isinstance(doc, dict) and len(doc) == 1 and isinstance(next(iter(doc.values())), list):
        doc = next(iter(doc.values()))  # {"train": [{...}, ...]}
    if isinstance(doc, dict):  # columns: {"step": [...], "loss": [...]}
        if not all(isinstance(v, list) for v in doc.values()):
            raise FormatError(path, "expected a list of records or a mapping of columns")
        n = max((len(v) for v in doc.values()), default=0)
        return Table({str(k): list(v) + [None] * (n - len(v)) for k, v in doc.items()}, n)
    if not isinstance(doc, list):
        raise FormatError(path, "expected a list of records or a mapping of columns")
    cols: dict[str, list[Any]] = {}
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict):
            raise FormatError(path, f"record {i} is not a mapping")
        for k in rec:
            if str(k) not in cols:
                cols[str(k)] = [None] * i
        for k, col in cols.items():
            col.append(rec.get(k))
    return Table(cols, len(doc))


def _definitions(repo: Repo, reader: RevReader, revs: list[Rev]) -> list[PlotDef]:
    """Declared plots of every revision in order of first appearance; later revs' settings win."""
    merged: dict[str, PlotDef] = {}
    for rev in revs:
        doc = project.load(repo, rev.sha, reader=reader.batch)
        where = project.PROJECT_FILE if rev.sha is None else f"{rev.label}:{project.PROJECT_FILE}"
        for plot in parse_section(doc.get("plots"), where):
            merged[plot.path] = plot
    return list(merged.values())


def list_files(repo: Repo, reader: RevReader, rev: Rev, path: str,
               want: Callable[[str], bool] = is_series_file) -> list[str] | None:
    """Series files (or files ``want`` picks) at or below ``path`` at ``rev``; None when
    nothing is there."""
    if rev.sha is None:
        full = repo.abspath(path)
        if os.path.isfile(full) or os.path.isfile(full + pointer.SUFFIX):
            return [path]
        if not os.path.isdir(full):
            return None
        found = set()
        for top, dirs, files in os.walk(full):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel_top = repo.rel(top)
            for f in files:
                name = f[: -len(pointer.SUFFIX)] if f.endswith(pointer.SUFFIX) else f
                if want(name):
                    found.add(f"{rel_top}/{name}")
        return sorted(found)
    obj = reader.batch.read_object(f"{rev.sha}:{path}", limit=1 << 24)
    if obj is None:
        obj = reader.batch.read_object(f"{rev.sha}:{path}{pointer.SUFFIX}", limit=1 << 24)
        return None if obj is None else [path]
    if obj[1] != "tree":
        return [path]
    found = set()
    stack = [(path, obj[2] or b"")]
    while stack:
        base, data = stack.pop()
        for mode, name, sha in gitio.parse_tree(data, len(rev.sha) // 2):
            if mode == "40000":
                sub = reader.batch.read_object(sha, limit=1 << 24)
                if sub is not None and sub[1] == "tree":
                    stack.append((f"{base}/{name}", sub[2] or b""))
                continue
            name = name[: -len(pointer.SUFFIX)] if name.endswith(pointer.SUFFIX) else name
            if want(name):
                found.add(f"{base}/{name}")
    return sorted(found)


def collect(repo: Repo, revs: list[Rev], targets: list[str] | None = None
            ) -> list[SeriesFile]:
    """Every series file to draw, with its table (or a problem) at each revision.

    Without ``targets``: the files declared in ``gitml.yaml`` plus the training logger's
    series under ``gitml-live/plots/``. With targets: those paths (declared settings apply).
    """
    with RevReader(repo) as reader:
        declared = _definitions(repo, reader, revs)
        wanted = [t.strip().strip("/") for t in targets or []]
        if wanted:
            defs = []
            for t in wanted:
                defs += [d for d in declared if _under(d.path, t)]
                outer = [d for d in declared if _under(t, d.path)]
                # an undeclared target, or one inside a declared directory (its settings apply)
                defs.append(max(outer, key=lambda d: len(d.path)).for_file(t) if outer
                            else PlotDef(t))
        else:
            defs = declared + ([] if any(d.path == LIVE_PLOTS for d in declared)
                               else [PlotDef(LIVE_PLOTS)])
        files: dict[str, PlotDef] = {}
        for d in defs:
            for rev in revs:
                for path in list_files(repo, reader, rev, d.path) or []:
                    # the closest declaration wins: a file's own entry over its directory's
                    have = files.get(path)
                    if have is None or (len(d.path) > len(have.path) and d.declared):
                        files[path] = d.for_file(path) if d.path != path else d
        for t in wanted:
            if not any(_under(p, t) for p in files):
                raise NotFoundError(f"{t}: no series file there in {_revs_text(revs)}")
        for d in defs:  # a declared file present at no revision (a typo?) is still reported
            if d.declared and not any(_under(p, d.path) for p in files):
                files[d.path] = d
        out = []
        for path, plot in files.items():
            series = SeriesFile(plot)
            for rev in revs:
                series.at.append(_read(reader, rev, path))
            if not plot.declared:
                series.plot = _own_settings(series) or plot
            out.append(series)
        return out


def _own_settings(series: SeriesFile) -> PlotDef | None:
    """The settings an undeclared JSON file carries (the newest revision's), if valid."""
    from dataclasses import replace

    from gitml.plots.config import _KEYS, _entry

    for at in reversed(series.at):
        if at.table is not None and at.table.settings:
            own = {k: v for k, v in at.table.settings.items() if k in _KEYS}
            try:
                plot = _entry(series.plot.path, own, series.plot.path)
            except FormatError:
                return None  # drawn with the defaults
            return replace(plot, declared=False)
    return None


def _read(reader: RevReader, rev: Rev, path: str) -> FileAtRev:
    try:
        data = reader.read_bytes(path, rev.sha)
    except NotFoundError:
        return FileAtRev(rev, problem="file not present")
    except GitmlError as e:  # missing object, corrupt object, bad pointer
        return FileAtRev(rev, problem=str(e))
    try:
        return FileAtRev(rev, table=parse_table(data, path))
    except FormatError as e:
        return FileAtRev(rev, problem=e.problem)


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _revs_text(revs: list[Rev]) -> str:
    return ", ".join("the workspace" if r.sha is None else r.label for r in revs)
