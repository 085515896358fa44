"""The ``local`` executor: queued experiments on this machine, ``jobs`` at a time, each its
own ``gitml exp run --run-queued NAME`` process whose output is shown line by line with
the experiment's name in front. A Ctrl-C reaches every child (same process group); each
cleans its own worktree up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from gitml.experiments.executors.base import Run

if TYPE_CHECKING:
    from gitml.experiments.refs import Queued
    from gitml.experiments.runner import ExpResult, Say
    from gitml.repo import Repo


class LocalExecutor:
    name = "local"
    announce = False  # the children print their own progress
    interval = 0.02

    def __init__(self, jobs: int = 1, **_ignored: object) -> None:
        self.jobs = max(1, jobs)
        self._runs: dict[str, Run] = {}
        self._pending: list[str] = []
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pumps: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._root = ""
        self._say: Say = lambda _m: None

    def submit(self, repo: Repo, queued: list[Queued], say: Say) -> None:
        self._root, self._say = repo.root, say
        now = time.time()
        for q in queued:
            self._runs[q.name] = Run(q.name, submitted=now)
            self._pending.append(q.name)
        self._start_some()

    def _start_some(self) -> None:
        env = dict(os.environ, GITML_NO_PROGRESS="1")
        while self._pending and len(self._procs) < self.jobs:
            n = self._pending.pop(0)
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitml", "exp", "run", "--run-queued", n],
                cwd=self._root, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self._procs[n] = proc
            self._pumps[n] = threading.Thread(target=self._pump, args=(n, proc), daemon=True)
            self._pumps[n].start()
            r = self._runs[n]
            r.state, r.started, r.where = "running", time.time(), "local"

    def _pump(self, n: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            with self._lock:
                self._say(f"[{n}] {raw.decode(errors='replace').rstrip()}")
        proc.stdout.close()

    def poll(self) -> list[Run]:
        for n, proc in list(self._procs.items()):
            if proc.poll() is not None:
                self._pumps[n].join()
                r = self._runs[n]
                r.ended = time.time()
                r.state = "done" if proc.returncode == 0 else "failed"
                r.result = {"returncode": proc.returncode}
                del self._procs[n]
        self._start_some()
        return list(self._runs.values())

    def cancel(self) -> None:
        # the children got the same Ctrl-C; give them time to clean their worktrees up
        self._pending.clear()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for n in self._procs:
            self._runs[n].state = "cancelled"
        for r in self._runs.values():
            if not r.final:
                r.state = "cancelled"
        raise KeyboardInterrupt  # as before executors: the CLI says 'interrupted', exit 130

    def collect(self, repo: Repo, runs: list[Run]) -> list[ExpResult]:
        from gitml.experiments import refs
        from gitml.experiments.runner import ExpResult

        done = {e.name: e for e in refs.listing(repo).experiments}
        out = []
        for r in runs:
            code = r.result.get("returncode")
            e = done.get(r.name)
            status = "done" if code == 0 else "failed"
            if code == 0 and e is None:
                status = "empty"  # no stage ran: it said so, and made no branch
            out.append(ExpResult(r.name, status, e.base if e else "", [],
                                 commit=e.exp_commit if e else None,
                                 error="" if code == 0 else f"exited with code {code}"))
        return out
