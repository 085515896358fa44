"""Executors: where queued experiments run. ``local`` (the default: this machine, ``--jobs``
at a time) and ``ray`` (a Ray cluster whose workers share only the Git remote and the data
remote with this clone).

An executor is one module with one class implementing :class:`base.Executor` (submit,
poll, cancel); :func:`base.drive` does the rest: live states, Ctrl-C, bringing finished
branches home. A Kubernetes Job or Dask executor is one more module here, registered in
:data:`NAMES`, that starts :func:`gitml.experiments.worker.run` wherever it runs code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError

if TYPE_CHECKING:
    from gitml.experiments.executors.base import Executor

# name -> (module, class)
NAMES = {"local": ("gitml.experiments.executors.local", "LocalExecutor"),
         "ray": ("gitml.experiments.executors.rayexec", "RayExecutor")}


def load(name: str, **options: Any) -> Executor:
    """The executor called ``name``, configured with ``options`` (each takes what it uses)."""
    if name not in NAMES:
        raise BadInputError(f"unknown executor {name!r}: choose {', '.join(NAMES)}")
    module, cls = NAMES[name]
    return getattr(importlib.import_module(module), cls)(**options)  # type: ignore[no-any-return]
