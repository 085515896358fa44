"""``gitml exp run``: one experiment = params changed, the pipeline run in a worktree, the
result committed on a branch.

Order of effects, each safe to interrupt:

1. check the overrides and the name against the workspace (bad input: nothing made);
2. snapshot the workspace's Git-tracked files (a temporary index; the user's untouched);
3. reserve ``.gitml/worktrees/<name>`` (a lock), ``git worktree add`` the snapshot, edit
   the params there, check the tracked data out of the shared store, ``repro``;
4. stage and commit there (parent: the base commit, not the snapshot), then create the
   branch, the ``refs/gitml/exps/`` entry and drop the queue entry in one ref transaction;
5. remove the worktree. A kill before 4 leaves no ref; the worktree is recovered later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.errors import BadInputError, GitError, GitmlError
from gitml.experiments import overrides as ov
from gitml.experiments import refs
from gitml.experiments.preflight import check_identity
from gitml.experiments.worktrees import Worktree, recover, snapshot
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.pipeline.reproduce import Event

Say = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class Options:
    """How to run: stages (``targets``), ``force``, the run cache, keeping failures."""

    targets: list[str] = field(default_factory=list)
    force: bool = False
    run_cache: bool = True
    keep_failed: bool = False
    stream_fd: int | None = None  # where stage output goes (None: stdout); not queued
    pull: bool = False  # fetch missing inputs and outputs from the default remote first
    allow_empty: bool = False  # commit a run in which no stage ran
    remote_runs: str | None = None  # also look for run-cache entries there; not queued

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"targets": self.targets, "force": self.force,
                             "run_cache": self.run_cache, "keep_failed": self.keep_failed}
        d.update({k: True for k in ("pull", "allow_empty") if getattr(self, k)})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Options:
        return cls([str(t) for t in d.get("targets") or []], bool(d.get("force")),
                   bool(d.get("run_cache", True)), bool(d.get("keep_failed")),
                   pull=bool(d.get("pull")), allow_empty=bool(d.get("allow_empty")))


@dataclass
class ExpResult:
    """What one run did: ``status`` is done, failed, empty (no stage ran: nothing of its
    own to record) or skipped. ``failed_outputs``: Git-kept files a failed stage wrote."""

    name: str
    status: str
    base: str
    overrides: list[ov.Override]
    commit: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    log: str = ""
    failed_outputs: list[str] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)  # a run elsewhere: failures
    phases: dict[str, float] = field(default_factory=dict)  # a run elsewhere: seconds per step

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "status": self.status, "base": self.base,
                             "commit": self.commit,
                             "overrides": [str(o) for o in self.overrides],
                             "metrics": self.metrics, "seconds": round(self.seconds, 3)}
        if self.error:
            d["error"] = self.error
        if self.log:
            d["log"] = self.log
        if self.failed_outputs:
            d["failed_outputs"] = self.failed_outputs
        if self.events:
            d["events"] = self.events
        if self.phases:
            d["phases"] = self.phases
        return d


@dataclass
class Base:
    sha: str
    tree: str
    label: str  # branch name, or a short SHA when detached


def head(repo: Repo) -> Base:
    out = gitio.run(repo.root, "rev-parse", "-q", "HEAD^{commit}", "HEAD^{tree}",
                    "--abbrev-ref", "HEAD", check=False).decode().split()
    if len(out) < 3 or not all(c in "0123456789abcdef" for c in out[0] + out[1]):
        raise BadInputError("the repository has no commit yet: commit your project first "
                            "(experiments branch from HEAD)")
    return Base(out[0], out[1], out[2] if out[2] != "HEAD" else out[0][:7])


def extra_paths(repo: Repo, overrides: list[ov.Override]) -> list[str]:
    """Params files named by overrides that Git does not track yet: carried along."""
    files = sorted({o.file for o in overrides})
    known = set(gitio.tracked(repo.root, files)) if files else set()
    return [f for f in files if f not in known]


def start_commit(repo: Repo, base: Base, overrides: list[ov.Override], message: str,
                 say: Say = _quiet) -> str:
    """The commit a run starts from: HEAD plus the workspace's uncommitted edits, tracked
    data included (stored now, carried by its new pointer; the workspace keeps its own)."""
    from gitml.experiments.preflight import changed_data
    from gitml.pointer import SUFFIX

    blobs = changed_data(repo)
    if blobs:
        paths = ", ".join(p[:-len(SUFFIX)] for p in sorted(blobs))
        say(f"Carrying changed tracked data into the experiment: {paths} (stored; your "
            "workspace keeps it uncommitted)")
    tree = snapshot(repo, extra_paths(repo, overrides), blobs)
    return base.sha if tree == base.tree else refs.commit_tree(repo, tree, base.sha, message)


def run_one(repo: Repo, overrides: list[ov.Override], *, name: str | None = None,
            options: Options | None = None, stream: bool = True,
            on_event: Callable[[Event], None] | None = None, say: Say = _quiet) -> ExpResult:
    """Run one experiment from HEAD plus the workspace's uncommitted edits."""
    options = options or Options()
    recover(repo)
    ov.check(repo.root, overrides)  # bad input: nothing made yet
    check_pipeline(repo, options)
    base = head(repo)
    check_identity(repo)
    taken = refs.listing(repo)
    if name is not None:
        refs.check_name(repo, name, taken)
    start = start_commit(repo, base, overrides, "gitml: workspace snapshot for an experiment",
                         say)
    busy: set[str] = set()
    while True:
        chosen = name or refs.generated_names(taken, 1, busy=busy)[0]
        wt = Worktree(repo, chosen)
        if wt.reserve():
            # another run may have finished under this name since we listed the branches
            if not gitio.run(repo.root, "rev-parse", "--verify", "-q",
                             f"{refs.HEADS}{chosen}", check=False).strip():
                break
            wt.release()
            if name is not None:
                raise BadInputError(f"branch {name!r} already exists")
        elif name is not None:
            raise BadInputError(f"experiment {name!r} is already running")
        busy.add(chosen)
    return execute(repo, wt, start, base, overrides, options, stream=stream,
                   on_event=on_event, say=say)


def execute(repo: Repo, wt: Worktree, start: str, base: Base, overrides: list[ov.Override],
            options: Options, *, queued: str | None = None, stream: bool = True,
            on_event: Callable[[Event], None] | None = None, say: Say = _quiet) -> ExpResult:
    """Run a reserved experiment in its worktree and record the result; always releases
    the worktree. ``queued``: the queue entry's commit (dropped with the result)."""
    from gitml import faults

    name = wt.name
    what = ", ".join(str(o) for o in overrides) or "no param changes"
    say(f"Experiment {name} from {base.label} ({base.sha[:7]}): {what}")
    t0 = time.monotonic()
    result = ExpResult(name, "failed", base.sha, overrides)
    wt_repo: Repo | None = None
    try:
        wt_repo = wt.create(start)
        faults.point("exp.worktree")
        files = ov.apply(wt.path, overrides)
        _checkout(wt_repo, say)
        ran = _repro(wt_repo, options, stream, on_event)
        faults.point("exp.ran")
        changed, error = ran.changed, ran.error
        result.status = "failed" if error else "done" if ran.produced else "empty"
        result.error, result.log = error, ran.log
        result.failed_outputs = ran.failed_outputs
        result.metrics = {p: m for p, m in _metrics(wt_repo).items()
                          if p not in ran.failed_outputs}
        result.seconds = time.monotonic() - t0
        if (error and not options.keep_failed) or (
                result.status == "empty" and not options.allow_empty):
            if queued:
                refs.update(repo, [f"delete {refs.QUEUE}{name} {queued}"])
            return result
        result.commit = _commit(repo, wt, base, result, [*files, *changed])
        faults.point("exp.committed")
        lines = [f"create {refs.HEADS}{name} {result.commit}",
                 f"update {refs.EXPS}{name} {result.commit}"]
        if queued:
            lines.append(f"delete {refs.QUEUE}{name} {queued}")
        try:
            refs.update(repo, lines)
        except GitError:
            raise GitmlError(f"could not create branch {name!r} (did it appear meanwhile?); "
                             f"the result is commit {result.commit}: "
                             f"git branch <name> {result.commit[:12]}") from None
        return result
    finally:
        if wt_repo is not None:
            wt_repo.close()
        wt.release()


def _checkout(wt_repo: Repo, say: Say) -> None:
    """Tracked data (inputs and the last outputs) from the shared store into the worktree;
    what is missing is left to the pipeline (a stage whose output is missing runs)."""
    from gitml.checkout import CheckoutIncomplete

    try:
        wt_repo.checkout()
    except CheckoutIncomplete as e:
        say(f"warning: {e}")


@dataclass
class _Ran:
    changed: list[str] = field(default_factory=list)  # files to commit
    error: str = ""
    log: str = ""  # captured output of failed stages
    produced: bool = False  # a stage ran or was restored from the run cache
    failed_outputs: list[str] = field(default_factory=list)


def _repro(wt_repo: Repo, options: Options, stream: bool,
           on_event: Callable[[Event], None] | None) -> _Ran:
    from gitml.pipeline.reproduce import ReproInterrupted, StageFailed, repro

    try:
        res = repro(wt_repo, options.targets or None, force=options.force,
                    run_cache=options.run_cache, pull=options.pull, stream=stream,
                    stream_fd=options.stream_fd, on_event=on_event,
                    remote_runs=options.remote_runs)
    except StageFailed as e:
        log = "".join(s.log or "" for s in e.result.stages if s.action == "failed")
        return _Ran(e.result.changed, str(e), log, bool(e.result.ran or e.result.restored),
                    _failed_outputs(wt_repo, e.result.failed))
    except ReproInterrupted:
        raise
    except GitmlError as e:  # the pipeline could not start (a queued run's gitml.yaml)
        return _Ran(error=str(e))
    return _Ran(res.changed, produced=bool(res.ran or res.restored))


def _failed_outputs(wt_repo: Repo, stages: list[str]) -> list[str]:
    """Git-kept outputs (metrics, plots) that failed stages left changed in the worktree."""
    from gitml.pipeline.loader import load

    pipe = load(wt_repo)
    paths = [o.path for n in stages for o in pipe.stages[n].outs if not o.cache]
    if not paths:
        return []
    out = gitio.run(wt_repo.root, "status", "--porcelain", "-z", "--untracked-files=all",
                    "--", *[":(literal)" + p for p in paths], check=False)
    changed = {rec[3:] for rec in out.decode(errors="surrogateescape").split("\0") if rec}
    return [p for p in paths if p in changed]


def check_pipeline(repo: Repo, options: Options) -> None:
    """Fail before anything is made when the workspace's pipeline cannot load, or (without
    ``--pull``) its tracked inputs are not in the store."""
    import os

    if os.path.exists(os.path.join(repo.root, "gitml.yaml")):
        from gitml.pipeline.loader import load
        from gitml.pipeline.preflight import check_stored_inputs

        pipe = load(repo)
        names = pipe.select(options.targets or None, False)
        if not options.pull:
            check_stored_inputs(repo, pipe, names)


def _metrics(wt_repo: Repo) -> dict[str, dict[str, Any]]:
    from gitml.metrics import metrics_show

    try:
        return metrics_show(repo=wt_repo, strict=False)
    except GitmlError:
        return {}


def headline(metrics: dict[str, dict[str, Any]], limit: int = 4, more: bool = True) -> str:
    """``val.acc=0.91, val.loss=0.2``: the first metrics, for messages."""
    from gitml.compare import fmt_value

    items = [f"{k}={fmt_value(v, 4)}" for data in metrics.values() for k, v in data.items()]
    more_text = f", ... ({len(items) - limit} more)" if more and len(items) > limit else ""
    return ", ".join(items[:limit]) + more_text


def _commit(repo: Repo, wt: Worktree, base: Base, result: ExpResult, paths: list[str]) -> str:
    import os

    gitio.run(wt.path, "add", "-u")
    present = sorted({p for p in paths if os.path.lexists(os.path.join(wt.path, p))})
    if present:
        gitio.run(wt.path, "add", "--", *present)
    tree = gitio.run(wt.path, "write-tree").decode().strip()
    params = ", ".join(str(o) for o in result.overrides) or "no param changes"
    scores = headline(result.metrics)
    failed = result.status == "failed"
    mark = {"failed": " [failed]", "empty": " [empty]"}.get(result.status, "")
    subject = f"{result.name}{mark}: {params}"
    if scores and result.status == "done":
        subject += f" -> {headline(result.metrics, 1, more=False)}"
    body = [f"Experiment {result.name}, run by gitml from {base.label} ({base.sha[:7]}).",
            f"Params: {params}"]
    if scores:
        body.append(f"Metrics: {scores}")
    if failed:
        body.append(f"Error: {result.error}")
    if result.status == "empty":
        body.append("No stage ran: the metrics are those it started from, not its own.")
    trailer = [f"{refs.TRAILER}: {result.name}"]
    if result.status != "done":
        trailer.append(f"{refs.STATUS}: {result.status}")
    trailer += [f"{refs.FAILED_OUTPUT}: {p}" for p in result.failed_outputs]
    trailer += [f"{refs.OVERRIDE}: {o}" for o in result.overrides]
    message = subject + "\n\n" + "\n".join(body) + "\n\n" + "\n".join(trailer) + "\n"
    return refs.commit_tree(repo, tree, base.sha, message)
