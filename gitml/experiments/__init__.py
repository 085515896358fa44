"""Experiments as branches: ``gitml exp run / show / diff / best / apply / remove / clean``.

An experiment is a pipeline run with some params changed, done in its own Git worktree
under ``.gitml/worktrees/`` (sharing the object store) and committed on its own branch,
so ``gitml metrics diff main exp-3`` and ``git log exp-3`` tell its story. The public API
(imported lazily) is in :mod:`gitml.experiments.api`::

    from gitml import experiments as exp
    exp.run(set=["train.lr=0.01"], name="exp-3")
    exp.best("val.acc", maximize=True)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = ("run", "queue", "run_all", "show", "diff", "best", "apply", "remove", "clean",
            "push", "pull", "status", "wait")
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gitml.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module("gitml.experiments.api"), name)
