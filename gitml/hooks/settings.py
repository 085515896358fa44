"""The settings the hooks read from gitml's config (``gitml config hooks.max_file_size 10MB``)."""

from __future__ import annotations

import re
from typing import Any

from gitml import config
from gitml.errors import ConfigError

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
