"""Why a stage is stale: its lock entry against the workspace, one reason per difference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.pipeline.interp import fmt
from gitml.pipeline.lockfile import HashInfo, LockEntry
from gitml.pipeline.state import ParamMissing, State

if TYPE_CHECKING:
    from gitml.pipeline.schema import Stage
    from gitml.repo import Repo


@dataclass(frozen=True)
class Reason:
    """One difference: ``kind`` is new, cmd, wdir, dep, param, out, always_changed,
    callback, forced or upstream; ``change`` is modified, missing, added, removed or changed."""

    kind: str
    what: str = ""
    change: str = ""
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.kind == "new":
            return "never run (not in gitml.lock)"
        if self.kind in ("cmd", "wdir"):
            return f"{self.kind} changed"
        if self.kind == "always_changed":
            return "always changed"
        if self.kind == "callback":
            return "no deps: a callback stage runs every time"
        if self.kind == "forced":
            return "forced"
        if self.kind == "upstream":
            return f"after upstream {self.what!r}"
        if self.kind == "param":
            if self.change == "changed":
                return f"param {self.what} {fmt(self.old)} -> {fmt(self.new)}"
            if self.change == "added":
                return f"param {self.what} added ({fmt(self.new)})"
            if self.change == "missing":
                return f"param {self.what} missing from {self.new}"
        return f"{self.kind} {self.what} {self.change}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "text": str(self)}
        if self.what:
            d["what"] = self.what
        if self.change:
            d["change"] = self.change
        if self.kind == "param" and self.change in ("changed", "removed"):
            d["old"] = self.old
        if self.kind == "param" and self.change in ("changed", "added"):
            d["new"] = self.new
        return d


@dataclass
class Check:
    """A stage against its lock entry: the reasons, and the inputs as they are now."""

    reasons: list[Reason] = field(default_factory=list)
    deps: dict[str, HashInfo] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # deps and params that do not exist


def check(stage: Stage, entry: LockEntry | None, state: State) -> Check:
    """Compare ``stage`` with its lock entry (None: never run)."""
    c = Check()
    if entry is None:
        c.reasons.append(Reason("new"))
    elif tuple(entry.cmd) != stage.cmd:
        c.reasons.append(Reason("cmd", change="changed", old=list(entry.cmd),
                                new=list(stage.cmd)))
    elif entry.wdir != stage.wdir:
        c.reasons.append(Reason("wdir", change="changed", old=entry.wdir, new=stage.wdir))
    if stage.always_changed:
        c.reasons.append(Reason("always_changed"))
    elif stage.is_callback:
        c.reasons.append(Reason("callback"))
    _deps(stage, entry, state, c)
    _params(stage, entry, state, c)
    if entry is not None:  # a stage never run is stale for that reason alone
        _outs(stage, entry, state, c)
    return c


def _deps(stage: Stage, entry: LockEntry | None, state: State, c: Check) -> None:
    old = entry.deps if entry else {}
    for dep in stage.deps:
        info = state.info(dep)
        if info is None:
            c.missing.append(f"dep {dep} does not exist")
            if entry is not None:
                c.reasons.append(Reason("dep", dep, "missing"))
            continue
        c.deps[dep] = info
        if entry is None:
            continue
        if dep not in old:
            c.reasons.append(Reason("dep", dep, "added"))
        elif old[dep].oid != info.oid:
            c.reasons.append(Reason("dep", dep, "modified"))
    for dep in old:
        if dep not in stage.deps and entry is not None:
            c.reasons.append(Reason("dep", dep, "removed"))


def _params(stage: Stage, entry: LockEntry | None, state: State, c: Check) -> None:
    gone: set[tuple[str, str | None]] = set()
    for ref in stage.params:
        try:
            values = state.param_values(ref)
        except ParamMissing as e:
            gone.add((ref.file, None if e.key is None else ref.key))
            c.missing.append(str(e))
            if entry is not None:
                c.reasons.append(Reason("param", ref.key or ref.file, "missing", new=ref.file))
            continue
        c.params.setdefault(ref.file, {}).update(values)
    if entry is None:
        return
    for file in sorted(set(c.params) | set(entry.params)):
        now, was = c.params.get(file, {}), entry.params.get(file, {})
        for key in sorted(set(now) | set(was)):
            if key in now and key in was:
                if now[key] != was[key] or type(now[key]) is not type(was[key]):
                    c.reasons.append(Reason("param", key, "changed", was[key], now[key]))
            elif key in now:
                c.reasons.append(Reason("param", key, "added", new=now[key]))
            elif not _under_missing(file, key, gone):
                c.reasons.append(Reason("param", key, "removed", old=was[key]))


def _under_missing(file: str, key: str, refs: set[tuple[str, str | None]]) -> bool:
    """A removed key already reported as a missing param (or whose file is missing)."""
    return any(f == file and (k is None or key == k or key.startswith(k + "."))
               for f, k in refs)


def _outs(stage: Stage, entry: LockEntry, state: State, c: Check) -> None:
    old = entry.outs
    for o in stage.outs:
        info = state.info(o.path)
        if info is None:
            c.reasons.append(Reason("out", o.path, "missing"))
        elif o.path not in old:
            c.reasons.append(Reason("out", o.path, "added"))
        elif old[o.path].oid != info.oid:
            c.reasons.append(Reason("out", o.path, "modified"))
        elif (o.path not in entry.uncached) != o.cache:
            c.reasons.append(Reason("out", o.path, "changed", old="cache", new="cache"))
    paths = {o.path for o in stage.outs}
    for p in old:
        if p not in paths:
            c.reasons.append(Reason("out", p, "removed"))


# -- `gitml status` -------------------------------------------------------------------------
@dataclass
class StageStatus:
    name: str
    reasons: list[Reason]

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "reasons": [r.to_dict() for r in self.reasons]}

    def lines(self) -> list[str]:
        return [f"{self.name}: {r}" for r in self.reasons]


@dataclass
class PipelineStatus:
    """Stale stages with their reasons; ``total`` stages were checked (frozen ones are not)."""

    stale: list[StageStatus]
    total: int

    @property
    def ok(self) -> bool:
        return not self.stale

    def to_dict(self) -> dict[str, Any]:
        return {"stages": self.total, "stale": [s.to_dict() for s in self.stale]}

    def lines(self) -> list[str]:
        """``train: param train.lr 0.1 -> 0.01``, one line per reason, indented."""
        return ["  " + line for s in self.stale for line in s.lines()]

    def json_items(self) -> list[dict[str, Any]]:
        """Items appended to ``gitml status --json`` (data items have a ``path`` instead)."""
        return [{"kind": "stage", "state": "stale", **s.to_dict()} for s in self.stale]


def status(repo: Repo, targets: list[str] | None = None) -> PipelineStatus:
    """Which stages ``gitml repro`` would run because of their own changes, and why."""
    from gitml.pipeline import lockfile
    from gitml.pipeline.loader import load

    pipe = load(repo)
    names = pipe.select(targets)
    locked = lockfile.load(repo.root)
    state = State(repo)
    stale = []
    try:
        for n in names:
            stage = pipe.stages[n]
            if stage.frozen:
                continue
            reasons = check(stage, locked.get(n), state).reasons
            if reasons:
                stale.append(StageStatus(n, reasons))
    finally:
        state.save()
    return PipelineStatus(stale, len(names))
