"""What each Git hook does (issue 7). :mod:`gitml.githooks` installs the shims and dispatches.

Kept light: this package is imported on every hook run, before anything is known to be
worth doing. Settings live in :mod:`gitml.hooks.settings`.

Every handler has the signature ``(root, args, stdin, only, options) -> exit code``:
Git's hook arguments, the hook's standard input (pre-push, post-rewrite), the checks
to limit a run to (``--only``) and options from the command line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

Handler = Callable[[str, list[str], bytes, set[str], dict[str, str]], int]

_HANDLERS = {
    "pre-commit": "gitml.hooks.precommit:run",
    "post-checkout": "gitml.hooks.follow:post_checkout",
    "post-merge": "gitml.hooks.follow:post_merge",
    "post-rewrite": "gitml.hooks.follow:post_rewrite",
    "pre-push": "gitml.hooks.prepush:run",
}


def handler(name: str) -> Handler:
    module, _, attr = _HANDLERS[name].partition(":")
    fn: Handler = getattr(importlib.import_module(module), attr)
    return fn


def human(n: int | None) -> str:
    """A size for people: 512 B, 1.5 KiB, 12.0 MiB."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"

