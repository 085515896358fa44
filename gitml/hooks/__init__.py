"""What each Git hook does (issue 7). :mod:`gitml.githooks` installs the shims and dispatches.

Every handler has the signature ``(root, args, stdin, only, options) -> exit code``:
Git's hook arguments, the hook's standard input (pre-push, post-rewrite), the checks
to limit a run to (``--only``) and options from the command line.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from gitml import config
from gitml.errors import ConfigError

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


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.I)


def parse_size(value: Any) -> int:
    """Bytes from ``5242880``, ``5MiB``, ``5M`` (both 2**20), ``5MB`` (10**6); 0 = no limit."""
    if isinstance(value, bool):
        raise ConfigError(f"expected a size such as 5MiB, not {value!r}")
    if isinstance(value, int):
        n = value
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise ConfigError(f"expected a size such as 5MiB or 10MB, not {value!r}")
        number, unit, binary, byte = m.groups()
        power = "kmgt".find(unit.lower()) + 1
        base = 1000 if (unit and byte and not binary) else 1024
        n = int(float(number) * base ** power)
    if n < 0:
        raise ConfigError(f"expected a size >= 0, not {value!r}")
    return n


# The settings the hooks read (``gitml config hooks.max_file_size 10MB``).
config.register(r"hooks\.max_file_size", parse_size)
