"""One queued experiment on a machine that shares nothing with the client but the Git
remote and the data remote: what a cluster worker (``ray``, or any other executor) runs.

Order of effects, each safe to interrupt or to kill:

1. a scratch directory of its own (held by a lock; one whose holder died is removed by
   the next run on that machine), an empty Git repository in it;
2. ``git ls-remote``: the queued run's ticket ``refs/gitml/queue/<name>`` must still name
   the commit the client queued (else another attempt finished it: its result is read
   back, nothing runs twice); ``git fetch`` of that ticket;
3. the data the commit names, from the data remote (each object verified); stages that
   would run look for run-cache entries there first;
4. the run itself (:func:`queuing.run_one_queued`: a worktree, the params, ``repro``, a
   commit made with the client's identity);
5. outputs and run-cache entries to the data remote, **then** one atomic ``git push``
   that creates the branch and deletes the ticket (``--force-with-lease``: only if the
   ticket is still the one we ran), so a branch on the Git remote always has its data and
   two attempts can never both record a result;
6. the scratch directory is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Any

from gitml import gitio
from gitml.errors import GitError, GitmlError
from gitml.experiments import refs

LOG_LINES = 40  # the tail of a failed stage's output that comes back to the client
_SAFE = ("-c", "protocol.ext.allow=never")


class WorkerError(GitmlError):
    """A worker could not do its part (a remote out of reach, the queue entry gone)."""


NODE_CACHE_ENV = "GITML_WORKER_CACHE"


def node_cache(root: str) -> str:
    """The store of a run in the scratch repository ``root``: ``$GITML_WORKER_CACHE`` when
    the node sets it (a store the runs on this node share: an input comes from the data
    remote once per node, not once per run; every read of it is verified), else the
    scratch repository's own, removed with it. Never what the committed config says."""
    shared = os.environ.get(NODE_CACHE_ENV)
    return os.path.abspath(shared) if shared else os.path.join(root, ".gitml", "cache")


def scratch_base() -> str:
    """Where workers make their scratch directories: ``$GITML_SCRATCH`` or the temp dir."""
    return os.environ.get("GITML_SCRATCH") or os.path.join(tempfile.gettempdir(),
                                                           "gitml-scratch")


def run(spec: dict[str, Any], *, where: str = "") -> dict[str, Any]:
    """Run the queued experiment ``spec`` (made by :func:`shipping.ship`) from scratch;
    returns its result as :meth:`ExpResult.to_dict` does, with ``where`` and a ``log`` tail.
    Problems of the worker's own (a remote out of reach) come back as a failed result
    whose ``error`` says what and where; Ctrl-C (a cancel) propagates after cleaning up."""
    from gitml.experiments.worktrees import NameLock, _rmtree, recover_dirs, slug

    base = scratch_base()
    os.makedirs(base, exist_ok=True)
    recover_dirs(base)
    # the lock before the directory: a directory whose lock nobody holds is a dead one's
    scratch = os.path.join(base, f"{slug(spec['name'])}-{os.getpid()}-{time.time_ns()}")
    lock = NameLock(scratch + ".lock")
    lock.acquire()
    os.mkdir(scratch, 0o700)
    t0 = time.monotonic()
    try:
        out = _run(spec, scratch)
    except WorkerError as e:
        out = _failed(spec, str(e))
    except GitmlError as e:
        out = _failed(spec, f"{type(e).__name__}: {e}")
    finally:
        _rmtree(scratch)
        lock.release()
    out.setdefault("seconds", round(time.monotonic() - t0, 3))
    out["where"] = where
    return out


def _failed(spec: dict[str, Any], error: str) -> dict[str, Any]:
    return {"name": spec["name"], "status": "failed", "base": spec.get("base", ""),
            "commit": None, "overrides": spec.get("overrides", []), "metrics": {},
            "error": error}


def _run(spec: dict[str, Any], scratch: str) -> dict[str, Any]:
    from gitml import faults

    name, queued, url = spec["name"], spec["queued"], spec["git_url"]
    ticket = refs.QUEUE + name
    phases: dict[str, float] = {}  # seconds per step, for the client's -v and benchmarks
    mark = time.monotonic()

    def lap(step: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[step] = round(now - mark, 3)
        mark = now

    root = os.path.join(scratch, "repo")
    os.mkdir(root)
    gitio.run(root, "init", "-q")
    ident = spec.get("identity") or {}
    for k in ("name", "email"):
        if ident.get(k):
            gitio.run(root, "config", f"user.{k}", str(ident[k]))
    there = _ls_remote(root, url, [ticket, refs.HEADS + name])
    if there.get(ticket) != queued:
        return _finished_elsewhere(root, spec, there)
    try:
        gitio.fetch_refs(root, url, [f"+{ticket}:{ticket}"])
    except GitError as e:
        raise WorkerError(f"cannot fetch {ticket} from the Git remote {url}: {e}") from None
    repo = _open(root, queued, spec)
    lap("git")
    try:
        _fetch_data(repo, queued, spec["data_remote"]["name"])
        lap("data")
        faults.point("exp.worker.fetched")
        from gitml.experiments.queuing import run_one_queued

        events: list[dict[str, str]] = []

        def note(ev: Any) -> None:  # what the client prints for a failure, as a local run
            if ev.kind in ("failed", "skipped", "not-run"):
                events.append({"kind": ev.kind, "stage": ev.stage, "detail": ev.detail})

        res = run_one_queued(repo, name, stream=False, on_event=note,
                             remote_runs=spec["data_remote"]["name"])
        res.events = events
        out = res.to_dict()
        lap("run")
        if res.log:
            out["log"] = "".join(res.log.splitlines(keepends=True)[-LOG_LINES:])
        if res.commit:
            _push_result(repo, spec, res.commit)
            lap("push")
        out["phases"] = phases
        return out
    finally:
        repo.close()


def _ls_remote(root: str, url: str, patterns: list[str]) -> dict[str, str]:
    try:
        return {ref: sha for sha, ref in gitio.ls_remote(root, url, patterns)}
    except GitError as e:
        raise WorkerError(f"cannot reach the Git remote {url}: {e}") from None


def _finished_elsewhere(root: str, spec: dict[str, Any], there: dict[str, str]
                        ) -> dict[str, Any]:
    """The ticket is gone: an earlier attempt (whose worker died before it could report)
    recorded the result, or the run was removed. Nothing is run again."""
    name, url = spec["name"], spec["git_url"]
    tip = there.get(refs.HEADS + name)
    if tip is None:
        out = _failed(spec, f"the queued run is no longer on the Git remote {url} (removed, "
                            "or finished by another attempt that recorded no branch)")
        out["status"] = "skipped"
        return out
    gitio.fetch_refs(root, url, [f"+{refs.HEADS}{name}:{refs.HEADS}{name}"])
    msg = gitio.run(root, "log", "-1", "--format=%B", tip).decode(errors="replace")
    if refs.is_experiment(msg):
        e = refs.from_commit(name, tip, "", "0", "", msg)
        return {"name": name, "status": e.status, "base": spec.get("base", ""),
                "commit": tip, "overrides": e.overrides, "metrics": {},
                "error": "", "recorded_by": "an earlier attempt"}
    return _failed(spec, f"branch {name!r} on the Git remote is not this experiment")


def _open(root: str, queued: str, spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The scratch repository as gitml sees it: the queued commit's committed settings, the
    data remote the client named (its settings, never its credentials), and a store and
    link type of the node's choosing (:func:`node_cache`; copies, never links into it)."""
    from gitml import yamlio
    from gitml.fsutil import atomic_write
    from gitml.repo import GITML_DIR, Repo

    gdir = os.path.join(root, GITML_DIR)
    os.mkdir(gdir)
    cfg = gitio.run(root, "cat-file", "blob", f"{queued}:{GITML_DIR}/config.yaml", check=False)
    atomic_write(os.path.join(gdir, "config.yaml"), cfg or b"core: {}\n", durable=False)
    dr = spec["data_remote"]
    core = {"remote": dr["name"], "cache_dir": node_cache(root), "link": "reflink,copy"}
    local = {"core": core, "remote": {dr["name"]: dict(dr["settings"])}}
    atomic_write(os.path.join(gdir, "config.local.yaml"), yamlio.dumps(local).encode(),
                 durable=False, mode=0o600)
    return Repo.init(root)


def _fetch_data(repo: Any, commit: str, remote: str) -> None:
    """Every object the commit names that the data remote has; what it lacks is left to
    the run (a missing input fails it, naming the input; a missing output is made)."""
    from gitml.remotes import transfer
    from gitml.remotes.base import RemoteError, TransferIncomplete

    try:
        transfer.fetch(repo, revs=[commit], remote=remote)
    except TransferIncomplete:
        pass
    except RemoteError as e:
        raise WorkerError(f"cannot reach the data remote {remote!r}: {e}") from None


def _push_result(repo: Any, spec: dict[str, Any], commit: str) -> None:
    """Objects and run-cache entries first, then the branch and the ticket in one atomic
    push conditional on the ticket (a second attempt cannot record a second result)."""
    from gitml import faults
    from gitml.experiments.sharing import push_data
    from gitml.remotes.base import RemoteError, TransferIncomplete

    name, url, dr = spec["name"], spec["git_url"], spec["data_remote"]["name"]
    try:
        push_data(repo, [commit], dr)
    except RemoteError as e:
        raise WorkerError(f"cannot reach the data remote {dr!r} to push the results "
                          f"(no branch was pushed): {e}") from None
    except TransferIncomplete as e:
        raise WorkerError(f"the results could not all be pushed to {dr!r} (no branch was "
                          f"pushed): {e}") from None
    faults.point("exp.worker.pushed-data")
    ticket = refs.QUEUE + name
    try:
        gitio.run(repo.root, *_SAFE, "push", "--quiet", "--atomic",
                  f"--force-with-lease={ticket}:{spec['queued']}", "--", url,
                  f"{commit}:{refs.HEADS}{name}", f":{ticket}")
    except GitError as e:
        there = _ls_remote(repo.root, url, [ticket, refs.HEADS + name])
        if there.get(ticket) != spec["queued"]:
            raise WorkerError(f"another attempt recorded {name} first; this result "
                              f"({commit[:12]}) was not pushed") from None
        raise WorkerError(f"cannot push branch {name} to the Git remote {url}: {e}") from None


def cleanup_tickets(root: str, url: str, tickets: dict[str, str]) -> None:
    """Delete the given tickets (name -> queued commit) from the Git remote, each only if it
    still names that commit; a ticket already gone is fine."""
    args = [f"--force-with-lease={refs.QUEUE}{n}:{sha}" for n, sha in tickets.items()]
    if tickets:
        with contextlib.suppress(GitError):
            gitio.run(root, *_SAFE, "push", "--quiet", *args, "--", url,
                      *[f":{refs.QUEUE}{n}" for n in tickets])
