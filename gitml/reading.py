"""Reading a repository at a revision without a checkout: ``gitml.api.open(path, repo=,
rev=)`` and the ``gitml://`` file system (:mod:`gitml.filesystem`).

A :class:`Snapshot` is a repository (this one, another local one, or any Git URL) at one
commit, seen as a tree of files: Git's files and tracked data, directories of tracked
data included. A file is read from Git (a Git file), from the store, verified as it is
read (:mod:`gitml.verifiedio`), or — when the store lacks it — from the repository's
default remote by ranges, without writing it anywhere (:mod:`gitml.remotefile`).
"""

from __future__ import annotations

import builtins
import io
import os
from typing import IO, TYPE_CHECKING, Any

from gitml import gitio
from gitml.chunks import THRESHOLD_MIN
from gitml.errors import BadInputError, GitmlError, IntegrityError, MissingObjectError
from gitml.imports import tree
from gitml.readapi import NotFoundError, RevReader
from gitml.remotefile import RemoteBlob, open_remote
from gitml.remotes.chunked import remote_list, remote_reader
from gitml.repo import Repo
from gitml.verifiedio import buffered

if TYPE_CHECKING:
    from gitml.remotes.base import Backend
    from gitml.remotes.select import Selection
    from gitml.remotes.transfer import TransferResult
    from gitml.store import Store


def repository(repo: Repo | str | os.PathLike[str] | None) -> Repo:
    """``repo`` as a repository: a :class:`Repo`; None (the current one); the path of a
    local gitml repository; or any Git URL (another repository, through a clone in the
    user's cache, see :mod:`gitml.imports.source`)."""
    if isinstance(repo, Repo):
        return repo
    if repo is None:
        return Repo()
    text = os.fspath(repo)
    if "://" not in text:
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(os.path.join(path, ".gitml")) and \
                os.path.exists(os.path.join(path, ".git")):
            return Repo(path)
    from gitml.imports.download import lender
    from gitml.imports.source import Source

    return Source(text, lend=lender())


class Snapshot:
    """A repository at one commit, read as files (see the module docstring)."""

    def __init__(self, repo: Repo | str | os.PathLike[str] | None = None,
                 rev: str | None = None, *, workspace: bool = False) -> None:
        """``rev``: a revision (None: HEAD, or another repository's default branch);
        ``workspace``: with ``rev`` None, this repository's workspace (for :meth:`open`
        only: the files on disk, and tracked data absent from it)."""
        from gitml.imports.source import Source

        self.repo = repository(repo)
        self.commit: str | None
        if isinstance(self.repo, Source):
            self.commit = self.repo.commit if self.repo.commit and rev == self.repo.rev \
                else self.repo.resolve(rev)
        elif rev is None and workspace:
            self.commit = None
        else:
            self.commit = gitio.rev_parse(self.repo.root, rev or "HEAD")
        self.rev = rev
        self.root = self.repo.root
        self.url = getattr(self.repo, "url", self.repo.root)
        self._stats: dict[str, dict[str, Any]] = {}
        self._lists: dict[str, list[dict[str, Any]]] = {}
        self.remote_bytes = 0  # bytes read from the remote by ranges (for the curious)

    # A snapshot holds no process or connection between calls (a data frame library
    # rarely closes the file system it was given): each open file has its own, closed
    # with it.

    @property
    def store(self) -> Store:
        return self.repo.store

    def committed(self) -> int:
        """The commit's committer time (Unix seconds)."""
        if self.commit is None:
            raise BadInputError("the workspace has no commit time")
        with gitio.BatchReader(self.root) as batch:
            obj = batch.read_object(self.commit)
        head = (obj[2] or b"") if obj else b""
        for line in head.split(b"\n\n", 1)[0].splitlines():
            if line.startswith(b"committer "):
                return int(line.rsplit(b" ", 2)[-2])
        return 0

    def close(self) -> None:
        """Nothing to release (see above); kept for ``with``."""

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the remote ----------------------------------------------------------------------
    def _remote(self) -> str:
        from gitml.imports.source import Source
        from gitml.remotes import config as rconfig

        if isinstance(self.repo, Source):
            return self.repo.check_remote()
        name = rconfig.default_remote(self.repo)
        if name is None:
            raise BadInputError("no default remote to read missing objects from "
                                "(gitml remote add NAME URL --default)")
        return name

    def _backend(self) -> tuple[Backend, str]:
        """A new connection to the default remote (the caller closes it)."""
        from gitml.remotes import config as rconfig

        rs = rconfig.spec(self.repo, self._remote())
        return rconfig.open_backend(self.repo, rs, jobs=rs.jobs(None)), f"remote {rs.name}"

    def fetch_objects(self, oids: list[str]) -> TransferResult:
        from gitml.remotes import transfer

        return transfer.fetch_objects(self.repo, oids, self._remote())

    def fetch_selection(self, sel: Selection, jobs: int | None = None) -> TransferResult:
        from gitml.remotes import transfer

        return transfer.fetch_selection(self.repo, sel, self._remote(), jobs)

    # -- files ---------------------------------------------------------------------------
    def info(self, path: str) -> dict[str, Any]:
        """``{name, type: file|directory, size}`` of ``path``; NotFoundError when absent."""
        path = tree.clean(path)
        hit = self._stats.get(path)
        if hit is None:
            try:
                target = tree.resolve(self, path)
            except BadInputError as e:
                raise NotFoundError(str(e)) from None
            size = tree.items(self, target)[0].size if target.kind == "file" else 0
            hit = self._stats[path] = {"name": path, "size": size,
                                       "type": "file" if target.kind == "file" else
                                       "directory"}
        return dict(hit)

    def listdir(self, path: str) -> list[dict[str, Any]]:
        """The entries of directory ``path``, as :meth:`info` describes them."""
        path = tree.clean(path)
        hit = self._lists.get(path)
        if hit is None:
            try:
                rows = tree.listing(self, path)
            except BadInputError as e:
                raise NotFoundError(str(e)) from None
            if self.info(path)["type"] != "directory":
                raise NotADirectoryError(path)
            hit = self._lists[path] = [
                {"name": f"{path}/{r['path']}" if path else r["path"],
                 "type": "directory" if r["type"] == "dir" else "file",
                 "size": r["size"] or 0} for r in rows]
            for r in hit:  # a dataset reader asks about each file next: known already
                self._stats.setdefault(r["name"], dict(r, size=r["size"] if r["type"] ==
                                                        "file" else 0))
        return [dict(r) for r in hit]

    def open(self, path: str, mode: str = "rb", *, encoding: str | None = None,
             verify: bool = False) -> IO[Any]:
        """``path`` for reading: a Git file from Git, tracked data from the store (verified
        as it is read) or, when the store lacks it, from the remote by ranges (``verify``:
        fetched into the store first, then read verified)."""
        if mode not in ("r", "rb"):
            raise GitmlError(f"mode must be 'r' or 'rb', not {mode!r}")
        with RevReader(self.repo) as reader:
            kind, value = reader.locate(tree.clean(path), self.commit)
            size = reader.sizes.get(value) if kind == "object" else None
        if kind == "file":  # the workspace's own file
            f: IO[Any] = builtins.open(value, mode, encoding=encoding)  # noqa: SIM115
            return f
        if kind == "bytes":
            raw = io.BytesIO(value)
            return io.TextIOWrapper(raw, encoding=encoding or "utf-8") if mode == "r" else raw
        return self.open_object(value, size, path, mode, encoding=encoding, verify=verify)

    def open_object(self, oid: str, size: int | None, what: str, mode: str = "rb", *,
                    encoding: str | None = None, verify: bool = False) -> IO[Any]:
        """Object ``oid`` of ``size`` bytes (see :meth:`open`)."""
        store = self.repo.store
        if not store.has(oid) and verify:
            from gitml.remotes.base import TransferIncomplete

            try:
                self.fetch_objects([oid])
            except TransferIncomplete as e:
                bad = e.result.corrupt  # type: ignore[attr-defined]
                if bad:
                    raise IntegrityError(oid, bad[0]["actual"], bad[0]["where"]) from None
                raise MissingObjectError(oid, what) from None
        if store.has(oid):
            return store.open(oid, mode, encoding, what)
        if size is None:
            raise MissingObjectError(oid, what)
        backend, where = self._backend()
        try:  # held as chunks there: read just the chunks a range covers, each verified
            cl = remote_list(backend, oid, where) if size >= THRESHOLD_MIN else None
        except BaseException:
            backend.close()
            raise
        if cl is not None:
            def closed() -> None:
                self.remote_bytes += reader.fetched
                backend.close()

            reader = remote_reader(backend, cl, where, closed)
            return buffered(reader, mode, encoding)
        blob = RemoteBlob(backend, oid, size, where)

        def done() -> None:
            self.remote_bytes += blob.fetched
            backend.close()

        try:
            return open_remote(blob, mode, encoding, on_close=done)
        except BaseException:
            backend.close()
            raise


def open_file(path: str, rev: str | None = None, mode: str = "rb",
              repo: Repo | str | os.PathLike[str] | None = None,
              encoding: str | None = None, verify: bool = False) -> IO[Any]:
    """``gitml.api.open`` (see :class:`Snapshot`; ``rev`` None: the workspace of a local
    repository, the default branch of another)."""
    return Snapshot(repo, rev, workspace=True).open(path, mode, encoding=encoding,
                                                    verify=verify)
