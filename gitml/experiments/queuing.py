"""The experiment queue: ``exp run --queue`` stores runs, ``exp run --run-all`` runs them.

A queued run is a ref, ``refs/gitml/queue/<name>``, naming a commit that holds the
workspace as it was when queued (its parent is the base), with the overrides and options
as JSON in a ``Gitml-Queued`` trailer. Nothing outside Git is needed, so the queue
survives anything that Git survives, and two ``--run-all`` processes share it safely:
each run is claimed by reserving its worktree (a lock), and dropped from the queue in
the same ref transaction that creates its branch.

Where the runs happen is an executor's business (:mod:`gitml.experiments.executors`):
in this process one after another, ``jobs`` processes at a time, or on a Ray cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.errors import BadInputError
from gitml.experiments import overrides as ov
from gitml.experiments import refs
from gitml.experiments.preflight import check_identity
from gitml.experiments.runner import (
    Base,
    ExpResult,
    Options,
    Say,
    _quiet,
    check_pipeline,
    execute,
    head,
    start_commit,
)
from gitml.experiments.worktrees import Worktree, recover
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.experiments.executors.base import Executor
    from gitml.pipeline.reproduce import Event


def add(repo: Repo, runs: list[list[ov.Override]], *, name: str | None = None,
        options: Options | None = None) -> list[str]:
    """Queue one run per list of overrides; returns their names (``name``, or ``name-1``..
    for a grid, or generated ``exp-N``)."""
    options = options or Options()
    for overrides in runs:
        ov.check(repo.root, overrides)
    check_pipeline(repo, options)
    base = head(repo)
    check_identity(repo)
    taken = refs.listing(repo)
    if name is not None and len(runs) > 1:
        names = [f"{name}-{i}" for i in range(1, len(runs) + 1)]
    elif name is not None:
        names = [name]
    else:
        names = refs.generated_names(taken, len(runs))
    for n in names:
        refs.check_name(repo, n, taken)
    seq = max((q.spec.get("seq", 0) for q in taken.queued), default=0)
    lines = []
    all_overrides = [o for r in runs for o in r]
    snap = start_commit(repo, base, all_overrides, "gitml: workspace snapshot")
    tree = gitio.run(repo.root, "rev-parse", f"{snap}^{{tree}}").decode().strip()
    for i, (n, overrides) in enumerate(zip(names, runs, strict=True)):
        spec = {"name": n, "seq": seq + i + 1, "base": base.label,
                "overrides": [o.to_dict() for o in overrides], **options.to_dict()}
        what = ", ".join(str(o) for o in overrides) or "no param changes"
        msg = (f"gitml queued experiment {n}: {what}\n\n"
               f"{refs.QUEUED}: {json.dumps(spec, separators=(',', ':'))}\n")
        commit = refs.commit_tree(repo, tree, base.sha, msg)
        lines.append(f"create {refs.QUEUE}{n} {commit}")
    refs.update(repo, lines)
    return names


def entries(repo: Repo) -> list[refs.Queued]:
    return refs.listing(repo).queued


def remove(repo: Repo, names: list[str]) -> list[str]:
    """Drop queued runs (all when ``names`` is empty)."""
    queued = {q.name: q for q in entries(repo)}
    chosen = names or list(queued)
    for n in chosen:
        if n not in queued:
            raise BadInputError(f"{n!r} is not queued")
    if chosen:
        refs.update(repo, [f"delete {refs.QUEUE}{n} {queued[n].commit}" for n in chosen])
    return chosen


def run_one_queued(repo: Repo, name: str, *, stream: bool = True,
                   stream_fd: int | None = None,
                   on_event: Callable[[Event], None] | None = None,
                   say: Say = _quiet, remote_runs: str | None = None) -> ExpResult:
    """Run the queued entry ``name`` (skipped when another process is running it).
    ``remote_runs``: look for run-cache entries on that data remote too."""
    q = next((q for q in entries(repo) if q.name == name), None)
    if q is None:
        raise BadInputError(f"{name!r} is not queued")
    overrides = [ov.Override.from_dict(d) for d in q.spec.get("overrides", [])]
    wt = Worktree(repo, name)
    if not wt.reserve():
        say(f"Experiment {name} is being run by another process; skipped")
        return ExpResult(name, "skipped", q.base, overrides)
    # claimed: make sure nobody finished it between our listing and the reservation
    now = gitio.run(repo.root, "rev-parse", "--verify", "-q", f"{refs.QUEUE}{name}",
                    check=False).decode().strip()
    if now != q.commit:
        wt.release()
        return ExpResult(name, "skipped", q.base, overrides)
    base_label = str(q.spec.get("base") or q.base[:7])
    base = Base(q.base, "", base_label)
    options = Options.from_dict(q.spec)
    options.stream_fd, options.remote_runs = stream_fd, remote_runs
    return execute(repo, wt, q.commit, base, overrides, options, queued=q.commit,
                   stream=stream, on_event=on_event, say=say)


def run_all(repo: Repo, *, names: list[str] | None = None, jobs: int = 1,
            stream: bool = True, stream_fd: int | None = None,
            on_event: Callable[[Event], None] | None = None,
            say: Say = _quiet, executor: str | Executor = "local", detach: bool = False,
            **executor_options: Any) -> list[ExpResult]:
    """Run queued entries (``names``, or all) in queue order: here, ``jobs`` at a time, or
    on another ``executor`` (``ray``: ``executor_options`` such as ``address``,
    ``resources``). A failed run does not stop the others. ``detach``: submit and return
    (executors that run elsewhere)."""
    from gitml.experiments import executors
    from gitml.experiments.executors.base import drive

    recover(repo)
    check_identity(repo)
    todo = [q for q in entries(repo) if names is None or q.name in names]
    if executor == "local":
        if detach:
            raise BadInputError("--detach needs an executor that runs elsewhere (--executor "
                                "ray): local runs are children of this command")
        if jobs <= 1 or len(todo) <= 1:
            return [run_one_queued(repo, q.name, stream=stream, stream_fd=stream_fd,
                                   on_event=on_event, say=say) for q in todo]
    if not todo:
        return []
    ex = executors.load(executor, jobs=jobs, repo=repo, **executor_options) \
        if isinstance(executor, str) else executor
    return drive(ex, repo, todo, say, detach=detach)
