"""The repository: its root, ``.gitml/`` layout, config, store, stat cache and lock.

:class:`Repo` is also the public Python API of the core: every CLI command is a
method call here (``gitml.Repo().add([...])``).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.errors import NotARepoError
from gitml.fsutil import FileLock, atomic_write

if TYPE_CHECKING:
    from gitml.checkout import CheckoutResult
    from gitml.config import Config
    from gitml.datadiff import Change
    from gitml.gc import FsckResult, GcResult
    from gitml.statcache import StatCache
    from gitml.store import Store
    from gitml.workspace import AddResult, PathStatus

GITML_DIR = ".gitml"
_IGNORED = ["/cache/", "/tmp/", "/index", "/index.stamp", "/lock", "/config.local.yaml",
            "/worktrees/"]


class Repo:
    """A Git work tree with gitml initialised in it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        root = gitio.find_root(os.fspath(path) if path is not None else None)
        if not os.path.isdir(os.path.join(root, GITML_DIR)):
            raise NotARepoError(f"gitml is not initialised in {root} (run 'gitml init')")
        self.root = root
        self.gitml_dir = os.path.join(root, GITML_DIR)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None) -> Repo:
        """Create ``.gitml/`` in the Git work tree at ``path``; idempotent."""
        root = gitio.find_root(os.fspath(path) if path is not None else None)
        d = os.path.join(root, GITML_DIR)
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "config.yaml")
        if not os.path.exists(cfg):
            atomic_write(cfg, b"core: {}\n")
        ign = os.path.join(d, ".gitignore")
        have = []
        if os.path.exists(ign):
            with open(ign) as f:
                have = f.read().splitlines()
        missing = [line for line in _IGNORED if line not in have]
        if missing:
            atomic_write(ign, ("\n".join(have + missing) + "\n").encode())
        from gitml.githooks import register_drivers  # pointer merge/diff drivers (issue 7)

        register_drivers(root)
        return cls(root)

    # -- parts --------------------------------------------------------------------
    @cached_property
    def config(self) -> Config:
        from gitml.config import Config

        return Config(self.gitml_dir)

    @cached_property
    def cache_dir(self) -> str:
        configured = self.config.get("core.cache_dir")
        if configured:
            return os.path.normpath(os.path.join(self.root, os.path.expanduser(configured)))
        return os.path.join(gitio.common_root(self.root), GITML_DIR, "cache")

    @cached_property
    def store(self) -> Store:
        from gitml.chunks import DEFAULT_THRESHOLD, parse_threshold
        from gitml.store import DEFAULT_LINK, Store

        return Store(self.cache_dir, self.config.get("core.link", DEFAULT_LINK),
                     self.lock_timeout,
                     parse_threshold(self.config.get("core.chunk_threshold",
                                                     DEFAULT_THRESHOLD)))

    @cached_property
    def statcache(self) -> StatCache:
        from gitml.statcache import StatCache

        return StatCache(os.path.join(self.gitml_dir, "index"))

    @property
    def lock_timeout(self) -> float:
        """Seconds to wait for another gitml process (config core.lock_timeout)."""
        return float(self.config.get("core.lock_timeout", 60))

    def lock(self) -> FileLock:
        """The workspace lock, taken by every command that changes the workspace."""
        return FileLock(os.path.join(self.gitml_dir, "lock"), timeout=self.lock_timeout,
                        what="workspace")

    @property
    def jobs(self) -> int:
        return int(self.config.get("core.jobs", 0)) or min(8, (os.cpu_count() or 1) * 2)

    def rel(self, path: str) -> str:
        """Repository-relative POSIX form of an absolute path."""
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def abspath(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def close(self) -> None:
        if "statcache" in self.__dict__:
            self.statcache.close()

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the core API ---------------------------------------------------------------
    def add(self, targets: list[str], **kw: Any) -> list[AddResult]:
        """Store files or directories and write their pointers (``gitml add``)."""
        from gitml import workspace

        return workspace.add(self, targets, **kw)

    def status(self, targets: list[str] | None = None) -> list[PathStatus]:
        """The state of every tracked path (``gitml status``)."""
        from gitml import workspace

        return workspace.status(self, targets)

    def checkout(self, targets: list[str] | None = None, *, force: bool = False) -> CheckoutResult:
        """Make the workspace match the pointers, touching only what differs."""
        from gitml import checkout

        return checkout.checkout(self, targets, force=force)

    def diff(self, a: str | None = None, b: str | None = None,
             targets: list[str] | None = None) -> list[Change]:
        """Tracked data that differs between two revisions (None: the workspace), at or
        below ``targets`` (repository-relative paths) when given."""
        from gitml import datadiff

        return datadiff.diff(self, a, b, targets)

    def remove(self, targets: list[str]) -> list[str]:
        """Stop tracking paths; the data files are kept."""
        from gitml import workspace

        return workspace.remove(self, targets)

    def gc(self, **kw: Any) -> GcResult:
        """Delete objects nothing references (see :func:`gitml.gc.gc`)."""
        from gitml import gc

        return gc.gc(self, **kw)

    def fsck(self) -> FsckResult:
        """Re-hash every object; report corrupt and missing ones."""
        from gitml import gc

        return gc.fsck(self)
