"""gitml: Git-native versioning for data, models, params and metrics.

``gitml.Repo`` is the core API (add, status, checkout, diff, remove, gc, fsck);
``gitml.api`` holds one function per user action for the rest.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Live", "Repo", "__version__"]


def __getattr__(name: str) -> Any:  # lazy: keep `import gitml` cheap
    if name == "Repo":
        from gitml.repo import Repo

        return Repo
    if name == "Live":
        from gitml.live import Live

        return Live
    raise AttributeError(f"module 'gitml' has no attribute {name!r}")
