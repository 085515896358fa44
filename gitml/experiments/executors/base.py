"""The executor interface, and the loop every executor shares (:func:`drive`).

An executor starts queued experiments somewhere (:meth:`Executor.submit`), says what each
one is doing (:meth:`Executor.poll`), and stops them (:meth:`Executor.cancel`). The
loop around it is the same for all: it prints what changed (queued, running where, done
or failed, with elapsed time), turns Ctrl-C into a cancel that says what finished, and
hands finished runs to :meth:`Executor.collect` (a local run's branch is already here; a
remote one's is fetched).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gitml.errors import EXIT_INTERRUPTED, BadInputError, GitmlError

if TYPE_CHECKING:
    from gitml.experiments.refs import Queued
    from gitml.experiments.runner import ExpResult, Say
    from gitml.repo import Repo

FINAL = ("done", "failed", "empty", "cancelled", "skipped")


@dataclass
class Run:
    """One submitted experiment as its executor sees it. ``state``: queued, running, done,
    failed, empty (no stage ran), cancelled, skipped (run by someone else)."""

    name: str
    state: str = "queued"
    where: str = ""  # the node (host) it runs on
    submitted: float = 0.0  # wall-clock times (time.time())
    started: float = 0.0
    ended: float = 0.0
    attempt: int = 0  # > 1: the executor retried it (a worker died)
    result: dict[str, Any] = field(default_factory=dict)  # ExpResult.to_dict() when final

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def elapsed(self, now: float | None = None) -> float:
        if not self.started:
            return 0.0
        return (self.ended or now or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "state": self.state, "where": self.where,
                             "attempt": self.attempt, "seconds": round(self.elapsed(), 3)}
        if self.result:
            d["result"] = self.result
        return d


class Executor(Protocol):
    """Where queued experiments run. ``announce``: :func:`drive` prints state changes (an
    executor whose runs print their own output, like ``local``, says False)."""

    name: str
    announce: bool
    interval: float  # seconds between polls

    def submit(self, repo: Repo, queued: list[Queued], say: Say) -> None:
        """Start every run in ``queued`` (or queue it with the executor); returns at once."""
        ...

    def poll(self) -> list[Run]:
        """The state of every run submitted."""
        ...

    def cancel(self) -> None:
        """Stop every run not finished; returns when they have stopped (or given up)."""
        ...

    def collect(self, repo: Repo, runs: list[Run]) -> list[ExpResult]:
        """The results of finished ``runs``, their branches made here."""
        ...


class Interrupted(GitmlError):
    """Ctrl-C while experiments ran elsewhere: they were cancelled (exit 130)."""

    exit_code = EXIT_INTERRUPTED


def parse_resources(text: str | None) -> dict[str, float]:
    """``cpu=2,gpu=1,memory=4GiB`` -> {"cpu": 2.0, "gpu": 1.0, "memory": 4294967296.0}."""
    from gitml.pipeline.schema import resource_value

    out: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInputError(f"malformed --resources item {item.strip()!r}: expected "
                                "NAME=AMOUNT (e.g. cpu=2,gpu=1,memory=4GiB)")
        try:
            out[key] = resource_value(key, value.strip())
        except ValueError as e:
            raise BadInputError(f"--resources {key}: {e}") from None
    return out


def line(r: Run, now: float) -> str:
    """One line about a run's state change, for the live output."""
    from gitml.experiments.runner import headline

    where = f" on {r.where}" if r.where else ""
    if r.state == "queued":
        return f"[{r.name}] queued"
    if r.state == "running":
        again = f" (attempt {r.attempt}: the last worker died)" if r.attempt > 1 else ""
        return f"[{r.name}] running{where}{again}"
    secs = f" after {r.elapsed(now):.1f} s" if r.started else ""
    res = r.result
    if r.state == "done":
        return (f"[{r.name}] done in {r.elapsed(now):.1f} s{where}: "
                f"{headline(res.get('metrics') or {}) or 'no metrics'}")
    if r.state == "empty":
        return f"[{r.name}] finished{secs}{where}: no stage ran"
    if r.state == "failed":
        return f"[{r.name}] failed{secs}{where}: {res.get('error') or 'unknown error'}"
    return f"[{r.name}] {r.state}{secs}{where}"


def drive(ex: Executor, repo: Repo, queued: list[Queued], say: Say, *,
          detach: bool = False) -> list[ExpResult]:
    """Submit ``queued`` to ``ex``; unless ``detach``, show their progress until all are
    final and return their results. Ctrl-C cancels what has not finished (exit 130,
    naming what finished; finished runs are collected first)."""
    ex.submit(repo, queued, say)
    if detach:
        return []
    return follow(ex, repo, say)


def follow(ex: Executor, repo: Repo, say: Say) -> list[ExpResult]:
    """Show the progress of runs already submitted to ``ex`` until all are final; collect."""
    shown: dict[str, tuple[str, int]] = {}
    runs: list[Run] = []
    try:
        while True:
            runs = ex.poll()
            now = time.time()
            for r in runs:
                key = (r.state, r.attempt)
                if ex.announce and shown.get(r.name) != key:
                    shown[r.name] = key
                    say(line(r, now))
            if all(r.final for r in runs):
                break
            time.sleep(ex.interval)
    except KeyboardInterrupt:
        ex.cancel()
        runs = ex.poll()
        finished = [r for r in runs if r.state in ("done", "failed", "empty")]
        stopped = [r.name for r in runs if r not in finished]
        ex.collect(repo, runs)  # the finished ones come home; the others stay queued
        what = (", ".join(f"{r.name} ({r.state})" for r in finished) or "none")
        raise Interrupted(f"interrupted: cancelled {len(stopped)} experiment"
                          f"{'s' * (len(stopped) != 1)} ({', '.join(stopped) or 'none'}); "
                          f"finished before: {what}") from None
    return ex.collect(repo, runs)
