"""``dvc.lock`` -> ``gitml.lock``, so that ``gitml status`` calls a stage up to date exactly
when DVC did.

Each DVC hash (an MD5) is translated to the gitml hash of the same content: through the
objects just brought in from DVC's cache, else by hashing the workspace copy when its
MD5 still matches (code and other Git-kept files are not in DVC's cache). Content found
nowhere is recorded as :data:`UNKNOWN`, which matches nothing: DVC saw such a stage as
changed too, and gitml will run it again. Param values are flattened to gitml's dotted
keys; paths become repository-relative.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.dvcimport.dvcfiles import (
    DvcHash,
    LockStage,
    Skip,
    Unsupported,
    parse_hash,
    repo_path,
)
from gitml.dvcimport.objects import md5_matches
from gitml.errors import FormatError
from gitml.pipeline.lockfile import HashInfo, LockEntry

if TYPE_CHECKING:
    from gitml.pipeline.dag import Pipeline
    from gitml.pipeline.schema import Stage
    from gitml.repo import Repo

UNKNOWN = "xxh3:" + "0" * 32  # content DVC recorded that is nowhere to be found


@dataclass
class Resolver:
    """DVC hashes -> gitml hashes of the same content."""

    repo: Repo
    files: dict[str, tuple[str, int]]  # md5 -> (oid, size)
    dirs: dict[str, tuple[str, int, int]]  # md5 of a .dir -> (manifest oid, size, files)
    _state: Any = field(default=None, repr=False)

    def info(self, rel: str, h: DvcHash) -> HashInfo | None:
        if h.is_dir:
            d = self.dirs.get(h.md5)
            if d is not None:
                return HashInfo(*d)
        else:
            f = self.files.get(h.md5)
            if f is not None:
                return HashInfo(f[0], f[1])
        full = self.repo.abspath(rel)
        same = (dir_md5(full, h.legacy) == h.md5 if h.is_dir else
                os.path.isfile(full) and md5_matches(full, h.md5, h.legacy))
        if not same:
            return None
        if self._state is None:
            from gitml.pipeline.state import State

            self._state = State(self.repo)
        info: HashInfo | None = self._state.info(rel)
        return info

    def save(self) -> None:
        if self._state is not None:
            self._state.save()


def dir_md5(full: str, legacy: bool = False) -> str | None:
    """DVC's hash of the directory at ``full`` (MD5 of its ``.dir`` JSON), None if absent."""
    if not os.path.isdir(full):
        return None
    from gitml.dvcimport.objects import dos2unix_md5
    from gitml.fsutil import scan_stats

    rows = []
    for rel in sorted(scan_stats(full)):
        path = os.path.join(full, rel)
        if not os.path.isfile(path):
            continue
        with open(path, "rb", buffering=0) as f:
            if legacy:
                md5 = dos2unix_md5(f.read)
            else:
                h = hashlib.md5(usedforsecurity=False)
                while chunk := f.read(4 << 20):
                    h.update(chunk)
                md5 = h.hexdigest()
        rows.append({"md5": md5, "relpath": rel})
    data = json.dumps(rows, sort_keys=True).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


Pair = tuple["Stage", LockStage, str]  # a gitml stage, its DVC lock entry, where that is


def pair(pipe: Pipeline, origin: dict[str, tuple[str, str]],
         locks: dict[str, dict[str, LockStage]]) -> list[Pair]:
    """Each stage of ``pipe`` that a DVC lock records, with that record."""
    out: list[Pair] = []
    for st in pipe.stages.values():
        group = st.group or st.name
        if group not in origin:
            continue
        yaml_rel, dvc_group = origin[group]
        lock = locks.get(yaml_rel) or {}
        dvc_name = dvc_group + st.name[len(group):]
        found = lock.get(dvc_name)
        if found is None and st.group:
            found = _match(st, dvc_group, lock)
        if found is not None:
            out.append((st, found, f"{yaml_rel[:-4]}lock: stage {dvc_name!r}"))
    return out


def cached_outs(pairs: list[Pair]) -> list[tuple[str, DvcHash]]:
    """(repository path, DVC hash) of every output the store keeps (not ``cache: false``)."""
    out = []
    for st, lk, where in pairs:
        cached = {o.path for o in st.outs if o.cache}
        for item in lk.outs:
            try:
                path = repo_path(st.wdir, item.get("path"), where)
                h = parse_hash(item, where)
            except (FormatError, Unsupported):
                continue
            if h is not None and path in cached:
                out.append((path, h))
    return out


def convert(pairs: list[Pair], resolve: Resolver) -> tuple[dict[str, LockEntry], list[Skip]]:
    """gitml lock entries for the paired stages."""
    entries: dict[str, LockEntry] = {}
    skips: list[Skip] = []
    for st, found, where in pairs:
        try:
            entries[st.name] = _entry(st, found, resolve, where, skips.append)
        except (FormatError, Unsupported) as e:
            skips.append(Skip(where, str(e) if isinstance(e, Unsupported) else e.problem))
    resolve.save()
    return entries, skips


def _match(st: Stage, group: str, lock: dict[str, LockStage]) -> LockStage | None:
    """The lock entry of a foreach/matrix member whose name DVC spells differently: the one
    of the same group with the same command."""
    hits = [e for n, e in lock.items() if n.startswith(group + "@") and e.cmd == st.cmd]
    return hits[0] if len(hits) == 1 else None


def _entry(st: Stage, lk: LockStage, resolve: Resolver, where: str,
           skip: Callable[[Skip], None]) -> LockEntry:
    from gitml.structured import flatten

    def infos(items: list[dict[str, Any]], kind: str) -> dict[str, HashInfo]:
        out: dict[str, HashInfo] = {}
        for item in items:
            if "path" not in item:  # a DVC dataset: no gitml equivalent
                skip(Skip(f"{where}: {kind}", f"{item.get('name', item)!r} is a DVC dataset; "
                          "not converted"))
                continue
            path = repo_path(st.wdir, item["path"], where)
            h = parse_hash(item, f"{where}: {path}")
            info = resolve.info(path, h) if h is not None else None
            if info is None:
                size = h.size if h is not None and h.size is not None else 0
                info = HashInfo(UNKNOWN, size, h.nfiles if h is not None and h.is_dir else None)
                what = f"MD5 {h.name}" if h is not None else "no hash"
                skip(Skip(f"{where}: {kind} {path}", f"the content DVC recorded ({what}) is "
                          "neither in DVC's cache nor in the workspace; the stage will run "
                          "again"))
            out[path] = info
        return out

    params: dict[str, dict[str, Any]] = {}
    for file, values in lk.params.items():
        flat: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, (dict, list)) and value:
                flat.update(flatten(value, str(key)))
            else:
                flat[str(key)] = value
        params[repo_path(st.wdir, file, where)] = flat
    outs = infos(lk.outs, "out")
    uncached = frozenset(o.path for o in st.outs if not o.cache and o.path in outs)
    return LockEntry(lk.cmd, st.wdir, infos(lk.deps, "dep"), params, outs, uncached)
