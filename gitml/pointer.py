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

import errno
import os
from dataclasses import dataclass, field
from typing import Any

from gitml import yamlio
from gitml.errors import FormatError, UnsafePathError
from gitml.hashing import is_oid
from gitml.pathrules import check_relpath

SUFFIX = ".gitml"
VERSION = 1
KINDS = ("file", "dir")
MAX_BYTES = yamlio.limit("pointer")  # larger pointer files are refused by every reader
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
        if "/" in path:
            raise UnsafePathError(source, f"path {path!r} must be a plain name beside the pointer")
        check_relpath(path, source=source)
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
    return Pointer.from_dict(yamlio.loads(data, source, "pointer"), source, expected_name)


def dumps(p: Pointer) -> str:
    return yamlio.dumps(p.to_dict())


def data_path(pointer_rel: str, source: str | None = None) -> str:
    """The data path a pointer at repo-relative ``pointer_rel`` names, checked by the one
    path validator (no ``.git``/``.gitml`` component in any spelling, no ``..``)."""
    rel = pointer_rel[: -len(SUFFIX)]
    check_relpath(rel, source=source or pointer_rel)
    return rel


def load_at(data: bytes | str, pointer_rel: str, source: str | None = None) -> Pointer:
    """Parse the pointer committed at repo-relative ``pointer_rel`` (a blob from Git):
    its data path is validated, and ``path:`` must agree with its name."""
    rel = data_path(pointer_rel, source)
    return loads(data, source or pointer_rel, expected_name=rel.rpartition("/")[2])


def load(pointer_file: str, source: str | None = None) -> Pointer:
    """Read and validate the pointer file at ``pointer_file`` (never through a link)."""
    src = source or pointer_file
    try:
        fd = os.open(pointer_file, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise FormatError(src, "pointer file does not exist") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FormatError(src, "a pointer file must not be a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as f:
        data = yamlio.read_open(f, src, "pointer")
    name = os.path.basename(pointer_file)[: -len(SUFFIX)]
    return loads(data, src, expected_name=name)
