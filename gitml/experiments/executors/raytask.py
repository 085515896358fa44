"""What runs inside the Ray cluster: one task per experiment, and a coordinator actor per
submission that owns the tasks.

The coordinator is a *detached* named actor, so the tasks outlive the client that
submitted them (``--detach``, a closed laptop): ``gitml exp status`` and ``gitml exp wait``
find it again by name. Each task tells the coordinator where it started (node, attempt);
Ray retries a task whose worker died (``max_retries``), and :mod:`gitml.experiments.worker`
makes sure only one attempt records a result. Imported on the client and on every worker
(gitml must be installed on each node).
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray

NAMESPACE = "gitml"


@ray.remote
def run_experiment(spec: dict[str, Any], coordinator: str) -> dict[str, Any]:
    """One queued experiment on this node (:func:`gitml.experiments.worker.run`)."""
    from gitml.experiments import worker

    ctx = ray.get_runtime_context()
    where = f"{ray.util.get_node_ip_address()} (node {ctx.get_node_id()[:8]})"
    try:
        actor = ray.get_actor(coordinator, namespace=NAMESPACE)
        ray.get(actor.started.remote(spec["name"], where, os.getpid()))
    except ValueError:  # the coordinator is gone (killed): run anyway, the result is in Git
        pass
    return worker.run(spec, where=where)


def task_options(resources: dict[str, float], max_retries: int, env: dict[str, str]
                 ) -> dict[str, Any]:
    """Ray options of a task asking for ``resources`` (cpu, gpu, memory in bytes, custom)."""
    opts: dict[str, Any] = {"num_cpus": resources.get("cpu", 1),
                            "max_retries": max_retries, "retry_exceptions": False}
    if resources.get("gpu"):
        opts["num_gpus"] = resources["gpu"]
    if resources.get("memory"):
        opts["memory"] = int(resources["memory"])
    custom = {k: v for k, v in resources.items() if k not in ("cpu", "gpu", "memory")}
    if custom:
        opts["resources"] = custom
    if env:
        opts["runtime_env"] = {"env_vars": env}
    return opts


@ray.remote(num_cpus=0, max_restarts=0)
class Coordinator:
    """Owns the tasks of one submission and remembers what each is doing."""

    def __init__(self, name: str, specs: list[dict[str, Any]], max_retries: int,
                 env: dict[str, str]) -> None:
        self.name = name
        self.specs = {s["name"]: s for s in specs}
        self.runs: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, Any] = {}
        now = time.time()
        for s in specs:
            opts = task_options(s.get("resources") or {}, max_retries, env)
            self.refs[s["name"]] = run_experiment.options(
                name=f"gitml exp {s['name']}", **opts).remote(s, name)
            self.runs[s["name"]] = {"name": s["name"], "state": "queued", "where": "",
                                    "submitted": now, "started": 0.0, "ended": 0.0,
                                    "attempt": 0, "result": {}}

    def specs_of(self) -> dict[str, dict[str, Any]]:
        return self.specs

    def started(self, name: str, where: str, pid: int) -> int:
        r = self.runs[name]
        if r["state"] not in ("queued", "running"):
            return int(r["attempt"])
        r.update(state="running", where=where, started=time.time(), pid=pid)
        r["attempt"] += 1
        return int(r["attempt"])

    def poll(self) -> list[dict[str, Any]]:
        pending = {n: ref for n, ref in self.refs.items()
                   if self.runs[n]["state"] in ("queued", "running", "cancelling")}
        if pending:
            ready, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=0)
            done = set(ready)
            for n, ref in pending.items():
                if ref in done:
                    self._settle(n, ref)
        return list(self.runs.values())

    def _settle(self, name: str, ref: Any) -> None:
        r = self.runs[name]
        r["ended"] = time.time()
        try:
            res = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            r["state"] = "cancelled"
            return
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if getattr(e, "cause", None) is not None else e
            if isinstance(cause, KeyboardInterrupt) or r["state"] == "cancelling":
                r["state"] = "cancelled"
                return
            res = {"status": "failed", "error": f"crashed on the worker: "
                   f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1:]}"}
        except ray.exceptions.RayError as e:  # a worker or node died and retries ran out
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            res = {"status": "failed", "error": f"the worker died (after {r['attempt']} "
                   f"attempt{'s' * (r['attempt'] != 1)}): {first}"}
        r["result"] = res
        r["state"] = res.get("status", "failed")
        if res.get("where"):
            r["where"] = res["where"]

    def cancel(self) -> list[str]:
        """Cancel every task not finished (a running one gets KeyboardInterrupt: its stage
        is stopped and its scratch directory removed)."""
        out = []
        for n, ref in self.refs.items():
            if self.runs[n]["state"] in ("queued", "running"):
                self.runs[n]["state"] = "cancelling"
                ray.cancel(ref, force=False)
                out.append(n)
        return out
