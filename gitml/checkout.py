"""checkout: make the workspace match the pointers, touching only what differs.

It writes what the pointers name (files with their executable bit, empty folders of
tracked directories), removes stored files a directory no longer has, and, for a whole
checkout, removes the data of paths gitml tracked here that no pointer names any more
(`git switch` to a branch without them), as `dvc checkout` does: only files unchanged since
gitml last wrote or hashed them and kept in the store; a modified one is kept and named
(`--force` removes it). Nothing gitml never tracked is deleted, and nothing is written or
deleted through a symbolic link (`fsutil.SafeDirs`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import faults, forkpool, gitio, tracked
from gitml.errors import GitmlError, IntegrityError, MissingObjectError, WorkspaceConflictError
from gitml.fsutil import TMP_PREFIX, SafeDirs, remove_empty_dirs, scan_stats, tmp_base
from gitml.manifest import Entry
from gitml.progress import Progress
from gitml.statcache import stat_digest
from gitml.workspace import EXEC, NOT_A_FILE, Hasher, load_manifest

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.store import Store


@dataclass
class CheckoutResult:
    created: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # objects not in the store
    corrupt: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # no longer tracked, but changed: kept
    discarded: list[str] = field(default_factory=list)  # --force: unstored content replaced

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckoutIncomplete(GitmlError):
    """Some data could not be checked out (exit 1); the rest was."""

    exit_code = 1

    def __init__(self, result: CheckoutResult) -> None:
        parts = []
        if result.corrupt:
            parts.append(f"{len(result.corrupt)} corrupt in the store (not checked out): "
                         + ", ".join(result.corrupt[:5]) + " ('gitml fsck' lists them)")
        if result.missing:
            parts.append(f"{len(result.missing)} missing from the store: "
                         + ", ".join(result.missing[:5]) + " (pull them from a remote)")
        super().__init__("checkout incomplete: " + "; ".join(parts))
        self.result = result


@dataclass
class _Plan:
    safe: SafeDirs
    # (tracked path, key inside it, absolute path, entry, whether the file is new)
    writes: list[tuple[str, str, str, Entry, bool]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    folders: list[tuple[str, str]] = field(default_factory=list)  # empty folders to make
    conflicts: list[str] = field(default_factory=list)
    dirs: list[tuple[str, set[str]]] = field(default_factory=list)  # (dir, folders to keep)
    gone_dirs: list[str] = field(default_factory=list)  # of untracked paths: rmdir if empty
    junk: list[str] = field(default_factory=list)  # temp files of a killed gitml
    forget: list[str] = field(default_factory=list)  # untracked paths now fully removed


def checkout(repo: Repo, targets: list[str] | None = None, *, force: bool = False
             ) -> CheckoutResult:
    """Make the workspace match the pointers. Refuses to overwrite unstored changes, and
    never writes or deletes through a symbolic link (one names the link, exit 2)."""
    items = tracked.workspace_tracked(repo.root, targets)
    result = CheckoutResult()
    with repo.lock():
        plan = _Plan(SafeDirs(repo.root))
        for t in items:
            _plan_one(repo, t, plan, force, result)
        if targets is None:
            _plan_untracked(repo, [t.rel for t in items], plan, force, result)
        if plan.conflicts:
            raise WorkspaceConflictError(
                f"checkout would overwrite {len(plan.conflicts)} modified file(s) whose content "
                f"is not stored: {', '.join(plan.conflicts[:10])}"
                f"{' ...' if len(plan.conflicts) > 10 else ''} "
                "(run 'gitml add' to keep them, or --force to discard)", plan.conflicts)
        _apply(repo, plan, result)
        repo.statcache.mark_tracked(t.rel for t in items)
        for rel in plan.forget:
            repo.statcache.forget(rel)
        repo.statcache.commit()
    if result.missing or result.corrupt:
        raise CheckoutIncomplete(result)
    return result


def _plan_one(repo: Repo, t: tracked.Tracked, plan: _Plan, force: bool,
              result: CheckoutResult) -> None:
    ptr, full = t.ptr, repo.abspath(t.rel)
    hasher = Hasher(repo, t.rel)
    safe = plan.safe
    parent, name = os.path.split(full)
    safe.check(parent)  # a link above the tracked path: refused before anything is written
    empty: tuple[str, ...] = ()
    if not ptr.is_dir:
        entries = [Entry("", ptr.oid, ptr.size, ptr.exec)]
        ws = {"": os.lstat(full)} if os.path.lexists(full) else {}
        plan.junk.extend(glob.glob(os.path.join(glob.escape(parent),
                                                f"{TMP_PREFIX}{glob.escape(tmp_base(name))}.*")))
        if ws and stat.S_ISDIR(ws[""].st_mode):
            plan.conflicts.append(t.rel + " (a directory is in the way)")
            return
    else:
        try:
            loaded = load_manifest(repo, ptr, t.rel)
        except IntegrityError:
            result.corrupt.append(t.rel)
            return
        if loaded is None:
            result.missing.append(t.rel)
            return
        entries, empty = loaded, loaded.empty
        if t.only:
            entries = [e for e in entries if t.wants(e.path)]
            empty = tuple(d for d in empty if t.wants(d))
        if os.path.lexists(full) and not os.path.islink(full) and not os.path.isdir(full):
            plan.conflicts.append(t.rel + " (a file is in the way of a directory)")
            return
        if not safe.check(full):  # the tracked directory itself must not be a link
            plan.folders.append((t.rel + "/", full))
        ws = scan_stats(full, plan.junk)
        if ws and not plan.junk and hasher.cache.clean_snapshot(ptr.oid, *stat_digest(ws)):
            return
        if t.only:
            ws = {k: v for k, v in ws.items() if t.wants(k.rstrip("/"))}
        plan.dirs.append((full, {os.path.join(full, d) for d in empty}))
    for d in empty:
        if ws.pop(d + "/", None) is None:
            path = os.path.join(full, d)
            if not any(k.startswith(d + "/") for k in ws):
                safe.check(path.rpartition("/")[0])
                plan.folders.append((f"{t.rel}/{d}/", path))
    store = repo.store
    for e in entries:
        frel = f"{t.rel}/{e.path}" if e.path else t.rel
        path = os.path.join(full, e.path) if e.path else full
        st = ws.pop(e.path, None)
        if st is None:
            if e.path:
                safe.check(path.rpartition("/")[0])  # no link where a folder belongs
            plan.writes.append((t.rel, e.path, path, e, True))
            continue
        if stat.S_ISDIR(st.st_mode):
            plan.conflicts.append(frel + " (a directory is in the way)")
            continue
        cur = hasher.oid_key(e.path, path, st)
        if cur == e.oid:
            if (st.st_mode & EXEC != 0) != e.exec and not stat.S_ISLNK(st.st_mode):
                os.chmod(path, (st.st_mode | 0o111) if e.exec else (st.st_mode & ~0o111))
            continue
        if (cur and store.has(cur)) or _own_dangling_link(store, path, st):
            plan.writes.append((t.rel, e.path, path, e, False))
        elif force:
            plan.writes.append((t.rel, e.path, path, e, False))
            result.discarded.append(frel)
        elif cur == NOT_A_FILE:
            plan.conflicts.append(frel + " (a symbolic link is in the way)")
        else:
            plan.conflicts.append(frel)
    for rest, st in ws.items():  # stored files the directory no longer contains; keep the rest
        if rest.endswith("/"):
            continue  # an empty folder this revision does not have: it may be the user's
        frel, path = f"{t.rel}/{rest}", os.path.join(full, rest)
        cur = hasher.oid_key(rest, path, st)
        if cur and store.has(cur):
            plan.deletes.append((frel, path))


def _plan_untracked(repo: Repo, current: list[str], plan: _Plan, force: bool,
                    result: CheckoutResult) -> None:
    """Data of paths gitml tracked in this work tree that no pointer names now: removed
    when unchanged and stored (``--force``: also when changed), else kept and named."""
    now = set(current)

    def covered(p: str) -> bool:  # part of a path that is still tracked
        return any(p == r or p.startswith(r + "/") for r in now)

    gone = sorted(r for r in repo.statcache.tracked() if r not in now)
    if not gone:
        return
    in_git = set(gitio.tracked(repo.root, gone))  # now Git's own files: not ours to delete
    store = repo.store
    for rel in gone:
        full = repo.abspath(rel)
        if covered(rel) or not os.path.lexists(full):
            plan.forget.append(rel)
            continue
        try:
            plan.safe.check(os.path.dirname(full))
            if os.path.isdir(full) and not os.path.islink(full):
                plan.safe.check(full)
        except GitmlError:
            continue  # a link on the way: nothing is deleted through it
        hasher = Hasher(repo, rel)
        left = False
        for key in sorted(hasher.cache.entries):
            frel = f"{rel}/{key}" if key else rel
            path = os.path.join(full, key) if key else full
            if covered(frel) or frel in in_git or any(frel.startswith(g + "/") for g in in_git):
                left = True
                continue
            try:
                st = os.lstat(path)
                if key:
                    plan.safe.check(os.path.dirname(path))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except GitmlError:
                left = True
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            cur = hasher.oid_key(key, path, st)
            if cur and cur == hasher.cache.entries[key][3] and store.has(cur):
                plan.deletes.append((frel, path))
            elif force:
                plan.deletes.append((frel, path))
                result.discarded.append(frel)
            else:
                result.kept.append(frel)
                left = True
        if os.path.isdir(full) and not os.path.islink(full):
            plan.gone_dirs.append(full)
        if not left:
            plan.forget.append(rel)


def _own_dangling_link(store: Store, path: str, st: os.stat_result) -> bool:
    """A symbolic link into the store whose object is gone: gitml's own, safe to replace."""
    return stat.S_ISLNK(st.st_mode) and os.readlink(path).startswith(store.objects + os.sep)


def _apply(repo: Repo, plan: _Plan, result: CheckoutResult) -> None:
    store, cache = repo.store, repo.statcache
    failed = False
    for path in plan.junk:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    for frel, path in plan.deletes:
        os.unlink(path)
        result.deleted.append(frel)
    for d in sorted({path.rpartition("/")[0] for _, _, path, _, _ in plan.writes}):
        plan.safe.make(d)

    def write(item: tuple[str, str, str, Entry, bool]) -> tuple[int, int, int] | str:
        _, _, path, e, _ = item
        try:
            st = store.link(e.oid, path, executable=e.exec)
        except MissingObjectError:
            return "missing"
        except IntegrityError:
            return "corrupt"
        faults.point("checkout.file-written")
        return st.st_ino, st.st_mtime_ns, st.st_size

    with Progress("checkout", total=len(plan.writes)) as bar:
        # two processes when there are many files (gitml/forkpool.py)
        done = forkpool.split_map(write, plan.writes, bar.update if bar.on else None)
    bad = [i for i, got in enumerate(done) if got == "corrupt"]
    if bad:  # self-healing (issue 18): quarantine, fetch a verified copy, write again
        from gitml.heal import heal

        healed = set(heal(repo, [plan.writes[i][3].oid for i in bad]).healed)
        for i in bad:
            if plan.writes[i][3].oid in healed:
                done[i] = write(plan.writes[i])
    for (root, key, _, e, new), got in zip(plan.writes, done, strict=True):
        frel = f"{root}/{key}" if key else root
        if got == "missing" or got == "corrupt":
            (result.missing if got == "missing" else result.corrupt).append(frel)
            failed = True
            continue
        cache.root(root).put_ids(key, got, e.oid, written=True)  # type: ignore[arg-type]
        (result.created if new else result.modified).append(frel)
    if plan.deletes or failed:  # no empty folders left for files deleted or not written
        for d, keep in plan.dirs:
            remove_empty_dirs(d, keep)
        for d in plan.gone_dirs:  # a directory no pointer names any more
            remove_empty_dirs(d)
            with contextlib.suppress(OSError):
                os.rmdir(d)
    for frel, path in plan.folders:  # empty folders the manifest keeps
        if not os.path.isdir(path):
            plan.safe.make(path)
            result.created.append(frel)
