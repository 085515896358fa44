"""Experiment worktrees under ``.gitml/worktrees/``: reserve, create, remove, recover.

Each running experiment holds an exclusive ``flock`` on ``<dir>.lock`` for as long as its
worktree exists. The lock is taken *before* the directory is made, so a directory whose
lock nobody holds belongs to a process that died (SIGKILL, power cut): :func:`recover`
removes it, and every ``exp run`` calls it first, so a killed run never breaks the next.

The user's workspace, index and HEAD are never touched: the workspace's uncommitted
edits to Git-tracked files are read into a *temporary* index (a copy of the real one plus
``git add -u``) and written as a tree (:func:`snapshot`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable

from gitml import gitio, yamlio
from gitml.fsutil import atomic_write
from gitml.repo import GITML_DIR, Repo

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")  # our own checkouts run no user hooks


def base_dir(repo: Repo) -> str:
    """``.gitml/worktrees`` of the main work tree (also when called from a linked one)."""
    return os.path.join(gitio.common_root(repo.root), GITML_DIR, "worktrees")


def slug(name: str) -> str:
    """A directory name for a branch name (``a/b`` -> ``a__b``)."""
    return name.replace("/", "__")


class NameLock:
    """An exclusive, non-blocking ``flock`` on a lock file that is deleted on release.

    Deleting a lock file races with a process that opened it just before: after taking
    the lock we check the path still names the file we locked, and retry if not.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    return False
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)  # unlinked under us by the previous holder: try the new file

    def release(self, delete: bool = True) -> None:
        if self._fd is not None:
            if delete:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.close(self._fd)
            self._fd = None


class Worktree:
    """A reserved (and, after :meth:`create`, checked-out) experiment worktree."""

    def __init__(self, repo: Repo, name: str) -> None:
        self.repo = repo
        self.name = name
        self.path = os.path.join(base_dir(repo), slug(name))
        self._lock = NameLock(self.path + ".lock")
        self.created = False

    def reserve(self) -> bool:
        """Take the name: False when another live process is running it."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if not self._lock.acquire():
            return False
        if os.path.lexists(self.path):  # left by a dead process: we hold its lock now
            _discard(self.repo, self.path)
        os.mkdir(self.path)
        return True

    def create(self, commit: str) -> Repo:
        """Check ``commit`` out (detached) and open it as a gitml repository sharing the
        main store."""
        gitio.run(self.repo.root, *NO_HOOKS, "worktree", "add", "--detach", "--quiet",
                  self.path, commit)
        self.created = True
        gdir = os.path.join(self.path, GITML_DIR)
        if not os.path.isdir(gdir):
            Repo.init(self.path)
        # Machine-local settings (credentials, link type) follow the run; the store is
        # named absolutely so a relative core.cache_dir cannot point somewhere else.
        local = dict(self.repo.config.local)
        core = dict(local.get("core") or {})
        core["cache_dir"] = self.repo.cache_dir
        local["core"] = core
        atomic_write(os.path.join(gdir, "config.local.yaml"), yamlio.dumps(local).encode(),
                     durable=False, mode=0o600)
        return Repo(self.path)

    def release(self) -> None:
        """Remove the worktree (if any) and give the name back."""
        try:
            if os.path.lexists(self.path):
                _discard(self.repo, self.path)
        finally:
            self._lock.release()


def _discard(repo: Repo, path: str) -> None:
    # Make the tree unreachable first (a rename is atomic), then delete and prune Git's
    # record of it, so a crash half-way leaves nothing Git still thinks is checked out.
    trash = f"{path}.trash-{os.getpid()}-{time.monotonic_ns()}"
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    _rmtree(trash)
    gitio.run(repo.root, "worktree", "prune", check=False)


def _rmtree(path: str) -> None:
    def onerror(func, p, exc):  # type: ignore[no-untyped-def]
        # Store objects linked into a worktree are read-only; make their folder writable.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=onerror)
    else:
        shutil.rmtree(path, onerror=onerror)


def running(repo: Repo) -> list[str]:
    """Directory names of experiments being run right now (their lock is held)."""
    base = base_dir(repo)
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if n.endswith(".lock") or ".trash-" in n:
            continue
        lock = NameLock(os.path.join(base, n + ".lock"))
        if lock.acquire():
            lock.release(delete=False)
        else:
            out.append(n)
    return out


def recover(repo: Repo) -> list[str]:
    """Remove worktrees left by processes that died; returns their directory names."""
    removed = recover_dirs(base_dir(repo), lambda full: _discard(repo, full))
    if removed:
        gitio.run(repo.root, "worktree", "prune", check=False)
    return removed


def recover_dirs(base: str, discard: Callable[[str], None] = _rmtree) -> list[str]:
    """Remove the directories under ``base`` whose ``<dir>.lock`` nobody holds (left by a
    process that died), and what a killed removal left; returns their names."""
    try:
        entries = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    removed: list[str] = []
    for n in entries:
        full = os.path.join(base, n)
        if ".trash-" in n:  # a removal that was killed half-way
            _rmtree(full)
            removed.append(n.split(".trash-")[0])
            continue
        if n.endswith(".lock"):
            if not os.path.lexists(full[:-len(".lock")]):
                lock = NameLock(full)
                if lock.acquire():
                    lock.release()  # an orphan lock file: drop it
            continue
        lock = NameLock(full + ".lock")
        if not lock.acquire():
            continue  # alive
        try:
            discard(full)
            removed.append(n)
        finally:
            lock.release()
    return sorted(set(removed))


# -- the workspace, read without touching it -------------------------------------------------

def snapshot(repo: Repo, extra: list[str] | None = None,
             blobs: dict[str, str] | None = None) -> str:
    """The tree of the workspace's Git-tracked files as they are now (staged or not), plus
    ``extra`` paths (e.g. an untracked params file an override names) and ``blobs``
    (path -> blob: the new pointers of changed tracked data)."""
    tmpdir = os.path.join(repo.gitml_dir, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    tmp = os.path.join(tmpdir, f"exp-index-{os.getpid()}-{time.monotonic_ns()}")
    real = gitio.run(repo.root, "rev-parse", "--git-path", "index").decode().strip()
    real = os.path.join(repo.root, real)
    env = {"GIT_INDEX_FILE": tmp}
    try:
        try:  # with its mtime: Git re-checks entries as new as the index (racy-git), and a
            # copy stamped now would make a same-size edit in the same clock tick look clean
            shutil.copy2(real, tmp)
        except FileNotFoundError:
            gitio.run(repo.root, "read-tree", "HEAD", env=env)
        gitio.run(repo.root, "add", "-u", env=env)
        if extra:
            gitio.run(repo.root, "add", "--", *extra, env=env)
        if blobs:
            info = "".join(f"100644 {sha}\t{path}\n" for path, sha in sorted(blobs.items()))
            gitio.run(repo.root, "update-index", "--add", "--index-info", env=env,
                      input=info.encode())
        return gitio.run(repo.root, "write-tree", env=env).decode().strip()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
