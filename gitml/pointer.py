"""Pointer files (``<path>.gitml``): schema, validation and canonical YAML.

Format version 1 (docs/formats.md)::

    gitml: 1
    path: train.parquet      # the tracked name, relative to the pointer's directory
    kind: file               # or dir
    hash: xxh3:<32 hex>      # a dir's hash is its manifest's
    size: 1048576            # bytes (a dir: sum of its files)
    files: 12                # dir only
    meta: {rows: 1000, ...}  # optional (Parquet: rows, columns, schema)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitml import yamlio
from gitml.errors import FormatError, UnsafePathError
from gitml.hashing import is_oid

SUFFIX = ".gitml"
VERSION = 1
KINDS = ("file", "dir")
_KEYS = {"gitml", "path", "kind", "hash", "size", "files", "meta"}


@dataclass(frozen=True)
class Pointer:
    """What a pointer file says about one tracked path."""

    path: str
    kind: str
    oid: str
    size: int
    files: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gitml": VERSION, "path": self.path, "kind": self.kind,
                             "hash": self.oid, "size": self.size}
        if self.files is not None:
            d["files"] = self.files
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, d: Any, source: str, expected_name: str | None = None) -> Pointer:
        """Validate a parsed pointer; ``expected_name`` is the name its location implies."""
        if not isinstance(d, dict):
            raise FormatError(source, "not a gitml pointer (expected a mapping)")
        unknown = set(d) - _KEYS
        if unknown:
            raise FormatError(source, f"unknown key {sorted(unknown)[0]!r}")
        if d.get("gitml") != VERSION:
            raise FormatError(source, f"unsupported or missing format version {d.get('gitml')!r}")
        path, kind, oid, size = d.get("path"), d.get("kind"), d.get("hash"), d.get("size")
        if not isinstance(path, str) or not path:
            raise FormatError(source, "missing 'path'")
        if "/" in path or "\\" in path or path in (".", "..") or "\x00" in path:
            raise UnsafePathError(source, f"path {path!r} must be a plain name beside the pointer")
        if expected_name is not None and path != expected_name:
            raise FormatError(source, f"path {path!r} disagrees with the pointer's own name "
                                      f"(expected {expected_name!r})")
        if kind not in KINDS:
            raise FormatError(source, f"kind must be 'file' or 'dir', not {kind!r}")
        if not is_oid(oid):
            raise FormatError(source, f"malformed hash {oid!r} (expected xxh3: + 32 hex digits)")
        if type(size) is not int or size < 0:
            raise FormatError(source, f"malformed size {size!r}")
        files = d.get("files")
        if kind == "dir" and (type(files) is not int or files < 0):
            raise FormatError(source, f"malformed file count {files!r}")
        meta = d.get("meta") or {}
        if not isinstance(meta, dict):
            raise FormatError(source, "'meta' must be a mapping")
        return cls(path, kind, oid, size, files if kind == "dir" else None, meta)


def pointer_path(data_path: str) -> str:
    return data_path + SUFFIX


def loads(data: bytes | str, source: str, expected_name: str | None = None) -> Pointer:
    raw = data.encode() if isinstance(data, str) else data
    if raw.startswith(b"<<<<<<< ") or b"\n<<<<<<< " in raw:
        raise FormatError(source, "unresolved merge conflict: keep one side with 'git checkout "
                                  "--ours FILE' (or --theirs), then run 'gitml checkout'")
    return Pointer.from_dict(yamlio.loads(data, source), source, expected_name)


def dumps(p: Pointer) -> str:
    return yamlio.dumps(p.to_dict())


def load(pointer_file: str, source: str | None = None) -> Pointer:
    """Read and validate the pointer file at ``pointer_file``."""
    src = source or pointer_file
    try:
        with open(pointer_file, "rb") as f:
            data = f.read(1 << 20)
    except FileNotFoundError:
        raise FormatError(src, "pointer file does not exist") from None
    name = os.path.basename(pointer_file)[: -len(SUFFIX)]
    return loads(data, src, expected_name=name)
