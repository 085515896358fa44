"""``gitml repro``: run stale stages in order, restore from the run cache, record the lock.

Order of writes for a stage that ran: its outputs are stored (objects flushed), then
their pointers are written, then its ``gitml.lock`` entry, then its run-cache entry.
A failed, interrupted or killed stage records nothing, and the stages before it keep
what they recorded. Hashing, storing and lock writes all happen on the main thread;
worker threads only wait for stage processes (``--jobs``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import faults
from gitml.errors import EXIT_FOUND, EXIT_INTERRUPTED, GitmlError
from gitml.pipeline import lockfile, outputs
from gitml.pipeline.lockfile import HashInfo, LockEntry
from gitml.pipeline.runcache import RunCache, key
from gitml.pipeline.runner import Job, check_not_running
from gitml.pipeline.staleness import Check, Reason, check
from gitml.pipeline.state import State

if TYPE_CHECKING:
    from gitml.pipeline.dag import Pipeline
    from gitml.pipeline.schema import Stage
    from gitml.repo import Repo

_GRACE = 10.0  # seconds a stage gets to stop after SIGINT before SIGKILL


@dataclass
class Event:
    """Progress for a caller: ``kind`` is start, unchanged, frozen, restored, done, failed,
    skipped, or (dry) would-run, would-restore, may-run."""

    kind: str
    stage: str
    cmd: str = ""
    reasons: list[Reason] = field(default_factory=list)
    detail: str = ""


@dataclass
class StageResult:
    """What happened to one stage: ``action`` is an :class:`Event` kind."""

    name: str
    action: str
    cmd: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    returncode: int | None = None
    detail: str = ""
    log: str | None = None  # captured output (stream=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"stage": self.name, "action": self.action, "cmd": self.cmd,
                             "reasons": self.reasons}
        if self.action in ("done", "failed"):
            d["seconds"] = round(self.seconds, 3)
            d["returncode"] = self.returncode
        if self.detail:
            d["detail"] = self.detail
        if self.log is not None:
            d["log"] = self.log
        return d


@dataclass
class ReproResult:
    stages: list[StageResult] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # files to `git add`
    dry: bool = False

    def _names(self, *actions: str) -> list[str]:
        return [s.name for s in self.stages if s.action in actions]

    @property
    def ran(self) -> list[str]:
        return self._names("done")

    @property
    def restored(self) -> list[str]:
        return self._names("restored")

    @property
    def failed(self) -> list[str]:
        return self._names("failed")

    def to_dict(self) -> dict[str, Any]:
        return {"dry": self.dry, "stages": [s.to_dict() for s in self.stages],
                "changed": self.changed}


class StageFailed(GitmlError):
    """A stage failed (exit 1); ``result`` holds what every stage did."""

    exit_code = EXIT_FOUND

    def __init__(self, message: str, result: ReproResult) -> None:
        super().__init__(message)
        self.result = result


class ReproInterrupted(GitmlError):
    """Ctrl-C (exit 130): running stages were stopped and recorded nothing."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, result: ReproResult) -> None:
        super().__init__(message)
        self.result = result


def repro(repo: Repo, targets: list[str] | None = None, *, force: bool = False,
          single_item: bool = False, downstream: bool = False, force_downstream: bool = False,
          keep_going: bool = False, jobs: int = 1, dry: bool = False, run_cache: bool = True,
          pull: bool = False, stream: bool = True, stream_fd: int | None = None,
          on_event: Callable[[Event], None] | None = None,
          remote_runs: str | None = None) -> ReproResult:
    """Bring the pipeline (or ``targets`` and what they depend on) up to date.

    ``force`` runs every selected stage (frozen ones excepted); ``single_item`` runs
    only the targets; ``downstream`` the targets and every stage after them;
    ``force_downstream`` runs every stage after one that ran, changed inputs or not;
    ``keep_going`` carries on with independent stages after a failure; ``jobs`` runs
    independent stages at once; ``dry`` only reports; ``run_cache=False`` always runs
    commands; ``pull`` first fetches the inputs and stored outputs from the default remote.
    ``stream`` sends stage output to the terminal (``stream_fd``, default stdout) instead
    of capturing it in the result. ``remote_runs``: a stage that would run first looks for
    its run-cache entry on that remote too (a worker with an empty store, gitml/experiments/
    worker.py).
    Raises :class:`StageFailed` (exit 1) or :class:`ReproInterrupted` (exit 130).
    """
    from gitml.pipeline import preflight
    from gitml.pipeline.loader import load

    pipe = load(repo)
    names = pipe.select(targets, single_item, downstream)
    if pull and not dry:
        preflight.pull(repo, pipe, names)
    preflight.check_inputs(repo, pipe, names)
    runner = _Runner(repo, pipe, names, force=force, keep_going=keep_going,
                     jobs=max(1, jobs), run_cache=run_cache, stream=stream,
                     stream_fd=stream_fd, on_event=on_event)
    runner.force_downstream = force_downstream
    runner.remote_runs = remote_runs
    if dry:
        return runner.dry()
    with repo.lock():
        return runner.run()


@dataclass
class CommitResult:
    """What ``gitml commit`` recorded: stages whose lock entry it wrote, data paths it
    stored, and files to stage in Git."""

    stages: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def commit(repo: Repo, targets: list[str] | None = None) -> CommitResult:
    """Record what is in the workspace, without running anything (DVC's ``commit``): for a
    stage (named, or owning a target output), store its outputs and write its lock entry
    from its current deps and params, so it is up to date; a tracked path that is no stage
    output is stored as ``gitml add`` does. No targets: every stage that is not up to date,
    and every modified tracked path."""
    from gitml import tracked, workspace
    from gitml.pipeline.loader import load

    pipe = load(repo) if os.path.exists(os.path.join(repo.root, "gitml.yaml")) else None
    names: list[str] = []
    paths: list[str] = []
    for t in targets or []:
        if pipe is not None and (t in pipe.stages or any(s.group == t for s in
                                                         pipe.stages.values())):
            names.extend(pipe.resolve([t]))
            continue
        rel = tracked.to_rel(repo.root, t).removesuffix(".gitml")
        owners = pipe.producers(rel) if pipe is not None else []
        if owners:
            names.extend(owners)
        else:
            paths.append(rel)
    if targets is None:
        names = pipe.order() if pipe is not None else []
        outs = {o.path for s in (pipe.stages.values() if pipe else []) for o in s.outs}
        paths = [s.path for s in workspace.status(repo) if s.state == "modified"
                 and s.path not in outs]
    result = CommitResult()
    with repo.lock():
        runner = _Runner(repo, pipe, list(dict.fromkeys(names)), force=False,  # type: ignore
                         keep_going=False, jobs=1, run_cache=True, stream=False,
                         stream_fd=None, on_event=None) if names else None
        for n in dict.fromkeys(names):
            if runner is not None and runner.commit(pipe.stages[n]):  # type: ignore[union-attr]
                result.stages.append(n)
        if runner is not None:
            result.changed.extend(runner.result.changed)
    if paths:
        for r in workspace.add(repo, paths, quiet=True):
            if r.changed:
                result.data.append(r.path)
                result.changed.append(r.pointer)
    result.changed = list(dict.fromkeys(result.changed))
    return result


class _Runner:
    def __init__(self, repo: Repo, pipe: Pipeline, names: list[str], *, force: bool,
                 keep_going: bool, jobs: int, run_cache: bool, stream: bool,
                 stream_fd: int | None, on_event: Callable[[Event], None] | None) -> None:
        self.repo, self.pipe, self.names = repo, pipe, names
        self.force, self.keep_going, self.jobs = force, keep_going, jobs
        self.use_run_cache, self.stream, self.stream_fd = run_cache, stream, stream_fd
        self.on_event = on_event
        self.result = ReproResult()
        self.outcome: dict[str, str] = {}
        self.lock = lockfile.load(repo.root)
        self.state = State(repo)
        self.cache = RunCache(repo.store)
        self._checked_git = False
        self._reasons: dict[str, list[Reason]] = {}
        self.force_downstream = False
        self.remote_runs: str | None = None

    # -- reporting ---------------------------------------------------------------------
    def _emit(self, kind: str, stage: Stage, reasons: list[Reason] | None = None,
              detail: str = "", job: Job | None = None) -> None:
        reasons = reasons or []
        if self.on_event:
            self.on_event(Event(kind, stage.name, stage.cmd_text, reasons, detail))
        if kind == "start":  # the result comes when it ends
            self._reasons[stage.name] = reasons
            return
        self.outcome[stage.name] = kind
        reasons = reasons or self._reasons.pop(stage.name, [])
        res = StageResult(stage.name, kind, stage.cmd_text, [str(r) for r in reasons],
                          detail=detail)
        if job is not None:
            res.seconds, res.returncode = job.seconds, job.returncode
            if not self.stream:
                res.log = job.log.decode(errors="replace")
        self.result.stages.append(res)

    def _changed(self, paths: list[str]) -> None:
        for p in paths:
            if p not in self.result.changed:
                self.result.changed.append(p)

    # -- dry run -------------------------------------------------------------------------
    def dry(self) -> ReproResult:
        self.result.dry = True
        try:
            for n in self.names:
                stage = self.pipe.stages[n]
                if stage.frozen:
                    self._emit("frozen", stage)
                    continue
                c = check(stage, self.lock.get(n), self.state)
                reasons = c.reasons or ([Reason("forced")] if self.force else [])
                if reasons:
                    kind = "would-restore" if self._cached(stage, c) else "would-run"
                    self._emit(kind, stage, reasons)
                    continue
                ups = [u for u in self.pipe.upstream[n]
                       if self.outcome.get(u) in ("would-run", "would-restore", "may-run")]
                if ups:
                    kind = "would-run" if self.force_downstream else "may-run"
                    self._emit(kind, stage, [Reason("upstream", u) for u in ups])
                else:
                    self._emit("unchanged", stage)
        finally:
            self.state.save()
        return self.result

    def _cached(self, stage: Stage, c: Check) -> list[Any] | None:
        if (not self.use_run_cache or self.force or stage.always_changed
                or stage.is_callback or c.missing):
            return None
        k = key(stage, c.deps, c.params)
        entry = self.cache.get(k)
        if entry is None and self.remote_runs is not None:
            from gitml.remotes.runs import fetch_runs

            fetch_runs(self.repo, [k], self.remote_runs)  # the entry and its objects, if any
            entry = self.cache.get(k)
        return self.cache.restorable(entry, stage) if entry else None

    # -- running -------------------------------------------------------------------------
    def run(self) -> ReproResult:
        check_not_running(self.repo.root, list(self.names))  # a killed run's stage lives on
        selected = set(self.names)
        ups = {n: [u for u in self.pipe.upstream[n] if u in selected] for n in self.names}
        pending = list(self.names)
        running: dict[Future[int], tuple[Job, Check]] = {}
        stop = False
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="stage")
        try:
            while True:
                progressed = True
                while progressed and not stop:
                    progressed = False
                    for n in list(pending):
                        if len(running) >= self.jobs:
                            break
                        if any(u not in self.outcome for u in ups[n]):
                            continue
                        pending.remove(n)
                        progressed = True
                        bad = [u for u in ups[n]
                               if self.outcome[u] in ("failed", "skipped", "not-run")]
                        stage = self.pipe.stages[n]
                        if bad:
                            self._emit("skipped", stage, detail=f"upstream {bad[0]!r} failed")
                            continue
                        try:
                            prepared = self._prepare(stage)
                        except _StageError as e:
                            self._emit("failed", stage, detail=str(e))
                            stop = stop or not self.keep_going
                            continue
                        if prepared is not None:
                            job, c = prepared
                            running[pool.submit(job.execute)] = (job, c)
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    job, c = running.pop(fut)
                    if not self._finish(job, c, fut):
                        stop = stop or not self.keep_going
            for n in pending:
                bad = [u for u in ups[n] if self.outcome.get(u) in ("failed", "skipped")]
                if bad:
                    self._emit("skipped", self.pipe.stages[n],
                               detail=f"upstream {bad[0]!r} failed")
                else:
                    self._emit("not-run", self.pipe.stages[n], detail="stopped after a failure")
        except KeyboardInterrupt:
            self._interrupt(running)
            raise ReproInterrupted(self._interrupted_message(running), self.result) from None
        finally:
            pool.shutdown(wait=True)
            self.state.save()
        self.result.changed = _for_git(self.repo.root, self.result.changed)
        failed = [s for s in self.result.stages if s.action == "failed"]
        if failed:
            raise StageFailed(_failure_message(failed), self.result)
        return self.result

    def _prepare(self, stage: Stage) -> tuple[Job, Check] | None:
        """Decide what to do with a stage whose upstream is settled; a Job when it must run."""
        if stage.frozen:
            self._emit("frozen", stage)
            return None
        c = check(stage, self.lock.get(stage.name), self.state)
        reasons = c.reasons or ([Reason("forced")] if self.force else []) or self._after(stage)
        if not reasons:
            self._emit("unchanged", stage)
            return None
        if c.missing:
            raise _StageError(f"cannot run: {c.missing[0]}")
        if not self._checked_git:
            outputs.check_not_in_git(self.repo, [self.pipe.stages[n] for n in self.names])
            self._checked_git = True
        forced = c.reasons == [] and not self.force  # --force-downstream alone
        restorable = None if forced else self._cached(stage, c)
        if restorable is not None:
            with self.repo.store.lock():
                outputs.clear(self.repo, stage)
                self.state.forget([o.path for o in stage.outs])
                self._changed(self.cache.restore(self.repo, restorable, self.state))
                self._record(stage, c, restorable)
            self._emit("restored", stage, reasons)
            return None
        outputs.clear(self.repo, stage)
        self.state.forget([o.path for o in stage.outs])
        self._emit("start", stage, reasons)
        job = Job(self.repo.root, stage, stream=self.stream, fd=self.stream_fd,
                  prefix=self.jobs > 1)
        return job, c

    def _after(self, stage: Stage) -> list[Reason]:
        """``--force-downstream``: a stage after one that ran (or was restored) runs too."""
        if not self.force_downstream:
            return []
        return [Reason("upstream", u) for u in self.pipe.upstream[stage.name]
                if self.outcome.get(u) in ("done", "restored")]

    def _finish(self, job: Job, c: Check, fut: Future[int]) -> bool:
        stage = job.stage
        rc = fut.result()
        self.state.forget([o.path for o in stage.outs])
        if rc != 0:
            self._emit("failed", stage, detail=job.describe_failure(), job=job)
            return False
        lost = outputs.missing(self.repo, stage)
        if lost:
            self._emit("failed", stage, detail=f"it did not write its output {lost[0]}",
                       job=job)
            return False
        self.state.renew()  # a fresh stamp: outputs were written after the last one
        try:
            with self.repo.store.lock():
                outs, changed = outputs.store(self.repo, stage)
                faults.point("repro.outputs-stored")
                self._changed(changed)
                self._record(stage, c, outs)
                self.cache.put(key(stage, c.deps, c.params), stage, outs)
        except GitmlError as e:
            self._emit("failed", stage, detail=str(e), job=job)
            return False
        self.state.save()
        self._emit("done", stage, job=job)
        return True

    def commit(self, stage: Stage) -> bool:
        """Store a stage's outputs as they are and record its lock entry (``gitml commit``);
        False when it was up to date already."""
        c = check(stage, self.lock.get(stage.name), self.state)
        if c.missing:
            raise GitmlError(f"cannot commit stage {stage.name!r}: {c.missing[0]}")
        lost = outputs.missing(self.repo, stage)
        if lost:
            raise GitmlError(f"cannot commit stage {stage.name!r}: its output {lost[0]} does "
                             "not exist (run 'gitml repro' to make it)")
        if not c.reasons:
            return False
        outputs.check_not_in_git(self.repo, [stage])
        with self.repo.store.lock():
            outs, changed = outputs.store(self.repo, stage)
            self._changed(changed)
            self._record(stage, c, outs)
            self.cache.put(key(stage, c.deps, c.params), stage, outs)
        self.state.save()
        return True

    def _record(self, stage: Stage, c: Check, outs: list[Any]) -> None:
        """Write the stage's lock entry (outs: (path, cache, pointer))."""
        infos = {}
        old = self.lock.get(stage.name)
        for path, cache, ptr in outs:
            infos[path] = HashInfo(ptr.oid, ptr.size, ptr.files)
            self.state.remember(path, infos[path])
            if not cache and old is not None and path in old.outs and \
                    old.outs[path].oid == ptr.oid and path in self.result.changed:
                self.result.changed.remove(path)  # a Git-kept output that did not change
        self.lock[stage.name] = LockEntry(
            stage.cmd, stage.wdir, dict(c.deps), {f: dict(v) for f, v in c.params.items()},
            infos, frozenset(p for p, cache, _ in outs if not cache))
        # entries of stages no longer in gitml.yaml go; the rest are kept as they are
        current = {n: e for n, e in self.lock.items() if n in self.pipe.stages}
        if lockfile.save(self.repo.root, current):
            self._changed([lockfile.LOCK_FILE])

    def _interrupt(self, running: dict[Future[int], tuple[Job, Check]]) -> None:
        jobs = [job for job, _ in running.values()]
        for job in jobs:
            job.interrupt(signal.SIGINT)
        while True:
            try:
                _, left = wait(list(running), timeout=_GRACE)
                break
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting politely
                left = set(running)
                break
        for fut in left:
            running[fut][0].interrupt(signal.SIGKILL)
        wait(list(running))
        for job in jobs:
            self._emit("failed", job.stage, detail="interrupted", job=job)

    def _interrupted_message(self, running: dict[Future[int], tuple[Job, Check]]) -> str:
        names = [job.stage.name for job, _ in running.values()]
        what = (f"stage {names[0]!r} was stopped" if len(names) == 1 else
                f"stages {', '.join(repr(n) for n in names)} were stopped" if names else
                "stopped")
        return f"interrupted: {what} and recorded nothing; finished stages kept their results"


def _for_git(root: str, paths: list[str]) -> list[str]:
    """The files among ``paths`` that differ from what Git has (to suggest ``git add``)."""
    if not paths:
        return []
    from gitml import gitio

    out = gitio.run(root, "status", "--porcelain", "-z", "--untracked-files=all", "--",
                    *[":(literal)" + p for p in paths], check=False)
    differ = {rec[3:] for rec in out.decode(errors="surrogateescape").split("\0") if rec}
    return [p for p in paths if p in differ]


class _StageError(Exception):
    """A stage cannot run (a dep or param is missing)."""


def _failure_message(failed: list[StageResult]) -> str:
    if len(failed) == 1:
        f = failed[0]
        return f"stage {f.name!r} failed: {f.detail}"
    return f"{len(failed)} stages failed: " + "; ".join(f"{f.name!r}: {f.detail}"
                                                        for f in failed)
