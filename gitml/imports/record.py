"""The import record a pointer carries in ``meta.import`` (docs/formats.md, "Import record,
version 1"): where its data came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitml.errors import FormatError, GitmlError
from gitml.fsutil import check_relpath
from gitml.imports.source import check_text
from gitml.pointer import Pointer

VERSION = 1
KEY = "import"
_KEYS = {"version", "url", "path", "rev", "commit"}
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


@dataclass(frozen=True)
class Record:
    url: str
    path: str
    rev: str | None
    commit: str

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": VERSION, "url": self.url, "path": self.path}
        if self.rev is not None:
            d["rev"] = self.rev
        d["commit"] = self.commit
        return d

    @property
    def pinned(self) -> bool:
        """The revision asked for is the commit itself: its source cannot move."""
        return self.rev is not None and self.rev == self.commit


def of(ptr: Pointer, source: str) -> Record | None:
    """The pointer's import record, None when it has none; a malformed one is an error
    naming ``source`` (the pointer file)."""
    raw = ptr.meta.get(KEY)
    if raw is None:
        return None
    where = f"{source}: meta.import"
    if not isinstance(raw, dict) or set(raw) - _KEYS or not {"version", "url", "path",
                                                              "commit"} <= set(raw):
        raise FormatError(where, "expected version, url, path, commit and an optional rev")
    if raw["version"] != VERSION:
        raise FormatError(where, f"unsupported version {raw['version']!r}")
    try:
        check_text(raw["url"], "url")
        if raw.get("rev") is not None:
            check_text(raw["rev"], "rev")
    except GitmlError as e:
        raise FormatError(where, str(e)) from None
    check_relpath(raw["path"], source=where)
    if not isinstance(raw["commit"], str) or not _SHA.fullmatch(raw["commit"]):
        raise FormatError(where, f"malformed commit {raw['commit']!r}")
    return Record(raw["url"], raw["path"], raw.get("rev"), raw["commit"])
