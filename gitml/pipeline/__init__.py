"""Pipelines: ``gitml.yaml`` stages, the DAG, ``gitml repro``, ``gitml.lock``, the run cache.

The public API (imported lazily, so ``import gitml.pipeline`` stays cheap)::

    from gitml import Repo, pipeline
    repo = Repo()
    pipeline.load(repo)                        # the validated Pipeline (stages + graph)
    pipeline.status(repo)                      # stale stages and why (.to_dict() for JSON)
    pipeline.repro(repo, ["train"], jobs=2)    # run what is stale; a ReproResult
    pipeline.stage_add(repo, "eval", cmd="python eval.py", deps=["models/model.pkl"])
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitml.pipeline.staleness import PipelineStatus
    from gitml.repo import Repo

_EXPORTS = {
    "load": "gitml.pipeline.loader:load",
    "status": "gitml.pipeline.staleness:status",
    "repro": "gitml.pipeline.reproduce:repro",
    "stage_add": "gitml.pipeline.stageadd:stage_add",
    "Pipeline": "gitml.pipeline.dag:Pipeline",
    "PipelineError": "gitml.pipeline.dag:PipelineError",
    "Stage": "gitml.pipeline.schema:Stage",
    "Event": "gitml.pipeline.reproduce:Event",
    "ReproResult": "gitml.pipeline.reproduce:ReproResult",
    "StageFailed": "gitml.pipeline.reproduce:StageFailed",
    "ReproInterrupted": "gitml.pipeline.reproduce:ReproInterrupted",
    "PipelineStatus": "gitml.pipeline.staleness:PipelineStatus",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'gitml.pipeline' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def project_status(repo: Repo) -> PipelineStatus | None:
    """Stale stages for ``gitml status``; None when the project has no stages (cheap then)."""
    if not os.path.exists(os.path.join(repo.root, "gitml.yaml")):
        return None
    from gitml.pipeline.staleness import status

    result = status(repo)
    return result if result.total else None
