"""Hashes of deps and outs in the workspace, and the param values a stage reads.

Files are hashed through the stat cache (an unchanged file is never read again). A
directory is hashed like ``gitml add`` does: its manifest's hash, built from stat-cache
hashes. The stat cache keeps one *snapshot* per directory (its manifest hash and a
digest of every file's stat, under Git's racy-clean rule), shared with ``gitml add``
and ``gitml status``: when nothing under a directory changed, its hash is known after
one walk, without looking up every file or serialising the manifest.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from gitml import manifest
from gitml.errors import GitmlError
from gitml.fsutil import scan_stats
from gitml.manifest import Entry
from gitml.pipeline.lockfile import HashInfo

if TYPE_CHECKING:
    from gitml.pipeline.schema import ParamRef
    from gitml.repo import Repo

_EXEC = 0o100
_FMT, _REG = stat.S_IFMT(0o177777), stat.S_IFREG


class ParamMissing(GitmlError):
    """A listed param key (or its file) does not exist."""

    def __init__(self, file: str, key: str | None) -> None:
        what = f"param {key} is not in {file}" if key else f"params file {file} does not exist"
        super().__init__(what)
        self.file = file
        self.key = key


class State:
    """Hashes workspace paths for one command, remembering what it already hashed."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.memo: dict[str, HashInfo | None] = {}
        self._params: dict[str, Any] = {}

    def renew(self) -> None:
        """Save the stat cache and start a new one: call after a stage wrote files.

        Entries are trusted only for files older than the stamp taken before they were
        read; outputs written after this process took its stamp would otherwise be
        hashed again by every later command.
        """
        repo = self.repo
        if "statcache" in repo.__dict__:
            repo.statcache.commit()
            repo.statcache.close()
            del repo.statcache  # a fresh StatCache takes a fresh stamp on first use

    def save(self) -> None:
        if "statcache" in self.repo.__dict__:
            self.repo.statcache.commit()

    # -- hashing ----------------------------------------------------------------------
    def forget(self, rels: list[str]) -> None:
        """Drop remembered hashes of ``rels`` and of paths inside or above them."""
        for key in list(self.memo):
            if any(key == r or key.startswith(r + "/") or r.startswith(key + "/")
                   for r in rels):
                del self.memo[key]
        for r in rels:
            self._params.pop(r, None)

    def remember(self, rel: str, info: HashInfo) -> None:
        self.memo[rel] = info

    def info(self, rel: str) -> HashInfo | None:
        """The hash of the file or directory at ``rel``; None when it does not exist."""
        if rel in self.memo:
            return self.memo[rel]
        full = self.repo.abspath(rel)
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                os.stat(full)  # a broken link counts as missing
        except (FileNotFoundError, NotADirectoryError):
            result = None
        else:
            from gitml.workspace import Hasher

            hasher = Hasher(self.repo, rel)
            if os.path.isdir(full):
                result = _dir(hasher, full)
            else:
                result = HashInfo(hasher.oid_key("", full, st), os.stat(full).st_size)
        self.memo[rel] = result
        return result

    # -- params -------------------------------------------------------------------------
    def param_values(self, ref: ParamRef) -> dict[str, Any]:
        """Flattened values (``train.lr`` -> 0.1) of one params reference."""
        from gitml.structured import flatten

        data = self._params_file(ref.file)
        if ref.key is None:
            return flatten(data)
        value = _lookup(data, ref.key)
        if value is _MISSING:
            raise ParamMissing(ref.file, ref.key)
        if isinstance(value, (dict, list)) and value:
            return flatten(value, ref.key)
        return {ref.key: value}

    def _params_file(self, rel: str) -> Any:
        if rel not in self._params:
            from gitml.structured import parse

            try:
                with open(self.repo.abspath(rel), "rb") as f:
                    self._params[rel] = parse(f.read(), rel)
            except FileNotFoundError:
                raise ParamMissing(rel, None) from None
        return self._params[rel]


def _dir(hasher: Any, full: str) -> HashInfo:
    """The manifest hash of a directory, exactly as ``gitml add`` computes it."""
    from gitml.statcache import stat_digest

    ws = scan_stats(full)
    total = 0
    plain = True  # only regular files: their stats alone say whether the bytes changed
    for st in ws.values():
        if st.st_mode & _FMT == _REG:
            total += st.st_size
        elif st.st_mode & _FMT != stat.S_IFDIR:  # an empty folder's stat says it all too
            plain = False
    digest, newest = stat_digest(ws)
    snap = hasher.cache.snapshot
    if plain and snap is not None and hasher.cache.clean_snapshot(snap[0], digest, newest):
        return HashInfo(snap[0], total, len(ws))
    entries: list[Entry] = []
    empty: list[str] = []
    total = 0
    for frel, lst in ws.items():
        if frel[-1] == "/":  # an empty folder, kept in the manifest as add keeps it
            empty.append(frel[:-1])
            continue
        path = os.path.join(full, frel)
        try:  # add follows links (the symlink link type) and keeps regular files only
            st = os.stat(path) if stat.S_ISLNK(lst.st_mode) else lst
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        oid = hasher.oid_key(frel, path, lst)
        entries.append(Entry(frel, oid, st.st_size, bool(st.st_mode & _EXEC)))
        total += st.st_size
    moid, _ = manifest.oid_of(entries, empty)
    if plain:
        hasher.cache.set_snapshot(moid, digest)
    return HashInfo(moid, total, len(entries))


_MISSING = object()


def _lookup(data: Any, key: str) -> Any:
    if isinstance(data, dict) and key in data:
        return data[key]
    head, sep, rest = key.partition(".")
    while sep:
        if isinstance(data, dict) and head in data:
            found = _lookup(data[head], rest)
            if found is not _MISSING:
                return found
        more, sep, rest = rest.partition(".")
        head = f"{head}.{more}"
    if isinstance(data, list) and key.isdigit() and int(key) < len(data):
        return data[int(key)]
    return _MISSING
