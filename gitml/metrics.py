"""Metrics at any revision: show one or many revisions, diff two, judge regressions.

Python API (plain dicts out)::

    from gitml import api
    api.metrics_show()                       # {"metrics.json": {"acc": 0.91, ...}} (workspace)
    api.metrics_show(rev="exp-3")
    api.metrics_show(revs=["main", "exp-3"]) # {"main": {path: {key: value}}, "exp-3": ...}
    api.metrics_diff("main", "exp-3")        # {"a", "b", "changes": [...], "regressions", ...}

Every revision is read through one ``git cat-file --batch`` process (see revfiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitml import compare, gitio
from gitml.compare import MetricChange
from gitml.errors import BadInputError, FormatError
from gitml.metricspec import Declared, Rule, match_path
from gitml.readapi import RevReader
from gitml.repo import Repo
from gitml.revfiles import WORKSPACE, Loader, Rev, Snapshot, prefix_targets, resolve, select


class UnreadableError(FormatError):
    """A metrics or params file did not parse and ``strict`` was asked for (exit 2)."""


@dataclass
class DiffReport:
    kind: str
    a: str
    b: str
    changes: list[MetricChange]
    warnings: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricChange]:
        return [c for c in self.changes if c.regressed]

    @property
    def has_verdicts(self) -> bool:
        return any(c.rule is not None for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"a": self.a, "b": self.b,
                             "changes": [c.to_dict() for c in self.changes],
                             "warnings": self.warnings}
        if self.kind == "metrics":
            d["regressions"] = len(self.regressions)
        return d


def show_snapshots(kind: str, revs: list[str] | None = None, *, all_branches: bool = False,
                   all_tags: bool = False, branches: list[str] | None = None,
                   targets: list[str] | None = None, strict: bool = False,
                   repo: Repo | None = None) -> list[Snapshot]:
    """One snapshot per selected revision (none selected: the workspace)."""
    repo = repo or Repo()
    pats = prefix_targets(repo, targets) if targets else None
    with RevReader(repo) as reader, Loader(repo, kind, pats, reader) as loader:
        chosen = select(repo, reader, list(revs or []), all_branches=all_branches,
                        all_tags=all_tags, branches=branches)
        snaps = [loader.snapshot(r) for r in chosen]
    reader.announce()
    _check_targets(kind, pats, snaps)
    _check_strict(snaps, strict)
    return snaps


def diff_report(kind: str, a: str | None = None, b: str | None = None, *,
                targets: list[str] | None = None, include_unchanged: bool = False,
                strict: bool = False, repo: Repo | None = None) -> DiffReport:
    """Changes from ``a`` (default HEAD) to ``b`` (default: the workspace)."""
    repo = repo or Repo()
    if a is None and b is not None:
        raise BadInputError("give the older revision first")
    # Before the first commit, the default baseline is nothing: every value is new.
    unborn = a is None and gitio.no_commit_yet(repo.root)
    a = a or "HEAD"
    pats = prefix_targets(repo, targets) if targets else None
    with RevReader(repo) as reader, Loader(repo, kind, pats, reader) as loader:
        ra = Rev(WORKSPACE) if a == WORKSPACE else Rev(a) if unborn else resolve(reader, a)
        rb = Rev(WORKSPACE) if b in (None, WORKSPACE) else resolve(reader, b)
        old = Snapshot(ra) if unborn else loader.snapshot(ra)
        new = loader.snapshot(rb)
    reader.announce()
    snaps = [old, new]
    _check_targets(kind, pats, snaps)
    _check_strict(snaps, strict)

    judges: dict[str, list[Declared]] = {}

    def rule_for(path: str, key: str) -> Rule:
        # The baseline's gitml.yaml sets the bar (a branch cannot loosen its own gate);
        # metrics it does not judge take the new side's settings.
        found = judges.get(path)
        if found is None:
            found = judges[path] = [j for j in (s.declared.for_path(path) for s in (old, new)
                                                if s.declared is not None) if j is not None]
        for judge in found:
            rule = judge.rule_for(path, key)
            if rule is not None:
                return rule
        return Rule()

    changes = compare.diff(old, new, rule_for if kind == "metrics" else None,
                           include_unchanged=include_unchanged)
    warnings = _warnings(snaps)
    if unborn:
        warnings.insert(0, f"the repository has no commit yet: every {kind[:-1]} value is new")
    return DiffReport(kind, ra.label, rb.label, changes, warnings)


def _warnings(snaps: list[Snapshot]) -> list[str]:
    out: list[str] = []
    for s in snaps:
        out.extend(w for w in s.warnings() if w not in out)
    return out


def _check_targets(kind: str, pats: list[str] | None, snaps: list[Snapshot]) -> None:
    for p in pats or []:
        if not any(match_path(p, f) for s in snaps for f in s.files):
            where = ", ".join(s.rev.label for s in snaps[:5]) + (" ..." if len(snaps) > 5 else "")
            raise BadInputError(f"{p}: no such {kind} file at {where}")


def _check_strict(snaps: list[Snapshot], strict: bool) -> None:
    if strict:
        warnings = _warnings(snaps)
        if warnings:
            more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
            where, _, problem = warnings[0].partition(": ")
            raise UnreadableError(where, problem + more)


def snapshot_dict(s: Snapshot) -> dict[str, Any]:
    """The JSON form of one revision: its commit and each file's data or error."""
    files = {}
    for p, f in s.files.items():
        fd = f.to_dict()
        if f.data is not None:
            fd["data"] = {k: compare.json_number(v) for k, v in f.data.items()}
        files[p] = fd
    d: dict[str, Any] = {"rev": s.rev.sha, "files": files}
    if s.error:
        d["error"] = s.error
    errors = s.warnings()
    if errors:
        d["errors"] = errors
    return d


def _values(s: Snapshot, strict: bool) -> dict[str, dict[str, Any]]:
    if strict:
        _check_strict([s], True)
    return {p: dict(f.data) for p, f in s.files.items() if f.data is not None}


def _show(kind: str, rev: str | None, revs: list[str] | None, all_branches: bool,
          all_tags: bool, branches: list[str] | None, targets: list[str] | None, strict: bool,
          repo: Repo | None) -> dict[str, Any]:
    many = revs is not None or all_branches or all_tags or bool(branches)
    if many and rev is not None:
        raise BadInputError("give either rev or revs, not both")
    chosen = list(revs or []) if many else [rev or WORKSPACE]
    snaps = show_snapshots(kind, chosen, all_branches=all_branches, all_tags=all_tags,
                           branches=branches, targets=targets, repo=repo)
    if not many:
        return _values(snaps[0], strict)
    return {s.rev.label: _values(s, strict) for s in snaps}


def metrics_show(rev: str | None = None, *, revs: list[str] | None = None,
                 all_branches: bool = False, all_tags: bool = False,
                 branches: list[str] | None = None, targets: list[str] | None = None,
                 strict: bool = True, repo: Repo | None = None) -> dict[str, Any]:
    """Metrics at ``rev`` (None: the workspace) as ``{path: {dotted.key: value}}``.

    With ``revs``, ``all_branches``, ``all_tags`` or ``branches`` (globs), one such dict per
    revision, keyed by its name. A file that does not parse raises FormatError naming
    file@rev; with ``strict=False`` it is left out.
    """
    return _show("metrics", rev, revs, all_branches, all_tags, branches, targets, strict, repo)


def metrics_diff(a: str | None = None, b: str | None = None, *,
                 targets: list[str] | None = None, all: bool = False, strict: bool = False,
                 repo: Repo | None = None) -> dict[str, Any]:
    """Metric changes from ``a`` (default HEAD) to ``b`` (default: the workspace).

    Returns ``{"a", "b", "changes": [{"path", "key", "kind", "old", "new", "change",
    "percent", "verdict", ...}], "regressions": n, "warnings": [...]}``; ``all`` keeps
    unchanged metrics. With ``strict``, an unreadable file raises instead of warning.
    """
    return diff_report("metrics", a, b, targets=targets, include_unchanged=all, strict=strict,
                       repo=repo).to_dict()
