"""``gitml exp status`` and ``gitml exp wait``: what this clone's experiments are doing,
here or on a cluster, and waiting for submitted ones to finish."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError

if TYPE_CHECKING:
    from gitml.experiments.runner import ExpResult, Say
    from gitml.repo import Repo


def status(repo: Repo, executor: str = "local", address: str | None = None
           ) -> list[dict[str, Any]]:
    """One dict per run: name, state, where, seconds, attempt (and ``submission`` on a
    cluster). Local: the queue, and the runs whose worktree is held right now."""
    if executor == "local":
        from gitml.experiments import refs
        from gitml.experiments.worktrees import running, slug

        busy = set(running(repo))
        out = [{"name": q.name, "state": "running" if slug(q.name) in busy else "queued",
                "where": "local" if slug(q.name) in busy else "", "seconds": 0.0,
                "attempt": 0} for q in refs.listing(repo).queued]
        queued = {slug(d["name"]) for d in out}
        out += [{"name": n, "state": "running", "where": "local", "seconds": 0.0,
                 "attempt": 0} for n in sorted(busy - queued)]
        return out
    if executor != "ray":
        from gitml.experiments.executors import NAMES

        raise BadInputError(f"unknown executor {executor!r}: choose {', '.join(NAMES)}")
    from gitml.experiments.executors.rayexec import submissions

    now = time.time()
    out = []
    for ex in submissions(repo, address):
        for r in ex.poll():
            d = r.to_dict()
            d["seconds"] = round(r.elapsed(now), 3)
            d["submission"] = ex.actor_name
            out.append(d)
    return out


def wait(repo: Repo, address: str | None, say: Say) -> list[ExpResult]:
    """Follow every submission of this clone until its runs are final; collect them."""
    from gitml.experiments.executors.base import follow
    from gitml.experiments.executors.rayexec import submissions

    results: list[ExpResult] = []
    for ex in submissions(repo, address):
        say(f"Waiting for {len(ex.specs)} experiment{'s' * (len(ex.specs) != 1)} submitted "
            f"to {ex.address}: {', '.join(ex.specs)}")
        results += follow(ex, repo, say)
    return results
