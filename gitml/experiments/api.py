"""The experiments Python API: one function per ``gitml exp`` command.

    from gitml import experiments as exp
    exp.run(set=["train.lr=0.01"], name="exp-3")          # [ExpResult]
    exp.queue(set=["train.lr=0.1,0.01", "train.depth=3,5"])  # 4 queued names
    exp.run_all(jobs=2)                                    # [ExpResult]
    exp.run_all(executor="ray", address="head:6379")       # on a Ray cluster
    exp.show()                                             # Table (rows, columns)
    exp.best("val.acc", maximize=True)                     # "exp-3"
    exp.apply("exp-3"); exp.remove(["exp-3"])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError
from gitml.experiments import overrides
from gitml.experiments import queuing as queue_mod
from gitml.experiments import runner as run_mod
from gitml.experiments.runner import ExpResult, Options, Say
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.experiments import manage, sharing
    from gitml.experiments import table as show_mod
    from gitml.pipeline.reproduce import Event


def _options(targets: list[str] | None, force: bool, run_cache: bool,
             keep_failed: bool, stream_fd: int | None = None, pull: bool = False,
             allow_empty: bool = False) -> Options:
    return Options(list(targets or []), force, run_cache, keep_failed, stream_fd, pull,
                   allow_empty)


def run(*, set: list[str] | tuple[str, ...] = (), name: str | None = None, add: bool = False,
        targets: list[str] | None = None, force: bool = False, run_cache: bool = True,
        keep_failed: bool = False, jobs: int = 1, pull: bool = False,
        allow_empty: bool = False, stream: bool = True,
        stream_fd: int | None = None, on_event: Callable[[Event], None] | None = None,
        say: Say | None = None, executor: str = "local", detach: bool = False,
        repo: Repo | None = None, **executor_options: Any) -> list[ExpResult]:
    """Run experiments now: one, or one per combination of the sweeps in ``set``.
    ``pull``: fetch missing inputs and outputs from the default remote first.
    ``stream``: stage output to the terminal (``stream_fd``, default stdout).
    ``executor``: where (``local``, ``ray`` with ``address=``, ``resources=``): runs that go
    elsewhere are queued first, then submitted; ``detach``: return once submitted."""
    repo = repo or Repo()
    say = say or run_mod._quiet
    runs = overrides.grid(list(set), add=add)
    opts = _options(targets, force, run_cache, keep_failed, stream_fd, pull, allow_empty)
    if executor != "local":
        from gitml.experiments import executors

        ex = executors.load(executor, repo=repo, **executor_options)  # checked before queuing
        names = queue_mod.add(repo, runs, name=name, options=opts)
        return queue_mod.run_all(repo, names=names, say=say, executor=ex, detach=detach)
    if detach:
        raise BadInputError("--detach needs an executor that runs elsewhere (--executor ray)")
    if len(runs) == 1:
        return [run_mod.run_one(repo, runs[0], name=name, options=opts, stream=stream,
                                on_event=on_event, say=say)]
    names = queue_mod.add(repo, runs, name=name, options=opts)
    say(f"A grid of {len(names)} experiments: {', '.join(names)}")
    return queue_mod.run_all(repo, names=names, jobs=jobs, stream=stream, stream_fd=stream_fd,
                             on_event=on_event, say=say)


def queue(*, set: list[str] | tuple[str, ...] = (), name: str | None = None,
          add: bool = False, targets: list[str] | None = None, force: bool = False,
          run_cache: bool = True, keep_failed: bool = False, pull: bool = False,
          allow_empty: bool = False, repo: Repo | None = None) -> list[str]:
    """Queue one run per combination of the sweeps in ``set``; returns their names."""
    repo = repo or Repo()
    runs = overrides.grid(list(set), add=add)
    return queue_mod.add(repo, runs, name=name,
                         options=_options(targets, force, run_cache, keep_failed, pull=pull,
                                          allow_empty=allow_empty))


def run_all(*, jobs: int = 1, stream: bool = True, stream_fd: int | None = None,
            on_event: Callable[[Event], None] | None = None, say: Say | None = None,
            executor: str = "local", detach: bool = False, repo: Repo | None = None,
            **executor_options: Any) -> list[ExpResult]:
    """Run every queued experiment: here ``jobs`` at a time, or on another ``executor``
    (``ray``: ``address=``, ``resources={"cpu": 2}``, ``max_retries=``, ``data_remote=``);
    ``detach``: return once submitted (see :func:`status`, :func:`wait`)."""
    return queue_mod.run_all(repo or Repo(), jobs=jobs, stream=stream, stream_fd=stream_fd,
                             on_event=on_event, say=say or run_mod._quiet, executor=executor,
                             detach=detach, **executor_options)


def status(*, executor: str = "local", address: str | None = None,
           repo: Repo | None = None) -> list[dict[str, Any]]:
    """What this clone's experiments are doing: queued and running here (``local``), or the
    runs it submitted to a Ray cluster (``ray``), one dict each (name, state, where,
    seconds, attempt, submission)."""
    from gitml.experiments import monitor

    return monitor.status(repo or Repo(), executor, address)


def wait(*, address: str | None = None, say: Say | None = None,
         repo: Repo | None = None) -> list[ExpResult]:
    """Follow this clone's submissions to a Ray cluster until they finish; bring their
    branches home; their results."""
    from gitml.experiments import monitor

    return monitor.wait(repo or Repo(), address, say or run_mod._quiet)


def show(*, names: list[str] | None = None, remote: str | None = None,
         repo: Repo | None = None) -> show_mod.Table:
    """HEAD, the experiments and the queue, with their params and metrics; ``remote``:
    HEAD and the experiments on that Git remote's branches."""
    from gitml.experiments import table as show_mod

    if remote is not None:
        from gitml.experiments.sharing import remote_experiments

        repo = repo or Repo()
        return show_mod.collect(repo, experiments=remote_experiments(repo, remote))
    return show_mod.collect(repo, names=names)


def push(remote: str, names: list[str] | tuple[str, ...] = (), *, all: bool = False,
         data_remote: str | None = None, force: bool = False, jobs: int | None = None,
         repo: Repo | None = None) -> sharing.ShareResult:
    """Send experiments' data and run-cache entries to the data remote, then their
    branches to the Git remote ``remote``."""
    from gitml.experiments import sharing

    return sharing.push(repo or Repo(), remote, list(names), all_=all,
                        data_remote=data_remote, force=force, jobs=jobs)


def pull(remote: str, names: list[str] | tuple[str, ...] = (), *, all: bool = False,
         data_remote: str | None = None, force: bool = False, jobs: int | None = None,
         repo: Repo | None = None) -> sharing.ShareResult:
    """Bring experiments from the Git remote ``remote``, with their data and run cache."""
    from gitml.experiments import sharing

    return sharing.pull(repo or Repo(), remote, list(names), all_=all,
                        data_remote=data_remote, force=force, jobs=jobs)


def diff(a: str, b: str | None = None, *, all: bool = False,
         repo: Repo | None = None) -> dict[str, Any]:
    """``{"params": {...}, "metrics": {...}}`` changes from ``a`` to ``b`` (one name: from
    the experiment's base to it)."""
    from gitml.experiments import table as show_mod

    return {k: r.to_dict() for k, r in show_mod.diff(repo, a, b, all=all).items()}


def best(metric: str, *, maximize: bool | None = None, repo: Repo | None = None) -> str:
    """The name of the finished experiment with the best ``metric``."""
    if not metric:
        raise BadInputError("name a metric")
    from gitml.experiments import table as show_mod

    return show_mod.best(repo, metric, maximize=maximize).row.name


def apply(name: str, *, force: bool = False, repo: Repo | None = None
          ) -> manage.ApplyResult:
    """Bring an experiment's params, metrics and outputs into the workspace, uncommitted."""
    from gitml.experiments import manage

    return manage.apply(repo, name, force=force)


def remove(names: list[str] | tuple[str, ...] = (), *, failed: bool = False,
           older_than: str | None = None, queued: bool = False, all: bool = False,
           force: bool = False, repo: Repo | None = None) -> list[str]:
    """Delete experiments and queued runs; returns the names removed."""
    from gitml.experiments import manage

    age = manage.parse_age(older_than) if older_than is not None else None
    return manage.remove(repo, list(names), failed=failed, older_than=age, queued=queued,
                         all_=all, force=force)


def clean(*, repo: Repo | None = None) -> manage.CleanResult:
    """Remove worktrees left by killed runs and index entries of deleted branches."""
    from gitml.experiments import manage

    return manage.clean(repo)
