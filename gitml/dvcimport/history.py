"""Reading revisions from before the import, through DVC's files at that revision.

A commit from the DVC era has no ``.gitml`` pointers, only ``.dvc`` files and
``dvc.lock``; their MD5s are translated through the DVC map (:mod:`gitml.dvcimport.dvcmap`)
into the pointers gitml would have written, so ``gitml diff``, ``push/fetch --rev``,
``gitml.api.read`` and the metrics readers see the same data either side of the switch.
Metrics and params declarations come from that revision's ``dvc.yaml``.

Everything here is cheap when there was no import: :func:`enabled` is one ``stat``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.dvcimport import dvcmap
from gitml.dvcimport.discover import LOCK, YAML, is_dvcfile
from gitml.dvcimport.dvcfiles import (
    MAX_YAML,
    DvcHash,
    Unsupported,
    load_yaml,
    parse_dvcfile,
    parse_hash,
    parse_lock,
    repo_path,
)
from gitml.errors import GitmlError
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo

_cache: dict[tuple[str, str], dict[str, Pointer]] = {}


def enabled(repo: Repo) -> bool:
    """True when the workspace (or, without one, HEAD) records a DVC import (its map)."""
    if os.path.exists(os.path.join(repo.root, *dvcmap.RECORD.split("/"))):
        return True
    return dvcmap.record_oid(repo) is not None


def pointers_at(repo: Repo, rev: str, reader: gitio.BatchReader | None = None, *,
                fetch: Callable[[str], None] | None = None) -> dict[str, Pointer]:
    """{data path: pointer} for the data DVC's files track at ``rev`` (whose MD5 the map
    knows); {} for a revision without DVC files or a repository without an import.
    ``fetch(oid)`` brings a map missing from the store (default: the default remote)."""
    if not enabled(repo):
        return {}
    sha = gitio.rev_parse(repo.root, rev)
    key = (repo.root, sha)
    if key not in _cache:
        own = reader is None
        reader = reader or gitio.BatchReader(repo.root)
        try:
            _cache[key] = _pointers(repo, sha, reader, fetch)
        finally:
            if own:
                reader.close()
    return _cache[key]


def _pointers(repo: Repo, sha: str, reader: gitio.BatchReader,
              fetch: Callable[[str], None] | None) -> dict[str, Pointer]:
    files = _tree(repo, sha)
    dvcfiles = [p for p in files if is_dvcfile(p)]
    locks = [p for p in files if posixpath.basename(p) == LOCK]
    if not dvcfiles and not locks:
        return {}
    mapping = dvcmap.load(repo, fetch=fetch or True)
    found: dict[str, DvcHash] = {}
    for rel in dvcfiles:
        data = _blob(reader, files[rel])
        try:
            f = parse_dvcfile(data, rel, f"{sha[:10]}:{rel}") if data is not None else None
        except (GitmlError, Unsupported):
            continue
        for o in f.outs if f else ():
            if o.hash is not None and o.cache:
                found.setdefault(o.path, o.hash)
    for rel in locks:
        for path, h in _lock_outs(reader, files, rel, sha):
            if path not in files:  # a Git-kept output is a blob at that revision
                found.setdefault(path, h)
    out: dict[str, Pointer] = {}
    for path, h in found.items():
        hit = mapping.get(h.name)
        if hit is not None:
            kind = "dir" if h.is_dir else "file"
            out[path] = Pointer(posixpath.basename(path), kind, hit[0], hit[1], hit[2])
    return out


def _tree(repo: Repo, sha: str) -> dict[str, str]:
    """{path: blob sha} of every file at commit ``sha``."""
    raw = gitio.run(repo.root, "ls-tree", "-r", "-z", "--full-tree", sha)
    out = {}
    for rec in raw.decode(errors="surrogateescape").split("\0"):
        meta, _, path = rec.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
    return out


def _blob(reader: gitio.BatchReader, sha: str) -> bytes | None:
    obj = reader.read_object(sha, limit=MAX_YAML)
    return None if obj is None else obj[2]


def _lock_outs(reader: gitio.BatchReader, files: dict[str, str], rel: str, sha: str
               ) -> list[tuple[str, DvcHash]]:
    """(path, hash) of each output a dvc.lock records; paths are relative to each stage's
    wdir, which only its dvc.yaml says."""
    base = posixpath.dirname(rel)
    data = _blob(reader, files[rel])
    try:
        stages = parse_lock(data, f"{sha[:10]}:{rel}") if data is not None else {}
    except GitmlError:
        return []
    wdirs = _wdirs(reader, files.get(posixpath.join(base, YAML)), f"{sha[:10]}:{rel}")
    out = []
    for name, stage in stages.items():
        wdir = wdirs.get(name.split("@")[0], "")
        where = posixpath.normpath(posixpath.join(base, wdir)) if wdir else base
        for item in stage.outs:
            try:
                path = repo_path("" if where == "." else where, item.get("path"), rel)
                h = parse_hash(item, rel)
            except (GitmlError, Unsupported):
                continue
            if h is not None:
                out.append((path, h))
    return out


def _wdirs(reader: gitio.BatchReader, sha: str | None, source: str) -> dict[str, str]:
    doc = _yaml(reader, sha, source)
    stages = doc.get("stages") if isinstance(doc, dict) else None
    out: dict[str, str] = {}
    for name, body in (stages or {}).items() if isinstance(stages, dict) else ():
        body = body.get("do", body) if isinstance(body, dict) else {}
        wdir = body.get("wdir") if isinstance(body, dict) else None
        if isinstance(wdir, str) and "${" not in wdir:
            out[str(name)] = wdir
    return out


def _yaml(reader: gitio.BatchReader, sha: str | None, source: str) -> Any:
    if sha is None:
        return None
    data = _blob(reader, sha)
    if data is None:
        return None
    try:
        return load_yaml(data, source)
    except GitmlError:
        return None


def declarations(data: bytes, source: str) -> dict[str, Any] | None:
    """The parts of a DVC-era ``dvc.yaml`` that say which files hold metrics and params
    (gitml's metrics readers accept DVC's shapes), or None when it does not parse."""
    try:
        doc = load_yaml(data, source)
    except GitmlError:
        return None
    if not isinstance(doc, dict):
        return None
    return {k: doc[k] for k in ("metrics", "params", "stages") if k in doc}
