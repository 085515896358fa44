"""``gitml data check``: the rules of ``gitml.yaml`` ``checks:`` run against the data.

One streaming pass per table evaluates every row rule chunk by chunk (counts and the first
offending rows); ``unique`` keeps only its key columns. :func:`run_checks` is the API the
pre-commit hook calls.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import FormatError
from gitml.tabular.rules import Rule, Target, check_values, parse, type_matches

if TYPE_CHECKING:
    import pyarrow as pa

    from gitml.repo import Repo
    from gitml.tabular.io import Table

SAMPLES = 3


@dataclass
class RuleResult:
    rule: str
    column: str | None
    ok: bool
    count: int
    message: str
    samples: list[dict[str, Any]] = field(default_factory=list)
    describe: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "column": self.column, "check": self.describe or self.rule,
                "ok": self.ok, "count": self.count, "message": self.message,
                "samples": self.samples}


def rows_word(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def describe(r: Rule) -> str:
    """A rule as a short sentence: ``score <= 1``, ``unique user_id+day``."""
    col = "+".join(r.column) if isinstance(r.column, tuple) else r.column
    if r.kind == "min":
        return f"{col} >= {r.arg}"
    if r.kind == "max":
        return f"{col} <= {r.arg}"
    if r.kind == "allowed":
        vals = ", ".join(str(v) for v in r.arg[:6]) + (", ..." if len(r.arg) > 6 else "")
        return f"{col} in [{vals}]"
    if r.kind == "regex":
        return f"{col} matches {r.arg!r}"
    if r.kind == "not_null":
        return f"{col} not null"
    if r.kind == "unique":
        return f"{col} unique"
    if r.kind == "rows":
        lo, hi = r.arg
        return "rows " + " and ".join(x for x in (f">= {lo:,}" if lo is not None else "",
                                                 f"<= {hi:,}" if hi is not None else "") if x)
    if r.kind == "max_null_fraction":
        return f"{col or 'every column'} nulls <= {r.arg:.2%}"
    if r.kind == "synth":
        return "synthetic: lineage, no copies" + "".join(f", {k} >= {v:g}" for k, v in r.arg)
    return r.kind


@dataclass
class FileReport:
    path: str
    pattern: str
    rows: int | None
    results: list[RuleResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "pattern": self.pattern, "rows": self.rows, "ok": self.ok,
                "results": [r.to_dict() for r in self.results]}


@dataclass
class CheckReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def failed(self) -> int:
        return sum(not r.ok for f in self.files for r in f.results)

    @property
    def rules(self) -> int:
        return sum(len(f.results) for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": len(self.files), "rules": self.rules,
                "failed": self.failed, "results": [f.to_dict() for f in self.files]}


# -- which files ------------------------------------------------------------------------
def _is_glob(p: str) -> bool:
    return any(c in p for c in "*?[")


def _candidates(repo: Repo, pattern: str) -> list[str]:
    """Repo-relative data paths matching ``pattern`` in the workspace (files or tracked)."""
    from gitml import tracked
    from gitml.tabular.io import format_of

    found = set()
    tracked_rels = [t.rel for t in tracked.workspace_tracked(repo.root)]
    if not _is_glob(pattern):
        rel = pattern.strip("/")
        if os.path.exists(repo.abspath(rel)) or rel in tracked_rels or any(
                rel.startswith(t + "/") for t in tracked_rels):
            found.add(rel)
        return sorted(found)
    for hit in glob.glob(os.path.join(glob.escape(repo.root), pattern), recursive=True):
        rel = repo.rel(hit)
        if rel.split("/")[0] in (".git", ".gitml"):
            continue
        if os.path.isdir(hit) or format_of(rel):
            found.add(rel)
    found.update(t for t in tracked_rels if fnmatch.fnmatchcase(t, pattern))
    return sorted(found)


# -- evaluating -------------------------------------------------------------------------
def _row_sample(chunk: pa.Table, mask: Any, offset: int, n: int) -> list[dict[str, Any]]:
    import pyarrow.compute as pc

    from gitml.tabular.matching import arange
    from gitml.tabular.stats import plain

    idx = pc.filter(arange(chunk.num_rows), mask).slice(0, n)
    rows = chunk.take(idx).to_pylist()
    return [{"_row": offset + i, **{k: plain(v) for k, v in r.items()}}
            for i, r in zip(idx.to_pylist(), rows, strict=True)]


def _scalar(value: Any, t: Any, rule: Rule) -> Any:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    try:
        return pa.scalar(value).cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise FormatError("gitml.yaml", f"checks: {rule.label}: {value!r} cannot be "
                                        f"compared with a {t} column") from None


class _RowRule:
    """Counts offending rows of one rule across chunks and keeps the first few."""

    def __init__(self, rule: Rule, t: Any) -> None:
        import pyarrow as pa

        self.rule, self.count, self.samples = rule, 0, []
        self.type = t
        if rule.kind in ("min", "max"):
            self.bound = _scalar(rule.arg, t, rule)
        elif rule.kind == "allowed":
            vt = t.value_type if pa.types.is_dictionary(t) else t
            try:
                self.values = pa.array(list(rule.arg)).cast(vt)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                raise FormatError("gitml.yaml", f"checks: {rule.label}: values "
                                                f"{list(rule.arg)!r} do not fit a {vt} column"
                                  ) from None

    def mask(self, col: Any) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, col.type.value_type)
        kind = self.rule.kind
        if kind == "not_null":
            return pc.is_null(col)
        if kind == "min":
            return pc.fill_null(pc.less(col, self.bound), False)
        if kind == "max":
            return pc.fill_null(pc.greater(col, self.bound), False)
        if kind == "allowed":
            return pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=self.values)))
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        try:
            hit = pc.match_substring_regex(col, self.rule.arg)
        except pa.ArrowInvalid as e:
            raise FormatError("gitml.yaml", f"checks: {self.rule.label}: {e}") from None
        return pc.and_(pc.is_valid(col), pc.invert(pc.fill_null(hit, True)))

    def update(self, chunk: pa.Table, offset: int) -> None:
        import pyarrow.compute as pc

        m = self.mask(chunk[self.rule.column])
        n = pc.sum(m).as_py() or 0
        if n:
            self.count += n
            if len(self.samples) < SAMPLES:
                self.samples += _row_sample(chunk, m, offset, SAMPLES - len(self.samples))

    def result(self) -> RuleResult:
        r = self.rule
        what = {"not_null": "null", "min": f"below {r.arg}", "max": f"above {r.arg}",
                "allowed": "not an allowed value", "regex": f"not matching {r.arg!r}"}[r.kind]
        return RuleResult(r.kind, str(r.column), self.count == 0, self.count,
                          f"{rows_word(self.count)} {what}" if self.count else "ok",
                          self.samples, describe(r))


def check_table(table: Table, rules: list[Rule], pattern: str) -> FileReport:
    """Evaluate ``rules`` on one table in one streaming pass."""
    import pyarrow as pa

    schema = table.schema
    report = FileReport(table.name, pattern, None)
    row_rules: list[_RowRule] = []
    uniques: list[Rule] = []
    nulls_needed: list[Rule] = []
    for r in rules:
        cols = [] if r.column is None else list(r.column) if isinstance(r.column, tuple) \
            else [r.column]
        missing = [c for c in cols if c not in schema.names]
        if missing:
            report.results.append(RuleResult(r.kind, _col(r), False, 0,
                                             f"column {missing[0]!r} does not exist",
                                             describe=describe(r)))
            continue
        if r.kind == "schema":
            report.results.append(_schema_result(r, schema))
        elif r.kind in ("not_null", "min", "max", "allowed", "regex"):
            row_rules.append(_RowRule(r, schema.field(r.column).type))
        elif r.kind == "unique":
            uniques.append(r)
        elif r.kind in ("max_null_fraction", "rows"):
            nulls_needed.append(r)
    key_cols = sorted({c for r in uniques for c in _cols(r)})
    needed = sorted({r.rule.column for r in row_rules} | set(key_cols))  # type: ignore[misc]
    nulls = {n: 0 for n in schema.names}
    kept: list[pa.Table] = []
    rows = 0
    columns = needed if not any(r.kind == "max_null_fraction" for r in nulls_needed) else None
    if needed or columns is None or table.num_rows is None:
        for chunk in table.chunks(columns):
            for name in chunk.column_names:
                nulls[name] += chunk[name].null_count
            for rr in row_rules:
                rr.update(chunk, rows)
            if key_cols:
                kept.append(chunk.select(key_cols))
            rows += chunk.num_rows
    else:
        rows = table.num_rows
    report.rows = rows
    report.results += [rr.result() for rr in row_rules]
    keys = pa.concat_tables(kept) if kept else None
    for r in uniques:
        report.results.append(_unique_result(r, keys))
    for r in nulls_needed:
        report.results.extend(_count_results(r, rows, nulls))
    return report


def _cols(r: Rule) -> list[str]:
    return list(r.column) if isinstance(r.column, tuple) else [r.column] if r.column else []


def _col(r: Rule) -> str | None:
    return "+".join(r.column) if isinstance(r.column, tuple) else r.column


def _schema_result(r: Rule, schema: pa.Schema) -> RuleResult:
    want, extra = r.arg
    problems = []
    for name, typ in want.items():
        if name not in schema.names:
            problems.append(f"missing column {name}")
        elif not type_matches(typ, schema.field(name).type):
            problems.append(f"{name} is {schema.field(name).type}, expected {typ}")
    if not extra:
        problems += [f"unexpected column {n}" for n in schema.names if n not in want]
    return RuleResult("schema", None, not problems, len(problems),
                      "; ".join(problems) if problems else "ok",
                      describe=f"schema ({len(want)} columns{'' if extra else ', no others'})")


def _unique_result(r: Rule, keys: pa.Table | None) -> RuleResult:
    import pyarrow.compute as pc

    from gitml.tabular.stats import plain

    cols = _cols(r)
    if keys is None or keys.num_rows == 0:
        return RuleResult("unique", _col(r), True, 0, "ok", describe=describe(r))
    t = keys.select(cols)
    g = t.group_by(cols).aggregate([(cols[0], "count", pc.CountOptions(mode="all"))])
    cnt = f"{cols[0]}_count"
    dup = g.filter(pc.greater(g[cnt], 1))
    if dup.num_rows == 0:
        return RuleResult("unique", _col(r), True, 0, "ok", describe=describe(r))
    rows = pc.sum(dup[cnt]).as_py()
    top = dup.sort_by([(cnt, "descending")]).slice(0, SAMPLES).to_pylist()
    samples = [{**{c: plain(row[c]) for c in cols}, "count": row[cnt]} for row in top]
    return RuleResult("unique", _col(r), False, rows,
                      f"{dup.num_rows:,} value(s) appear more than once ({rows_word(rows)})",
                      samples, describe(r))


def _count_results(r: Rule, rows: int, nulls: dict[str, int]) -> list[RuleResult]:
    if r.kind == "rows":
        lo, hi = r.arg
        bad = (lo is not None and rows < lo) or (hi is not None and rows > hi)
        bounds = " and ".join(x for x in (f"at least {lo:,}" if lo is not None else "",
                                          f"at most {hi:,}" if hi is not None else "") if x)
        return [RuleResult("rows", None, not bad, rows,
                           f"{rows_word(rows)}, expected {bounds}" if bad else rows_word(rows),
                           describe=describe(r))]
    cols = [r.column] if r.column else list(nulls)
    out = []
    for c in cols:
        frac = nulls[c] / rows if rows else 0.0
        ok = frac <= r.arg
        out.append(RuleResult("max_null_fraction", c, ok, nulls[c],
                              f"{frac:.2%} null ({rows_word(nulls[c])})" if not ok
                              else f"{frac:.2%} null",
                              describe=f"{c} nulls <= {r.arg:.2%}"))
    if r.column is None:  # a table-wide limit: one line when every column keeps it
        bad = [x for x in out if not x.ok]
        worst = max((nulls[c] for c in cols), default=0)
        return bad or [RuleResult("max_null_fraction", None, True, worst, "ok",
                                  describe=f"nulls <= {r.arg:.2%} in every column")]
    return out


def _synth_result(repo: Repo, rel: str, r: Rule) -> RuleResult:
    """A synthetic table's recorded report (``meta.synth``) against the rule's minimums."""
    from gitml.tabular.synth.lineage import gate

    problems = gate(repo, rel, dict(r.arg))
    return RuleResult("synth", None, not problems, len(problems),
                      "; ".join(problems) if problems else "ok", describe=describe(r))


def run_checks(repo: Repo, targets: list[str] | None = None,
               project: dict[str, Any] | None = None) -> CheckReport:
    """Run every check declared in ``gitml.yaml`` (or those covering ``targets``).

    Raises :class:`FormatError` for a rule that does not parse; a table that cannot be
    read is a clear :class:`GitmlError` too.
    """
    from gitml import project as project_mod
    from gitml.readapi import RevReader
    from gitml.tabular.io import open_table
    from gitml.tracked import to_rel

    doc = project if project is not None else project_mod.load(repo)
    plan: list[Target] = parse(doc.get("checks"))
    wanted = [to_rel(repo.root, t) for t in targets] if targets else None
    report = CheckReport()
    with RevReader(repo) as reader:
        todo: list[FileReport | tuple[Target, Table]] = []  # in the order of the plan
        for target in plan:
            paths = _candidates(repo, target.pattern)
            if wanted is not None:
                paths = [p for p in paths if any(p == w or p.startswith(w + "/")
                                                 or w in (".", "") for w in wanted)]
                if not paths:
                    continue
            if not paths:
                todo.append(FileReport(target.pattern, target.pattern, None, [
                    RuleResult("exists", None, False, 0, "no data matches this target",
                               describe="exists")]))
                continue
            for rel in paths:
                # a table that cannot be read is bad input (exit 2), not a failed rule
                table = open_table(os.path.relpath(repo.abspath(rel)), repo, reader)
                table.name = rel
                check_values(target.pattern, target.rules, table.schema, rel)  # footer only
                todo.append((target, table))
        for item in todo:  # rows are read only once every rule fits its column
            if isinstance(item, FileReport):
                report.files.append(item)
                continue
            target, table = item
            fr = check_table(table, [r for r in target.rules if r.kind != "synth"],
                             target.pattern)
            fr.results += [_synth_result(repo, table.name, r) for r in target.rules
                           if r.kind == "synth"]
            report.files.append(fr)
    return report
