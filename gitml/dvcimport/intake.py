"""Which objects come into the store, from where, and what the workspace holds of them.

Every object the workspace's DVC files or any commit's name comes from DVC's cache (one
walk of it finds them all); what the cache lacks but the workspace holds unchanged comes
from the workspace. Then the workspace copies of the converted data are checked against
the new hashes, by two processes, and the stat cache learns each file that matches — so
the first ``gitml status`` after the import reads nothing again. A file that is the very
inode of the verified object (DVC's hardlink or symlink cache types) is not read at all.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitml import forkpool
from gitml.dvcimport import lock, objects
from gitml.dvcimport.dvcfiles import DvcHash, Skip
from gitml.errors import FormatError, GitmlError
from gitml.fsutil import scan_stats
from gitml.hashing import hash_file
from gitml.manifest import check_paths
from gitml.progress import Progress
from gitml.statcache import stat_digest

if TYPE_CHECKING:
    from gitml.repo import Repo

Entries = list[tuple[str, str, bool]]  # a .dir's (relpath, md5, isexec)


@dataclass
class Intake:
    """The objects brought in: DVC's MD5 -> gitml's hash, for files and directories."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # md5 -> (oid, size)
    dirs: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # md5 -> manifest
    inodes: dict[str, tuple[int, int]] = field(default_factory=dict)  # md5 -> (dev, ino)
    linked: int = 0
    copied: int = 0
    directories: int = 0
    skips: list[Skip] = field(default_factory=list)
    problems: list[Skip] = field(default_factory=list)  # data missing or corrupt
    modified: list[str] = field(default_factory=list)  # workspace paths that differ


def take(repo: Repo, cache: objects.DvcCache, every: dict[str, DvcHash],
         wanted: dict[str, tuple[DvcHash, str]], quiet: bool) -> Intake:
    """Bring in ``every`` object (DVC name -> hash; its directories' files too), then
    convert directories; ``wanted`` (name -> hash, workspace path) is what the workspace's
    DVC files track."""
    out = Intake()
    index = cache.index()
    dir_entries: dict[str, Entries] = {}
    for name, h in every.items():
        found = index.get(name)
        if h.is_dir and found is not None:
            try:
                dir_entries[name] = objects.read_dir(found.path, h.md5, found.legacy)
            except (GitmlError, OSError) as e:
                out.skips.append(Skip(f"DVC cache {name}", str(e)))
    names = {n for n, h in every.items() if not h.is_dir}
    names.update(md5 for entries in dir_entries.values() for _, md5, _ in entries)
    found_files = [index[n] for n in sorted(names) if n in index]
    with Progress("importing DVC's cache", total=len(found_files), unit="objects") as bar:
        brought = objects.bring_all(repo.store, found_files,
                                    progress=bar.update if bar.on and not quiet else None)
    out.files, out.inodes = brought.files, brought.inodes
    out.linked, out.copied = brought.linked, brought.copied
    for md5, reason in brought.corrupt.items():
        out.problems.append(Skip(f"DVC cache {md5}", f"{reason}; not imported"))
    out.copied += _from_workspace(repo, wanted, dir_entries, out)
    ws = check_workspace(repo, wanted, dir_entries, out.files, out.inodes, quiet)
    out.modified = ws.modified
    for name, entries in dir_entries.items():
        rel = wanted[name][1] if name in wanted else None
        execs = ws.execs(rel) if rel is not None else set()
        made = objects.convert_dir(repo.store, entries, out.files, execs.__contains__,
                                   ws.empty(rel) if rel is not None else [])
        if isinstance(made, list):
            if rel is not None:
                out.problems.append(Skip(rel, f"{len(made)} of its files are in neither "
                                         "DVC's cache nor the workspace (dvc pull, or "
                                         "--fetch); not converted"))
            continue
        out.dirs[every[name].md5] = made
        out.directories += 1
        walk = ws.walks.get(rel or "", {})
        if rel in ws.clean and not any(stat.S_ISLNK(st.st_mode) for st in walk.values()):
            # the next status: one walk, nothing read (a tree with symbolic links is checked
            # file by file, as gitml status does)
            repo.statcache.root(rel).set_snapshot(made[0], stat_digest(walk)[0])
    repo.statcache.commit()
    return out


def _from_workspace(repo: Repo, wanted: dict[str, tuple[DvcHash, str]],
                    dir_entries: dict[str, Entries], out: Intake) -> int:
    """Data DVC's cache lacks but the workspace holds, unchanged (same MD5): stored from
    there (a copy); returns how many objects."""
    todo: list[tuple[str, str, bool]] = []  # (workspace path, md5, legacy)
    for name, (h, rel) in wanted.items():
        if not h.is_dir:
            if h.md5 not in out.files:
                todo.append((rel, h.md5, h.legacy))
            continue
        entries = dir_entries.get(name)
        if entries is None and lock.dir_md5(repo.abspath(rel), h.legacy) == h.md5:
            try:
                entries = dir_entries[name] = _ws_entries(repo.abspath(rel))
            except FormatError as e:  # a name no manifest may hold
                out.skips.append(Skip(rel, e.problem))
        todo += [(f"{rel}/{frel}", md5, h.legacy) for frel, md5, _ in entries or ()
                 if md5 not in out.files]
    n = 0
    for rel, md5, legacy in todo:
        full = repo.abspath(rel)
        if md5 in out.files or not os.path.isfile(full):
            continue
        try:
            oid, size, _, _ = objects.bring(repo.store, full, md5, legacy, link=False)
        except objects.Corrupt:
            continue  # changed since DVC hashed it: not the content DVC recorded
        out.files[md5] = (oid, size)
        n += 1
    return n


def _ws_entries(full: str) -> Entries:
    import hashlib

    paths = sorted(p for p in scan_stats(full) if not p.endswith("/"))  # files: DVC's view
    check_paths(paths, full)
    rows = []
    for rel in paths:
        with open(os.path.join(full, rel), "rb") as f:
            rows.append((rel, hashlib.file_digest(f, "md5").hexdigest(), False))
    return rows


# (tracked path, key in it, absolute path, its lstat, expected oid, size, the object's
# (dev, inode))
_Item = tuple[str, str, str, os.stat_result, str, int, "tuple[int, int] | None"]


@dataclass
class Workspace:
    """What the workspace holds of the converted data."""

    walks: dict[str, dict[str, os.stat_result]] = field(default_factory=dict)  # per dir
    base: dict[str, str] = field(default_factory=dict)  # dir -> its absolute path
    clean: set[str] = field(default_factory=set)  # tracked paths that match exactly
    modified: list[str] = field(default_factory=list)  # missing, or differ

    def empty(self, rel: str) -> list[str]:
        """The empty folders of directory ``rel``: DVC ignores them, gitml keeps them (so
        its status, like DVC's, calls the directory unchanged)."""
        return [k[:-1] for k in self.walks.get(rel, {}) if k[-1] == "/"]

    def execs(self, rel: str) -> set[str]:
        """The executable files of directory ``rel`` (DVC does not record the bit)."""
        out = set()
        for key, st in self.walks.get(rel, {}).items():
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                try:
                    mode = os.stat(self.base[rel] + "/" + key).st_mode
                except OSError:
                    continue
            if stat.S_ISREG(mode) and mode & 0o100:
                out.add(key)
        return out


def check_workspace(repo: Repo, wanted: dict[str, tuple[DvcHash, str]],
                    dir_entries: dict[str, Entries], files: dict[str, tuple[str, int]],
                    inodes: dict[str, tuple[int, int]], quiet: bool) -> Workspace:
    """Hash the workspace copies of the converted data (two processes when many) and
    record in the stat cache each that matches; one walk per directory."""
    ws = Workspace()
    cache = repo.statcache
    cache.begin()  # the stamp, before any file is stat-ed or read (racy-git rule)
    items: list[_Item] = []
    want_n: dict[str, int] = {}
    for name, (h, rel) in wanted.items():
        full = repo.abspath(rel)
        if not h.is_dir:
            hit = files.get(h.md5)
            try:
                st = os.lstat(full)
            except OSError:
                ws.modified.append(rel)
                continue
            want_n[rel] = 1
            if hit is not None:
                items.append((rel, "", full, st, hit[0], hit[1], inodes.get(h.md5)))
            continue
        entries = dir_entries.get(name)
        if entries is None:
            continue
        if not os.path.isdir(full):
            ws.modified.append(rel)
            continue
        walk = ws.walks[rel] = scan_stats(full)
        ws.base[rel] = full
        files_n = sum(1 for k in walk if k[-1] != "/")  # "folder/": an empty folder
        want_n[rel] = len(entries) if files_n == len(entries) else -1
        for frel, md5, _ in entries:
            hit, st = files.get(md5), walk.get(frel)
            if hit is not None and st is not None:
                items.append((rel, frel, f"{full}/{frel}", st, hit[0], hit[1], inodes.get(md5)))
    with Progress("checking the workspace", total=len(items)) as bar:
        results = forkpool.split_map(_check_one, items,
                                     bar.update if bar.on and not quiet else None)
    matched: dict[str, int] = {}
    for (root, key, _, _, oid, _, _), ids in zip(items, results, strict=True):
        if ids is not None:
            cache.root(root).put_ids(key, ids, oid)
            matched[root] = matched.get(root, 0) + 1
    for rel, n in want_n.items():
        if matched.get(rel, 0) == n:
            ws.clean.add(rel)
        else:
            ws.modified.append(rel)
    return ws


def _check_one(item: _Item) -> tuple[int, int, int] | None:
    """(ino, mtime_ns, size) of the file when it holds ``oid``, else None."""
    _, _, path, st, oid, size, same = item
    try:
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        return None
    ids = (st.st_ino, st.st_mtime_ns, st.st_size)
    if same is not None and (st.st_dev, st.st_ino) == same:
        return ids  # the verified object's own inode: nothing to read
    try:
        return ids if hash_file(path) == oid else None
    except OSError:
        return None
