"""An on-disk memo of work derived from immutable Git objects: trees and parsed files.

Every key names a Git object id (a tree, or a blob with the way it was parsed), so an
entry can never go stale and nothing needs invalidating. The memo lives in
``.gitml/tmp/`` (ignored by Git); it is read once, on first use, and rewritten
atomically only when a command added entries. A missing, foreign or damaged file is
an empty memo: losing it costs time, never correctness.
"""

from __future__ import annotations

import marshal
import os
import sys
from typing import Any

from gitml.fsutil import atomic_write

_FORMAT = ("gitml-memo", 1, sys.version_info[:2])
_MAX_ENTRIES = 100_000  # above this, a save keeps only the entries this command used


class Memo:
    """A persistent mapping of tuple keys to marshal-able values."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: dict[tuple[Any, ...], Any] | None = None
        self._used: set[tuple[Any, ...]] = set()
        self._dirty = False

    def _load(self) -> dict[tuple[Any, ...], Any]:
        if self._entries is None:
            self._entries = {}
            try:
                with open(self.path, "rb") as f:
                    head, entries = marshal.load(f)
                if head == _FORMAT and isinstance(entries, dict):
                    self._entries = entries
            except (OSError, EOFError, ValueError, TypeError):
                pass
        return self._entries

    def get(self, key: tuple[Any, ...]) -> Any:
        """The value stored under ``key``, or None."""
        value = self._load().get(key)
        if value is not None:
            self._used.add(key)
        return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        """Remember ``value`` (not None); values marshal cannot write are skipped."""
        try:
            marshal.dumps(value)
        except ValueError:  # e.g. a date parsed from YAML
            return
        self._load()[key] = value
        self._used.add(key)
        self._dirty = True

    def save(self) -> None:
        """Write the memo if this command added to it; a failure only loses the memo."""
        if not self._dirty or self._entries is None:
            return
        entries = self._entries
        if len(entries) > _MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self._used}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            atomic_write(self.path, marshal.dumps((_FORMAT, entries)), durable=False)
        except OSError:
            pass
        self._dirty = False
