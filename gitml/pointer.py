"""Pointer files (``<path>.gitml``): schema, validation and canonical YAML.

Format versions 1 and 2 (docs/formats.md); gitml writes 1 unless the pointer needs 2::

    gitml: 1                 # 2 when exec is set
    path: train.parquet      # the tracked name, relative to the pointer's directory
    kind: file               # or dir
    hash: xxh3:<32 hex>      # a dir's hash is its manifest's
    size: 1048576            # bytes (a dir: sum of its files)
    files: 12                # dir only
    meta: {rows: 1000, ...}  # optional (Parquet: rows, columns, schema)
    exec: true               # version 2, a file only: its executable bit
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
VERSION = 2  # the newest version this gitml reads; it writes the oldest that holds a pointer
KINDS = ("file", "dir")
MAX_BYTES = yamlio.limit("pointer")  # larger pointer files are refused by every reader
_KEYS = {"gitml", "path", "kind", "hash", "size", "files", "meta"}
_KEYS_2 = _KEYS | {"exec"}  # version 2: a file's executable bit


@dataclass(frozen=True)
class Pointer:
    """What a pointer file says about one tracked path."""

    path: str
    kind: str
    oid: str
    size: int
    files: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    exec: bool = False  # a file's executable bit (format version 2)

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gitml": 2 if self.exec else 1, "path": self.path,
                             "kind": self.kind, "hash": self.oid, "size": self.size}
        if self.files is not None:
            d["files"] = self.files
        if self.exec:
            d["exec"] = True
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, d: Any, source: str, expected_name: str | None = None) -> Pointer:
        """Validate a parsed pointer; ``expected_name`` is the name its location implies."""
        if not isinstance(d, dict):
            raise FormatError(source, "not a gitml pointer (expected a mapping)")
        version = d.get("gitml")
        if version not in (1, 2) or type(version) is not int:
            newer = type(version) is int and version > VERSION
            raise FormatError(source, f"unsupported or missing format version {version!r}"
                                      + (": written by a newer gitml; upgrade gitml"
                                         if newer else ""))
        unknown = set(d) - (_KEYS if version == 1 else _KEYS_2)
        if unknown:
            raise FormatError(source, f"unknown key {sorted(unknown)[0]!r}")
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
        exe = d.get("exec", False)
        if type(exe) is not bool or (exe and kind != "file"):
            raise FormatError(source, f"malformed 'exec' {exe!r} (true, for a file only)")
        return cls(path, kind, oid, size, files if kind == "dir" else None, meta, exe)


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
