"""The public Python API: one function per user action.

The core lives on :class:`gitml.Repo`; the functions here are imported lazily
from the module that owns them, so ``import gitml.api`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from gitml.repo import Repo

# name -> "module:attribute"
_EXPORTS = {
    "metrics_show": "gitml.metrics:metrics_show",
    "metrics_diff": "gitml.metrics:metrics_diff",
    "params_show": "gitml.params:params_show",
    "params_diff": "gitml.params:params_diff",
    "plots_show": "gitml.plots:plots_show",
    "plots_diff": "gitml.plots:plots_diff",
    "report": "gitml.plots.report:build_report",
    "Live": "gitml.live:Live",
    "open": "gitml.readapi:open",
    "read": "gitml.readapi:read",
    "write_parquet": "gitml.tabular.dedup:write_parquet",
    "data_profile": "gitml.tabular.api:data_profile",
    "data_diff": "gitml.tabular.api:data_diff",
    "data_check": "gitml.tabular.api:data_check",
    "drift": "gitml.tabular.api:drift",
    "data_synth": "gitml.tabular.api:data_synth",
    "data_synth_verify": "gitml.tabular.api:data_synth_verify",
    "push": "gitml.remotes.transfer:push",
    "fetch": "gitml.remotes.transfer:fetch",
    "pull": "gitml.remotes.transfer:pull",
    "model_path": "gitml.registry:model_path",
    "ls": "gitml.imports:ls",
    "get": "gitml.imports:get",
    "import_": "gitml.imports:import_",
    "update": "gitml.imports:update",
    "models": "gitml.registry:models",
    "exp_run": "gitml.experiments.api:run",
    "exp_queue": "gitml.experiments.api:queue",
    "exp_run_all": "gitml.experiments.api:run_all",
    "exp_show": "gitml.experiments.api:show",
    "exp_diff": "gitml.experiments.api:diff",
    "exp_best": "gitml.experiments.api:best",
    "exp_apply": "gitml.experiments.api:apply",
    "exp_remove": "gitml.experiments.api:remove",
    "exp_push": "gitml.experiments.api:push",
    "exp_pull": "gitml.experiments.api:pull",
    "exp_status": "gitml.experiments.api:status",
    "exp_wait": "gitml.experiments.api:wait",
    "repro": "gitml.pipeline.reproduce:repro",
    "pipeline_status": "gitml.pipeline.staleness:status",
    "demo": "gitml.demo:demo",
    "import_dvc": "gitml.dvcimport.importer:import_dvc",
}

__all__ = ["Repo", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'gitml.api' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
