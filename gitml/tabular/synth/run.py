"""One synthesis: source spec -> model -> rows -> report -> written (and tracked) file; and
``--verify``, which regenerates a synthetic file from its pointer's lineage.

Order (docs/design.md): the report is computed before anything is written; a failed
threshold or an exact copy writes nothing. The output is written atomically with pinned
Parquet writer options (same seed and source: the same bytes), then stored and its pointer
written with ``meta.synth`` through the ordinary ``gitml add`` path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError, CheckFailed, GitmlError
from gitml.progress import Progress
from gitml.tabular.synth import require
from gitml.tabular.synth.columns import SynthOptions, check_names
from gitml.tabular.synth.lineage import HOLDOUT, METHOD

if TYPE_CHECKING:
    import pyarrow as pa

    from gitml.repo import Repo
    from gitml.tabular.io import Table
    from gitml.tabular.synth.model import Model

# Pinned so that a seed gives the same bytes (the library's defaults may move).
PARQUET = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
           "write_statistics": True, "version": "2.6", "data_page_version": "1.0",
           "row_group_size": 64 << 20, "data_page_size": 1 << 20, "store_schema": True,
           "write_page_index": False, "use_byte_stream_split": False,
           "use_content_defined_chunking": True}  # a new draw shares bytes (gitml/chunks.py)
MIN_HOLDOUT_ROWS = 20  # smaller sources are all used for fitting (no DCR, no model check)


@dataclass
class SynthResult:
    """What ``gitml data synth`` did; ``to_dict()`` is its ``--json``."""

    report: dict[str, Any]
    output: str
    written: bool = False
    pointer: str | None = None  # repository-relative, when the output is tracked
    lineage: dict[str, Any] = field(default_factory=dict)
    to_git: list[str] = field(default_factory=list)  # what to git add (repository paths)
    root: str | None = None  # the repository

    @property
    def ok(self) -> bool:
        return not self.report["failed"]

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, "written": self.written, "pointer": self.pointer,
                "lineage": self.lineage}


@dataclass
class Generated:
    table: pa.Table  # the synthetic rows
    model: Model
    source: pa.Table
    train: pa.Table
    holdout: pa.Table
    forbid: Any  # hashes of the source rows over the modelled columns


def default_output(spec: str, repo: Repo | None) -> str:
    """``<dir>/<stem>.synth.parquet`` beside the source (REV:path: in the repository)."""
    from gitml.readapi import split_revpath
    from gitml.tabular.table import COMPRESSION, CSV_EXT, PARQUET_EXT

    rev, path = split_revpath(spec)
    path = path.rstrip("/")
    if rev is not None and repo is not None and not path.startswith(("./", "../")):
        path = os.path.relpath(repo.abspath(path), os.getcwd())
    stem = os.path.basename(path)
    known = (*PARQUET_EXT, *CSV_EXT, *COMPRESSION)
    while os.path.splitext(stem)[1].lower() in known:
        stem = os.path.splitext(stem)[0]
    return os.path.join(os.path.dirname(path), f"{stem}.synth.parquet")


def generate(src: pa.Table, opts: SynthOptions, name: str) -> Generated:
    """Fit on the non-held-out rows of ``src`` and draw the synthetic rows."""
    import numpy as np

    from gitml.tabular.synth.model import fit
    from gitml.tabular.synth.privacy import source_hashes
    from gitml.tabular.synth.sample import sample

    check_names(src.schema, opts, name)
    n = src.num_rows
    hold_n = int(n * HOLDOUT) if n >= MIN_HOLDOUT_ROWS else 0
    perm = np.random.default_rng([opts.seed, 1]).permutation(n)
    holdout = src.take(np.sort(perm[:hold_n]))
    train = src.take(np.sort(perm[hold_n:])) if hold_n else src
    model = fit(train, opts)
    rows = n if opts.rows is None else opts.rows
    forbid = source_hashes(src, model.names)
    synth = sample(model, rows, opts.seed, src, forbid)
    return Generated(synth, model, src, train, holdout, forbid)


def encode(t: pa.Table, fmt: str) -> bytes:
    """The file's bytes: Parquet with pinned options, or CSV."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    if fmt == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(t, sink)
    else:
        import pyarrow.parquet as pq

        pq.write_table(t, sink, **PARQUET)
    return bytes(sink.getvalue())


def output_format(path: str) -> str:
    from gitml.tabular.io import format_of

    fmt = format_of(path)
    if fmt is None or path.lower().endswith((".gz", ".bz2", ".zst", ".lz4", ".tsv", ".tab")):
        raise BadInputError(f"-o {path}: the output must be a .parquet or .csv file")
    return fmt


def build_report(g: Generated, opts: SynthOptions, source: dict[str, Any], output: str,
                 thresholds: dict[str, float]) -> dict[str, Any]:
    import numpy as np

    from gitml.tabular.synth import fidelity, privacy, report

    rng = np.random.default_rng([opts.seed, 4])
    src_s = fidelity.sample_rows(g.source, fidelity.SAMPLE, rng)
    syn_s = fidelity.sample_rows(g.table, fidelity.SAMPLE, rng)
    names = g.model.names
    copies = privacy.exact_copies(g.table, names, g.forbid)
    target = opts.target or fidelity.default_target(g.model)
    dcr = privacy.dcr(g.model, g.train, g.holdout, g.table, np.random.default_rng([opts.seed, 6]))
    cols = g.model.columns
    r: dict[str, Any] = {
        "source": source, "output": {"path": output, "rows": g.table.num_rows},
        "method": METHOD, "seed": opts.seed,
        "rows": {"source": g.source.num_rows, "training": g.train.num_rows,
                 "held_out": g.holdout.num_rows, "synthetic": g.table.num_rows},
        "columns": {"modelled": names, "keys": [c.name for c in cols if c.kind == "key"],
                    "replaced": {c.name: c.rule for c in cols if c.kind == "replace"},
                    "nulls": [c.name for c in cols if c.kind == "null"],
                    "dropped": [{"name": n, "why": w} for n, w in g.model.dropped]},
        "fidelity": {"columns": fidelity.columns(g.model, src_s, syn_s),
                     "correlation": fidelity.correlation(g.model, src_s, syn_s),
                     "model": fidelity.model_check(g.model, target, g.train, g.holdout,
                                                   g.table, opts.seed)},
        "privacy": {"exact_copies": copies, "dcr": dcr.to_dict() if dcr else None,
                    "pooling": [{"column": m.column.name, "values": m.pooled_values,
                                 "rows": m.pooled_rows}
                                for m in g.model.marginals if m.pooled_values]},
        "thresholds": thresholds,
    }
    r["headline"] = report.headline(r)
    r["failed"] = report.failures(r["headline"], thresholds)
    return r


def synthesize(spec: str, out: str | None = None, opts: SynthOptions | None = None, *,
               thresholds: dict[str, float] | None = None, track: bool = True,
               quiet: bool = False) -> SynthResult:
    """``gitml data synth SPEC [-o OUT]``: the report, and the file unless it failed."""
    require()
    from gitml.tabular.io import EmptyTableError, Opener
    from gitml.tabular.synth import lineage

    opts = opts or SynthOptions()
    if opts.rows is not None and opts.rows < 1:
        raise BadInputError(f"rows must be at least 1, not {opts.rows}")
    thresholds = thresholds or {}
    with Opener() as op, Progress("synthesising", total=5, unit="steps") as bar:
        show = bar.on and not quiet
        table = op.open(spec)
        target = out or default_output(spec, op.repo)
        fmt = output_format(target)
        _check_target(op.repo, table, target)
        src = table.read()
        if src.num_rows == 0:
            raise EmptyTableError(f"{table.name}: the table is empty (0 rows): nothing to model")
        source = lineage.source_record(spec, table, op.repo, src.num_rows)
        if show:
            bar.update()
        g = generate(src, opts, table.name)
        if show:
            bar.update(2)
        rep = build_report(g, opts, {"name": table.name, **source}, target, thresholds)
        if show:
            bar.update()
        res = SynthResult(rep, target)
        if not res.ok:
            return res
        data = encode(g.table, fmt)
        res.lineage = lineage.record(
            opts, source, g.table.num_rows, [n for n, _ in g.model.dropped],
            {m.column.name: m.pooled_values for m in g.model.marginals if m.pooled_values},
            rep["headline"])
        _write(target, data)
        res.written = True
        if show:
            bar.update()
        if track and op.repo is not None and _in_repo(op.repo, target):
            from gitml.hashing import hash_bytes

            rep["output"]["hash"] = hash_bytes(data)
            added = op.repo.add([target], quiet=True, meta={"synth": res.lineage})[0]
            res.pointer, res.root = added.pointer, op.repo.root
            res.to_git = [added.pointer] + ([added.gitignore] if added.gitignore else [])
    return res


def _check_target(repo: Repo | None, table: Table, target: str) -> None:
    """The output must not be the source, nor a file Git tracks (gitml will track it)."""
    absp = os.path.abspath(target)
    if any(p.path is not None and os.path.abspath(p.path) == absp for p in table.parts):
        raise BadInputError(f"-o {target} is the source table itself")
    if repo is not None and _in_repo(repo, target):
        from gitml import tracked

        tracked.check_not_git_tracked(repo.root, [tracked.to_rel(repo.root, target)])


def _in_repo(repo: Repo, path: str) -> bool:
    rel = os.path.relpath(os.path.abspath(path), repo.root)
    return not rel.startswith("..") and not os.path.isabs(rel)


def _write(path: str, data: bytes) -> None:
    from gitml.fsutil import atomic_write

    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise BadInputError(f"-o {path}: the directory {os.path.dirname(path) or '.'} "
                            "does not exist")
    atomic_write(path, data)


# -- verify -------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    path: str
    ok: bool
    expected: str  # the pointer's hash
    regenerated: str
    workspace: str | None  # the file's hash in the workspace (None: not checked out)
    source: dict[str, Any]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify(path: str) -> VerifyResult:
    """Regenerate ``path`` from its pointer's ``meta.synth`` and compare."""
    require()
    from gitml import tracked
    from gitml.hashing import hash_bytes, hash_file
    from gitml.repo import Repo
    from gitml.tabular.synth import lineage

    with Repo() as repo:
        rel = tracked.to_rel(repo.root, path)
        try:
            ptr = tracked.load_pointer(repo.root, rel + ".gitml").ptr
        except GitmlError:
            raise BadInputError(f"{path} is not tracked by gitml (no {path}.gitml)") from None
        meta = ptr.meta.get("synth")
        if meta is None:
            raise BadInputError(f"{path}: its pointer records no synth lineage (meta.synth): "
                                "it was not made by gitml data synth")
        opts, src = lineage.parse(meta, rel + ".gitml")
        table = _open_source(repo, src)
        data = table.read()
        g = generate(data, opts, table.name)
        regenerated = hash_bytes(encode(g.table, output_format(rel)))
    full = repo.abspath(rel)
    ws = hash_file(full) if os.path.isfile(full) else None
    ok = regenerated == ptr.oid and ws in (None, ptr.oid)
    if ok:
        msg = f"{path}: regenerated from {table.name} (seed {opts.seed}): identical ({ptr.oid})"
    elif regenerated != ptr.oid:
        msg = (f"{path}: the lineage regenerates {regenerated}, the pointer records {ptr.oid}: "
               "the file or its meta.synth was changed, or it was made by another version")
    else:
        msg = (f"{path} in the workspace ({ws}) is not the file its pointer records "
               f"({ptr.oid}), which the lineage regenerates")
    return VerifyResult(path, ok, ptr.oid, regenerated, ws, src, msg)


def _open_source(repo: Repo, src: dict[str, Any]) -> Table:
    """The recorded source: its object in the store when present (a tracked source that
    has moved on since), else the recorded path (at the recorded commit); its hash must
    be the recorded one."""
    from gitml.readapi import RevReader
    from gitml.tabular.io import Part, _make, open_table
    from gitml.tabular.synth.lineage import source_hash

    path, rev, oid = src["path"], src.get("rev"), src["hash"]
    if os.path.exists(repo.store.path(oid)):  # stored whole (a chunked one: read below)
        return _make(path, path, [Part("", path=repo.store.path(oid))])
    where = path if rev is None else f"{rev[:12]}:{path}"
    reader = RevReader(repo)
    try:
        if rev is not None:
            table = open_table(f"{rev}:{path}", repo, reader)
        else:
            table = open_table(path if os.path.isabs(path) else repo.abspath(path), repo, reader)
        actual = source_hash(table)
    except GitmlError as e:
        raise BadInputError(f"cannot verify: the source {where} is not present ({e})") from None
    finally:
        reader.close()
    if actual != oid:
        raise BadInputError(f"cannot verify: the source {where} has changed since "
                            f"(now {actual}, recorded {oid}) and the recorded version is "
                            "not in the store")
    table.name = where
    return table


__all__ = ["CheckFailed", "SynthResult", "VerifyResult", "synthesize", "verify"]
