"""``gitml exp show / diff / best``: params and metrics of HEAD and every experiment.

One ``git for-each-ref`` lists experiments, queued runs and branches; one ``git cat-file
--batch`` (the metrics module's :class:`~gitml.revfiles.Loader`) reads every revision's
files, parsing each distinct blob once. 200 experiments cost two processes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.compare import ABSENT, is_number, same
from gitml.errors import BadInputError, GitmlError
from gitml.experiments import refs
from gitml.metricspec import Rule
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.metrics import DiffReport

Column = tuple[str, str, str]  # (kind, path, key)


@dataclass
class Row:
    """HEAD (``type`` baseline), an experiment, or a queued run."""

    name: str
    type: str  # baseline | experiment | queued
    status: str  # baseline | done | failed | queued
    rev: str | None = None
    created: int = 0
    base: str = ""
    overrides: list[str] = field(default_factory=list)
    values: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"metrics": {}, "params": {}})
    errors: list[str] = field(default_factory=list)
    failed_outputs: list[str] = field(default_factory=list)

    @property
    def ranked(self) -> bool:
        """A finished experiment: failed and empty runs are never ranked."""
        return self.type == "experiment" and self.status == "done"

    def get(self, col: Column) -> Any:
        kind, path, key = col
        return self.values[kind].get(path, {}).get(key, _ABSENT)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "status": self.status,
                             "rev": self.rev, "created": self.created or None}
        if self.base:
            d["base"] = self.base
        if self.overrides:
            d["overrides"] = self.overrides
        if self.type != "queued":
            d["metrics"] = self.values["metrics"]
            d["params"] = self.values["params"]
        if self.errors:
            d["errors"] = self.errors
        if self.failed_outputs:
            d["failed_outputs"] = self.failed_outputs
        return d


_ABSENT: Any = ABSENT  # the sentinel fmt_value prints as '-'


@dataclass
class Table:
    rows: list[Row]
    columns: list[Column]
    labels: dict[Column, str]
    rules: dict[Column, Rule]

    @property
    def baseline(self) -> Row:
        return self.rows[0]

    @property
    def experiments(self) -> list[Row]:
        return [r for r in self.rows if r.type == "experiment"]

    @property
    def queued(self) -> list[Row]:
        return [r for r in self.rows if r.type == "queued"]

    def column(self, name: str, kinds: tuple[str, ...] = ("metrics", "params")) -> Column:
        """The column a user means by ``name``: ``key``, ``path:key`` or its label."""
        cols = [c for c in self.columns if c[0] in kinds]
        hits = [c for c in cols if self.labels[c] == name or f"{c[1]}:{c[2]}" == name]
        if not hits:
            hits = [c for c in cols if c[2] == name]
        if len(hits) == 1:
            return hits[0]
        what = "metric" if kinds == ("metrics",) else "metric or param"
        if len(hits) > 1:
            raise BadInputError(f"{name!r} is in several files: "
                                + ", ".join(f"{c[1]}:{c[2]}" for c in hits))
        known = ", ".join(self.labels[c] for c in cols[:12]) or "none"
        raise BadInputError(f"no {what} {name!r} (known: {known})")


def _head_label(repo: Repo, sha: str) -> str:
    """The branch HEAD is on, read from the HEAD file (no process), else a short SHA."""
    from gitml import gitio

    dotgit = os.path.join(repo.root, ".git")
    try:
        if os.path.isdir(dotgit):
            with open(os.path.join(dotgit, "HEAD")) as f:
                text = f.read().strip()
        else:
            text = "ref: " + gitio.run(repo.root, "symbolic-ref", "-q", "HEAD",
                                       check=False).decode().strip()
    except OSError:
        text = ""
    if text.startswith("ref: refs/heads/") and len(text) > len("ref: refs/heads/"):
        return text[len("ref: refs/heads/"):]
    return sha[:7]


def collect(repo: Repo | None = None, *, names: list[str] | None = None,
            experiments: list[refs.Experiment] | None = None) -> Table:
    """HEAD, every experiment (or those in ``names``) and every queued run, with values;
    ``experiments``: these instead (a remote's, from :mod:`gitml.experiments.sharing`)."""
    from gitml.readapi import RevReader
    from gitml.revfiles import Loader, Rev, resolve

    repo = repo or Repo()
    listing = refs.listing(repo) if experiments is None else refs.Listing(experiments, [], {})
    exps = [e for e in listing.experiments if e.commit is not None]
    if names:
        known = {e.name for e in exps}
        for n in names:
            if n not in known:
                raise BadInputError(f"{n!r} is not an experiment")
        exps = [e for e in exps if e.name in names]
    rows: list[Row] = []
    rules: dict[Column, Rule] = {}
    with RevReader(repo) as reader, Loader(repo, "metrics", None, reader) as ml, \
            Loader(repo, "params", None, reader) as pl:
        pl._trees = ml._trees  # trees do not depend on the kind: read each one once
        try:
            head = resolve(reader, "HEAD")
        except GitmlError:
            raise BadInputError("the repository has no commit yet") from None
        revs = [(Row(_head_label(repo, head.sha or ""), "baseline", "baseline", head.sha),
                 head)]
        for e in exps:
            row = Row(e.name, "experiment", e.status, e.commit, e.created, e.base, e.overrides)
            row.failed_outputs = list(e.failed_outputs)
            revs.append((row, Rev(e.name, e.commit, e.tree, explicit=False)))
        for row, rev in revs:
            for kind, loader in (("metrics", ml), ("params", pl)):
                snap = loader.snapshot(rev)
                row.errors.extend(snap.warnings())
                for path, f in snap.files.items():
                    # what a failed stage wrote is kept for a look, never shown as a result
                    if f.data is not None and path not in row.failed_outputs:
                        row.values[kind][path] = f.data
                if kind == "metrics" and row.type == "baseline" and snap.declared is not None:
                    for path, data in row.values["metrics"].items():
                        for key in data:
                            rule = snap.declared.rule_for(path, key)
                            if rule is not None:
                                rules[("metrics", path, key)] = rule
            rows.append(row)
    reader.announce()
    for q in listing.queued:
        rows.append(Row(q.name, "queued", "queued", q.commit, q.created, q.base,
                        [_override_text(d) for d in q.spec.get("overrides", [])]))
    columns: list[Column] = []
    seen: set[Column] = set()
    for kind in ("metrics", "params"):
        for row in rows:
            for path, data in row.values[kind].items():
                for key in data:
                    col = (kind, path, key)
                    if col not in seen:
                        seen.add(col)
                        columns.append(col)
    return Table(rows, columns, _labels(columns), rules)


def _override_text(d: dict[str, Any]) -> str:
    from gitml.experiments.overrides import Override

    try:
        return str(Override.from_dict(d))
    except (KeyError, TypeError):
        return "?"


def _labels(columns: list[Column]) -> dict[Column, str]:
    count: dict[tuple[str, str], int] = {}
    for kind, _path, key in columns:
        count[(kind, key)] = count.get((kind, key), 0) + 1
    return {c: c[2] if count[(c[0], c[2])] == 1 else f"{c[1]}:{c[2]}" for c in columns}


def changed_only(table: Table) -> list[Column]:
    """Columns whose value is not the same in every row (queued runs aside)."""
    rows = [r for r in table.rows if r.type != "queued"]
    out = []
    for col in table.columns:
        vals = [r.get(col) for r in rows]
        first = vals[0]
        if any(v is _ABSENT for v in vals) or not all(same(first, v) for v in vals[1:]):
            out.append(col)
    return out


def sort_rows(table: Table, by: str, order: str | None = None) -> None:
    """Sort the experiments by a metric or param (the baseline stays first); ``order``
    asc/desc, default: best first for a metric with a declared direction, else asc."""
    col = table.column(by)
    if order is None:
        rule = table.rules.get(col)
        order = "desc" if rule is not None and rule.direction == "higher" else "asc"
    present = [r for r in table.experiments if r.ranked and _sortable(r.get(col))]
    absent = [r for r in table.experiments if r not in present]  # failed/empty: last

    def key(r: Row) -> Any:
        v = r.get(col)
        return (0, v) if is_number(v) else (1, str(v))

    present.sort(key=key, reverse=order == "desc")
    table.rows = [table.baseline, *present, *absent, *table.queued]


def _sortable(v: Any) -> bool:
    return v is not _ABSENT and v is not None and not (isinstance(v, float) and math.isnan(v))


@dataclass
class Best:
    """The winning experiment; ``baseline`` is set when HEAD beats every experiment."""

    row: Row
    value: Any
    column: Column
    baseline: Row | None = None
    baseline_value: Any = None


def best(repo: Repo | None = None, metric: str = "", *, maximize: bool | None = None
         ) -> Best:
    """The finished experiment with the highest (``maximize``) or lowest value of
    ``metric``; the direction defaults to the one gitml.yaml declares. Failed and empty
    runs never win."""
    table = collect(repo)
    if not table.experiments:
        raise GitmlError("no experiments yet (run 'gitml exp run')")
    col = table.column(metric, ("metrics",))
    if maximize is None:
        rule = table.rules.get(col)
        if rule is None or rule.direction not in ("higher", "lower"):
            raise BadInputError(f"{table.labels[col]} has no declared direction: "
                                "say --max or --min")
        maximize = rule.direction == "higher"
    scored = [(r, r.get(col)) for r in table.experiments
              if r.ranked and is_number(r.get(col)) and not math.isnan(float(r.get(col)))]
    if not scored:
        raise GitmlError(f"no finished experiment has a number for {table.labels[col]}")
    winner = scored[0]
    for r, v in scored[1:]:  # ties: the earlier experiment wins
        if (v > winner[1]) if maximize else (v < winner[1]):
            winner = (r, v)
    result = Best(winner[0], winner[1], col)
    base = table.baseline.get(col)
    if is_number(base) and not math.isnan(float(base)) and (
            (base > winner[1]) if maximize else (base < winner[1])):
        result.baseline, result.baseline_value = table.baseline, base
    return result


def diff(repo: Repo | None, a: str, b: str | None = None, *, all: bool = False
         ) -> dict[str, DiffReport]:
    """Params and metrics from ``a`` to ``b``; with one name, from the experiment's base
    (labelled with HEAD's branch when HEAD is that base) to it."""
    from gitml.metrics import diff_report

    repo = repo or Repo()
    if b is None:
        listing = refs.listing(repo)
        e = refs.find(listing, a)
        if e is None or not e.commit:
            raise BadInputError(f"{a!r} is not an experiment; give two revisions to compare")
        b = e.name
        a = e.base[:12]
        head = _head_label(repo, "")
        if head and listing.branches.get(head, ("",))[0] == e.base:
            a = head
    return {kind: diff_report(kind, a, b, include_unchanged=all, repo=repo)
            for kind in ("params", "metrics")}
