"""Where a synthetic table came from: ``meta.synth`` in its pointer, and reading it back.

The lineage names the source (its path, the commit it was read at, its XXH3-128 hash,
format and row count: never its data), the method, the options that decide the rows (seed,
row count, keys, exclusions, replacement rules, pooling threshold, held-out fraction) and
the report's headline numbers. It is read back from a pointer, which is data from a
stranger: every field is checked before use.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from gitml.errors import FormatError
from gitml.hashing import hash_bytes, hash_file, is_oid
from gitml.tabular.synth.columns import RULES, SynthOptions

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.tabular.io import Table

METHOD = "gaussian-copula"
VERSION = 1  # of the method: a change that alters the rows for a seed bumps it
HOLDOUT = 0.2  # fraction of source rows held out from fitting, for the report


def source_hash(table: Table) -> str:
    """XXH3-128 of the source file (its gitml object id when tracked); a directory of
    parts: of the JSON list of [part, hash]."""
    def one(p: Any) -> str:
        return hash_file(p.path) if p.path is not None else hash_bytes(p.data or b"")

    if len(table.parts) == 1 and not table.parts[0].rel:
        return one(table.parts[0])
    listing = [[p.rel, one(p)] for p in table.parts]
    return hash_bytes(json.dumps(listing, separators=(",", ":")).encode())


def source_record(spec: str, table: Table, repo: Repo | None, rows: int) -> dict[str, Any]:
    """The source as the lineage names it: a repository path (and the commit, for
    ``REV:path``), or an absolute path outside a repository."""
    from gitml.readapi import split_revpath

    rev, path = split_revpath(spec)
    rec: dict[str, Any] = {}
    if repo is not None and rev is not None:
        from gitml import gitio

        rec["path"] = table.logical
        rec["rev"] = gitio.rev_parse(repo.root, rev)
    elif repo is not None and _inside(repo.root, path):
        rec["path"] = repo.rel(os.path.abspath(path))
    else:
        rec["path"] = os.path.abspath(path)
    rec.update(hash=source_hash(table), format=table.fmt, rows=rows)
    return rec


def _inside(root: str, path: str) -> bool:
    rel = os.path.relpath(os.path.abspath(path), root)
    return rel != "." and not rel.startswith("..") and not os.path.isabs(rel)


def record(opts: SynthOptions, source: dict[str, Any], rows: int, dropped: list[str],
           pooled: dict[str, int], headline: dict[str, Any]) -> dict[str, Any]:
    """``meta.synth`` of the output's pointer (defaults left out)."""
    out: dict[str, Any] = {"method": METHOD, "version": VERSION, "source": source,
                           "seed": opts.seed, "rows": rows}
    if opts.key:
        out["key"] = list(opts.key)
    if opts.exclude:
        out["exclude"] = list(opts.exclude)
    if opts.replace:
        out["replace"] = dict(opts.replace)
    out["min_count"] = opts.min_count
    out["holdout"] = HOLDOUT
    if opts.target:
        out["target"] = opts.target
    if dropped:
        out["dropped"] = dropped
    if pooled:
        out["pooled"] = pooled
    out["report"] = headline
    return out


def _err(where: str, problem: str) -> FormatError:
    return FormatError(where, f"meta.synth: {problem}")


def _names(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _err(where, f"{key} must be a list of column names")
    return tuple(v)


def _int(d: dict[str, Any], key: str, where: str, lo: int = 0) -> int:
    v = d.get(key)
    if type(v) is not int or v < lo:
        raise _err(where, f"{key} must be a whole number >= {lo}, not {v!r}")
    return v


def parse(meta: Any, where: str) -> tuple[SynthOptions, dict[str, Any]]:
    """(options, source record) from a pointer's ``meta.synth``, every field checked."""
    if not isinstance(meta, dict):
        raise _err(where, "expected a mapping")
    if meta.get("method") != METHOD or meta.get("version") != VERSION:
        raise _err(where, f"method {meta.get('method')!r} version {meta.get('version')!r} "
                          f"is not one this gitml makes ({METHOD} version {VERSION})")
    if meta.get("holdout", HOLDOUT) != HOLDOUT:
        raise _err(where, f"holdout {meta.get('holdout')!r} (this gitml holds out {HOLDOUT})")
    src = meta.get("source")
    if not isinstance(src, dict):
        raise _err(where, "source must be a mapping")
    path, rev, oid = src.get("path"), src.get("rev"), src.get("hash")
    if not isinstance(path, str) or not path or "\x00" in path:
        raise _err(where, f"source.path must be a path, not {path!r}")
    if not os.path.isabs(path):  # a repository path: the one validator decides
        from gitml.fsutil import check_relpath

        check_relpath(path, source=f"{where}: meta.synth.source.path")
    if rev is not None and (not isinstance(rev, str) or not rev.isalnum()):
        raise _err(where, f"source.rev must be a commit id, not {rev!r}")
    if not is_oid(oid):
        raise _err(where, f"source.hash must be xxh3: + 32 hex digits, not {oid!r}")
    if src.get("format") not in ("parquet", "csv"):
        raise _err(where, f"source.format must be parquet or csv, not {src.get('format')!r}")
    replace = meta.get("replace", {})
    if not isinstance(replace, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.startswith(RULES)
            for k, v in replace.items()):
        raise _err(where, "replace must map columns to rules (null, category, template:...)")
    target = meta.get("target")
    if target is not None and not isinstance(target, str):
        raise _err(where, f"target must be a column name, not {target!r}")
    opts = SynthOptions(rows=_int(meta, "rows", where), seed=_int(meta, "seed", where),
                        key=_names(meta, "key", where), exclude=_names(meta, "exclude", where),
                        replace=tuple(replace.items()),
                        min_count=_int(meta, "min_count", where, 1), target=target)
    return opts, src


def gate(repo: Repo, rel: str, minimums: dict[str, float]) -> list[str]:
    """Why the synthetic table at ``rel`` must not be committed (empty: it may): no lineage,
    changed since it was made, copies of source rows, or a headline score below its minimum
    (``checks: PATH: synth: {...}`` in gitml.yaml, which the pre-commit hook runs)."""
    from gitml import pointer, tracked
    from gitml.errors import GitmlError
    from gitml.tabular.synth.report import failures

    try:
        ptr = tracked.load_pointer(repo.root, rel + pointer.SUFFIX).ptr
    except GitmlError:
        return ["not tracked by gitml: no lineage (make it with gitml data synth)"]
    meta = ptr.meta.get("synth")
    if meta is None:
        return ["no synth lineage in its pointer (made by gitml data synth? a changed file "
                "that was added again loses it)"]
    parse(meta, rel + pointer.SUFFIX)
    full = repo.abspath(rel)
    if os.path.isfile(full) and hash_file(full) != ptr.oid:
        return ["changed since it was synthesised: its lineage no longer describes it"]
    report = meta.get("report")
    keys = ("fidelity", "correlation", "utility", "privacy", "exact_copies")
    if not isinstance(report, dict) or not all(
            k in report and (report[k] is None or type(report[k]) in (int, float))
            for k in keys) or type(report["exact_copies"]) is not int:
        raise _err(rel + pointer.SUFFIX, f"report must map {', '.join(keys)} to numbers")
    return failures({k: report[k] for k in keys}, minimums)


def summary_lines(meta: Any) -> list[str]:
    """``meta.synth`` as two readable lines for ``git diff`` of a pointer (what made the
    table, and its report); whatever a stranger's pointer holds, never an error."""
    if not isinstance(meta, dict):
        return [f"synth: {meta}"]
    src = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    rev = f" at {str(src['rev'])[:12]}" if src.get("rev") else ""
    def text(v: Any) -> str:
        if isinstance(v, list):
            return ", ".join(map(str, v))
        return ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v)

    opts = [f"{k.replace('_', ' ')} {text(v)}"
            for k in ("seed", "rows", "key", "exclude", "replace", "min_count", "target")
            if (v := meta.get(k)) is not None]
    report = meta.get("report") if isinstance(meta.get("report"), dict) else {}
    return [f"synth: {meta.get('method')} {meta.get('version')} of {src.get('path')}{rev} "
            f"({src.get('hash')}); " + ", ".join(opts),
            "synth report: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                         for k, v in report.items())]
