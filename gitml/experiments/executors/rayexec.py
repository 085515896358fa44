"""The ``ray`` executor: each queued experiment becomes one Ray task on a cluster whose
workers share nothing with this clone but the Git remote and the data remote.

Submitting ships the runs (:func:`gitml.experiments.shipping.ship`), then starts a
coordinator actor (detached, named ``exp-<repository key>-<time>`` in the ``gitml``
namespace) that owns their tasks; the client polls it, cancels through it, and fetches
the finished branches. ``gitml exp status``/``wait`` find a submission again by name.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError, GitmlError
from gitml.experiments.executors.base import Run

if TYPE_CHECKING:
    from gitml.experiments.refs import Queued
    from gitml.experiments.runner import ExpResult, Say
    from gitml.repo import Repo

INSTALL = "the ray executor needs Ray: pip install 'gitml[ray]'"
DEFAULT_RETRIES = 3
WORKER_FAULT_ENV = "GITML_WORKER_FAULT"  # tests: GITML_FAULT for the workers' processes


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BadInputError(INSTALL) from None
    return ray


def address_of(repo: Repo, address: str | None) -> str:
    """``--address``, else config ``exp.ray.address``, else ``RAY_ADDRESS``."""
    found = address or repo.config.get("exp.ray.address") or os.environ.get("RAY_ADDRESS")
    if not found:
        raise BadInputError("no Ray cluster to submit to: give --address HOST:PORT, set "
                            "'gitml config exp.ray.address HOST:PORT' or RAY_ADDRESS (start "
                            "a cluster with 'ray start --head')")
    return str(found)


def repo_key(repo: Repo) -> str:
    """Names this clone's submissions: its path and its Git remote's URL, hashed."""
    from gitml import gitio
    from gitml.experiments.shipping import git_remote
    from gitml.hashing import hash_bytes

    try:
        url = git_remote(repo)[1]
    except GitmlError:
        url = ""
    text = f"{os.uname().nodename}\0{os.path.realpath(gitio.common_root(repo.root))}\0{url}"
    return hash_bytes(text.encode()).split(":")[-1][:16]


class RayExecutor:
    name = "ray"
    announce = True
    interval = 0.5

    def __init__(self, repo: Repo, address: str | None = None,
                 resources: dict[str, float] | None = None, max_retries: int | None = None,
                 data_remote: str | None = None, coordinator: str | None = None,
                 **_ignored: object) -> None:
        from gitml.experiments import shipping

        self.ray = import_ray()
        self.address = address_of(repo, address)
        shipping.git_remote(repo)  # the remotes workers need: checked before anything
        shipping.data_remote(repo, data_remote)
        self.resources = resources or {}
        retries = max_retries if max_retries is not None else repo.config.get(
            "exp.ray.max_retries", DEFAULT_RETRIES)
        self.max_retries = int(retries)
        self.data_remote = data_remote
        self.key = repo_key(repo)
        self.actor: Any = None
        self.actor_name = coordinator or ""
        self.specs: dict[str, dict[str, Any]] = {}
        self._connect()
        if coordinator:
            self.actor = self.ray.get_actor(coordinator, namespace=self._ns)
            self.specs = self.ray.get(self.actor.specs_of.remote())

    _ns = "gitml"

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        try:
            ray.init(address=self.address, namespace=self._ns, log_to_driver=False,
                     logging_level="ERROR", configure_logging=True)
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise GitmlError(f"cannot connect to the Ray cluster at {self.address}: "
                             f"{first}") from None

    # -- the Executor protocol -------------------------------------------------------------
    def submit(self, repo: Repo, queued: list[Queued], say: Say) -> None:
        from gitml.experiments import shipping
        from gitml.experiments.executors.raytask import Coordinator

        specs = shipping.ship(repo, queued, data_remote_name=self.data_remote, say=say)
        needs = _pipeline_resources(repo, queued)
        for s in specs:
            s["resources"] = {**needs.get(s["name"], {}), **self.resources}
        env = {"GITML_FAULT": os.environ[WORKER_FAULT_ENV]} \
            if os.environ.get(WORKER_FAULT_ENV) else {}
        self.actor_name = f"exp-{self.key}-{time.time_ns()}"
        self.actor = Coordinator.options(name=self.actor_name, namespace=self._ns,
                                         lifetime="detached").remote(
            self.actor_name, specs, self.max_retries, env)
        self.specs = {s["name"]: s for s in specs}
        say(f"Submitted {len(specs)} experiment{'s' * (len(specs) != 1)} to the Ray cluster "
            f"at {self.address}: {', '.join(self.specs)}")

    def poll(self) -> list[Run]:
        raw = self.ray.get(self.actor.poll.remote())
        return [Run(d["name"], d["state"], d["where"], d["submitted"], d["started"],
                    d["ended"], d["attempt"], d["result"]) for d in raw]

    def cancel(self) -> None:
        self.ray.get(self.actor.cancel.remote())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(r.final for r in self.poll()):
                return
            time.sleep(0.2)

    def collect(self, repo: Repo, runs: list[Run]) -> list[ExpResult]:
        from gitml.experiments import shipping
        from gitml.experiments.overrides import parse
        from gitml.experiments.runner import ExpResult

        finished = {r.name: r.result for r in runs if r.state in ("done", "failed", "empty")}
        over = [r.name for r in runs if r.final and r.name not in finished]
        try:
            shipping.adopt(repo, self.specs, finished, over)
        finally:
            if all(r.final for r in self.poll()):
                self.ray.kill(self.actor)  # every result is home: the submission is over
        out = []
        for r in runs:
            if r.name not in finished:
                continue
            res = r.result
            ovs = [o for s in self.specs[r.name].get("overrides", []) for o in parse(s)]
            e = ExpResult(r.name, r.state if r.state != "cancelled" else "skipped",
                          str(res.get("base") or self.specs[r.name].get("base", "")), ovs,
                          commit=res.get("commit"), metrics=res.get("metrics") or {},
                          error=str(res.get("error") or ""), seconds=r.elapsed(),
                          log=str(res.get("log") or ""),
                          failed_outputs=list(res.get("failed_outputs") or []),
                          events=list(res.get("events") or []),
                          phases=dict(res.get("phases") or {}))
            out.append(e)
        return out


def submissions(repo: Repo, address: str | None = None) -> list[RayExecutor]:
    """This clone's submissions still on the cluster (their coordinators), oldest first."""
    ex = RayExecutor(repo, address)
    names = [a["name"] if isinstance(a, dict) else a
             for a in ex.ray.util.list_named_actors(all_namespaces=False)]
    mine = sorted(n for n in names if n.startswith(f"exp-{ex.key}-"))
    return [RayExecutor(repo, address, coordinator=n) for n in mine]


def _pipeline_resources(repo: Repo, queued: list[Queued]) -> dict[str, dict[str, float]]:
    """What each run's stages ask for (``resources:`` in gitml.yaml): per resource, the most
    any selected stage asks (the stages of one experiment run one after another)."""
    if not os.path.exists(os.path.join(repo.root, "gitml.yaml")):
        return {}
    from gitml.pipeline.loader import load

    pipe = load(repo)
    out: dict[str, dict[str, float]] = {}
    for q in queued:
        need: dict[str, float] = {}
        for n in pipe.select(list(q.spec.get("targets") or []) or None, False):
            for k, v in pipe.stages[n].resources:
                need[k] = max(need.get(k, 0.0), v)
        out[q.name] = need
    return out
