"""Finding DVC's files: in the workspace (what to convert) and in every commit (which
objects older revisions name, so they come into the store too)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

from gitml import gitio
from gitml.dvcimport.dvcfiles import (
    MAX_YAML,
    DvcHash,
    Unsupported,
    parse_dvcfile,
    parse_hash,
    parse_lock,
)
from gitml.errors import FormatError, GitmlError

LOCK, YAML, SUFFIX = "dvc.lock", "dvc.yaml", ".dvc"


def is_dvcfile(rel: str) -> bool:
    """A ``.dvc`` file (not DVC's own ``.dvc/`` directory)."""
    return (rel.endswith(SUFFIX) and not rel.startswith(".dvc/")
            and posixpath.basename(rel) != SUFFIX)


@dataclass
class Workspace:
    """DVC's files in the work tree, repository-relative."""

    dvcfiles: list[str] = field(default_factory=list)
    yamls: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)


def workspace(root: str) -> Workspace:
    """Every .dvc file, dvc.yaml and dvc.lock that Git tracks or would (not ignored)."""
    out = gitio.run(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                    "--deduplicate")
    ws = Workspace()
    for rel in sorted({p for p in out.decode(errors="surrogateescape").split("\0") if p}):
        if not os.path.isfile(os.path.join(root, rel)):
            continue
        name = posixpath.basename(rel)
        if name == YAML:
            ws.yamls.append(rel)
        elif name == LOCK:
            ws.locks.append(rel)
        elif is_dvcfile(rel):
            ws.dvcfiles.append(rel)
    return ws


def history_hashes(root: str) -> dict[str, DvcHash]:
    """Every hash a ``.dvc`` file or ``dvc.lock`` names in any commit reachable from a ref:
    {md5 name: hash}. Files that do not parse are passed over (they name nothing)."""
    if gitio.no_commit_yet(root):
        return {}
    out = gitio.run(root, "rev-list", "--objects", "--all")
    blobs: dict[str, str] = {}
    for line in out.decode(errors="surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path and (posixpath.basename(path) == LOCK or is_dvcfile(path)):
            blobs.setdefault(sha, path)
    found: dict[str, DvcHash] = {}
    with gitio.BatchReader(root) as reader:
        for sha, path in blobs.items():
            obj = reader.read_object(sha, limit=MAX_YAML)
            if obj is None or obj[2] is None:
                continue
            for h in _hashes(obj[2], path):
                found.setdefault(h.name, h)
    return found


def _hashes(data: bytes, path: str) -> Iterator[DvcHash]:
    try:
        if posixpath.basename(path) == LOCK:
            for stage in parse_lock(data, path).values():
                for item in stage.deps + stage.outs:
                    h = _safe_hash(item, path)
                    if h is not None:
                        yield h
            return
        for out in parse_dvcfile(data, path).outs:
            if out.hash is not None:
                yield out.hash
    except (GitmlError, Unsupported):
        return


def _safe_hash(item: dict[str, object], path: str) -> DvcHash | None:
    try:
        return parse_hash(item, path)
    except (FormatError, Unsupported):
        return None

