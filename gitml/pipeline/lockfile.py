"""``gitml.lock``: per stage, what it last ran with — cmd, dep hashes, param values, out hashes.

Canonical form, format version 1 (docs/pipelines.md, "gitml.lock")::

    gitml-lock: 1
    stages:                       # sorted by stage name
      train:
        cmd: python train.py      # a list when the stage has several commands
        wdir: sub                 # only when not the repository root
        deps:                     # sorted by path
        - path: data/train.parquet
          hash: xxh3:<32 hex>     # a directory's hash is its manifest's (as in pointers)
          size: 1048576
          files: 12               # directories only
        params:                   # files sorted, keys sorted, flattened to dotted keys
          params.yaml:
            train.lr: 0.01
        outs:                     # sorted by path
        - path: models/model.pkl
          hash: xxh3:<32 hex>
          size: 5120
        - path: metrics.json
          hash: xxh3:<32 hex>
          size: 40
          cache: false            # committed to Git rather than stored

Empty ``deps``/``params``/``outs`` are omitted. Written atomically by ``gitml repro``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitml import yamlio
from gitml.errors import FormatError
from gitml.fsutil import atomic_write, check_relpath
from gitml.hashing import is_oid

LOCK_FILE = "gitml.lock"
VERSION = 1


@dataclass(frozen=True)
class HashInfo:
    """The hash of a file or directory (``files`` set for a directory)."""

    oid: str
    size: int
    files: int | None = None

    def to_dict(self, path: str) -> dict[str, Any]:
        d: dict[str, Any] = {"path": path, "hash": self.oid, "size": self.size}
        if self.files is not None:
            d["files"] = self.files
        return d


@dataclass
class LockEntry:
    """What one stage ran with and produced."""

    cmd: tuple[str, ...]
    wdir: str = ""
    deps: dict[str, HashInfo] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: dict[str, HashInfo] = field(default_factory=dict)
    uncached: frozenset[str] = frozenset()  # outs committed to Git (cache: false)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cmd": self.cmd[0] if len(self.cmd) == 1 else list(self.cmd)}
        if self.wdir:
            d["wdir"] = self.wdir
        if self.deps:
            d["deps"] = [self.deps[p].to_dict(p) for p in sorted(self.deps)]
        if self.params:
            d["params"] = {f: {k: self.params[f][k] for k in sorted(self.params[f])}
                           for f in sorted(self.params)}
        if self.outs:
            outs = []
            for p in sorted(self.outs):
                o = self.outs[p].to_dict(p)
                if p in self.uncached:
                    o["cache"] = False
                outs.append(o)
            d["outs"] = outs
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> LockEntry:
        if not isinstance(d, dict):
            raise FormatError(LOCK_FILE, f"{where}: expected a mapping")
        unknown = set(d) - {"cmd", "wdir", "deps", "params", "outs"}
        if unknown:
            raise FormatError(LOCK_FILE, f"{where}: unknown key {sorted(unknown)[0]!r}")
        cmd = d.get("cmd")
        cmd = [cmd] if isinstance(cmd, str) else cmd
        if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
            raise FormatError(LOCK_FILE, f"{where}: malformed cmd")
        wdir = d.get("wdir", "")
        if not isinstance(wdir, str):
            raise FormatError(LOCK_FILE, f"{where}: malformed wdir")
        deps = dict(_infos(d.get("deps"), f"{where}.deps"))
        outs: dict[str, HashInfo] = {}
        uncached = set()
        for path, info, cache in _infos(d.get("outs"), f"{where}.outs", with_cache=True):
            outs[path] = info
            if not cache:
                uncached.add(path)
        params = d.get("params") or {}
        if not isinstance(params, dict) or not all(
                isinstance(f, str) and isinstance(v, dict) for f, v in params.items()):
            raise FormatError(LOCK_FILE, f"{where}: malformed params")
        return cls(tuple(cmd), wdir, deps, params, outs, frozenset(uncached))


def _infos(items: Any, where: str, with_cache: bool = False) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise FormatError(LOCK_FILE, f"{where}: expected a list")
    out: list[Any] = []
    for it in items:
        ok = (isinstance(it, dict) and isinstance(it.get("path"), str) and is_oid(it.get("hash"))
              and type(it.get("size")) is int and it["size"] >= 0
              and (it.get("files") is None or type(it.get("files")) is int)
              and isinstance(it.get("cache", True), bool))
        if not ok:
            raise FormatError(LOCK_FILE, f"{where}: malformed entry {it!r}")
        check_relpath(it["path"], source=f"{LOCK_FILE}: {where}")
        info = HashInfo(it["hash"], it["size"], it.get("files"))
        out.append((it["path"], info, it.get("cache", True)) if with_cache
                   else (it["path"], info))
    return out


def loads(data: bytes | str, source: str = LOCK_FILE) -> dict[str, LockEntry]:
    doc = yamlio.loads(data, source, "lock")
    if doc is None:
        return {}
    if not isinstance(doc, dict) or "gitml-lock" not in doc:
        raise FormatError(source, "not a gitml lock file (no 'gitml-lock' version)")
    if doc["gitml-lock"] != VERSION:
        raise FormatError(source, f"unsupported lock format version {doc['gitml-lock']!r}")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise FormatError(source, "'stages' must be a mapping")
    return {str(name): LockEntry.from_dict(body, f"stage {name!r}")
            for name, body in stages.items()}


def dumps(entries: dict[str, LockEntry]) -> str:
    doc = {"gitml-lock": VERSION,
           "stages": {n: entries[n].to_dict() for n in sorted(entries)}}
    return yamlio.dumps(doc)


def load(root: str) -> dict[str, LockEntry]:
    """The lock entries of the work tree at ``root`` ({} when there is no lock file)."""
    try:
        return loads(yamlio.read(os.path.join(root, LOCK_FILE), LOCK_FILE, "lock"))
    except FileNotFoundError:
        return {}


def save(root: str, entries: dict[str, LockEntry]) -> bool:
    """Write the lock file atomically when its content changes; True when it did."""
    path = os.path.join(root, LOCK_FILE)
    data = dumps(entries).encode()
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    atomic_write(path, data)
    return True
