"""Read any file as it was at a revision: a Git blob, a tracked file, or a file inside a
tracked directory, straight from the store, without touching the workspace.

``rev=None`` means the workspace. ``REV:path`` strings (Git's syntax) are accepted by
:func:`split_revpath`.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from typing import IO, Any

from gitml import gitio, manifest, pointer
from gitml.errors import GitmlError, IntegrityError, MissingObjectError
from gitml.fsutil import tmp_name
from gitml.hashing import hash_file
from gitml.memo import Memo
from gitml.repo import Repo


class NotFoundError(GitmlError):
    """The path does not exist at that revision."""


def split_revpath(spec: str) -> tuple[str | None, str]:
    """``"main:data/x.csv"`` -> ("main", "data/x.csv"); a plain path -> (None, path)."""
    rev, sep, path = spec.partition(":")
    if sep and rev and path and not os.path.exists(spec):
        return rev, path
    return None, spec


class RevReader:
    """Reads many files at many revisions through one ``git cat-file --batch`` process."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.batch = gitio.BatchReader(repo.root)
        self.memo = Memo(os.path.join(repo.gitml_dir, "tmp", "revmemo"))
        self._manifests: dict[str, dict[str, str]] = {}
        self._commits: dict[str, str] = {}
        self._verified: set[str] = set()
        self._assembled: list[str] = []  # chunked files written out for libraries: dropped
        # at close
        self.sizes: dict[str, int] = {}  # object -> its size, as the pointer or manifest says
        self.fetched: dict[str, str] = {}  # path -> the remote it was fetched from

    def close(self) -> None:
        self.batch.close()
        self.memo.save()
        for path in self._assembled:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._assembled.clear()

    def __enter__(self) -> RevReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def locate(self, path: str, rev: str | None) -> tuple[str, Any]:
        """("bytes", data) for a Git file or workspace file, ("object", oid) for tracked data.

        Raises :class:`NotFoundError` when nothing is at ``path`` in ``rev``.
        """
        path = path.strip("/")
        if rev is None:
            full = self.repo.abspath(path)
            if os.path.isfile(full):
                return "file", full
        else:
            sha = self.commit(rev)
            obj = self.batch.read_object(f"{sha}:{path}")
            if obj is not None and obj[1] == "blob":
                return "bytes", obj[2]
            if obj is not None and obj[1] == "tree":
                raise NotFoundError(f"{path} is a directory at {rev}, not a file")
        # a tracked file, or a file inside a tracked directory
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            base = "/".join(parts[:i])
            ptr = self.pointer_at(base, rev and self.commit(rev), rev)
            if ptr is None:
                continue
            rest = "/".join(parts[i:])
            if not rest:
                if ptr.is_dir:
                    raise NotFoundError(f"{path} is a tracked directory, not a file")
                self.sizes[ptr.oid] = ptr.size
                return "object", ptr.oid
            if not ptr.is_dir:
                break
            entries = self._manifest(ptr.oid, base)
            if rest in entries:
                return "object", entries[rest]
            break
        where = f"at {rev}" if rev else "in the workspace"
        raise NotFoundError(f"{path} does not exist {where}")

    def commit(self, rev: str) -> str:
        """The commit SHA of ``rev``; an unknown revision is a clear error, not "no such file"."""
        sha = self._commits.get(rev)
        if sha is None:
            obj = self.batch.read_commit(rev)
            if obj is None:
                raise gitio.unknown_revision(self.repo.root, rev)
            sha = self._commits[rev] = obj[0]
        return sha

    def pointer_at(self, base: str, rev: str | None, label: str | None = None
                   ) -> pointer.Pointer | None:
        """The pointer of data path ``base`` at ``rev`` (None: the workspace), or None."""
        prel = base + pointer.SUFFIX
        if rev is None:
            p = self.repo.abspath(prel)
            if not os.path.isfile(p):
                return None
            pointer.data_path(prel)
            return pointer.load(p, source=prel)
        data = self.batch.read(f"{rev}:{prel}")
        if data is None:  # a revision from before gitml import-dvc: its DVC files
            from gitml.dvcimport import history

            return history.pointers_at(self.repo, rev, self.batch).get(base)
        return pointer.load_at(data, prel, f"{label or rev}:{prel}")

    def _manifest(self, oid: str, base: str) -> dict[str, str]:
        if oid not in self._manifests:
            data = self.object_bytes(oid, base)
            entries = manifest.loads(data, base)
            self._manifests[oid] = {e.path: e.oid for e in entries}
            self.sizes.update((e.oid, e.size) for e in entries)
        return self._manifests[oid]

    def ensure(self, oid: str, what: str) -> str:
        """The store path of ``oid``, fetched from the default remote when missing (not
        verified here: for callers that verify as they copy, such as ``Store.link``)."""
        store = self.repo.store
        if not store.has(oid):
            self.fetched[what] = _fetch_missing(self.repo, oid, what)
        return store.path(oid)

    def announce(self) -> None:
        """One line on stderr when reads fetched objects (for commands: exp show/diff,
        metrics and params): a command that fetches says so."""
        if self.fetched:
            from gitml.progress import notice

            n = len(self.fetched)
            names = sorted(self.fetched)
            shown = ", ".join(names[:3]) + (f" and {n - 3} more" if n > 3 else "")
            notice(f"fetched {n} object{'s' * (n != 1)} ({shown}) from "
                   f"{', '.join(sorted(set(self.fetched.values())))}")

    def object_path(self, oid: str, what: str) -> str:
        """The store path of ``oid`` (fetched when missing), its bytes verified once per
        reader: safe to hand to a library that reads the file itself. A corrupt object is
        healed from the default remote when it can be (gitml/heal.py)."""
        path = self.ensure(oid, what)
        if not os.path.exists(path):  # held as chunks: a verified copy, until close()
            return self._assembled_copy(oid, what)
        if oid not in self._verified:
            actual = hash_file(path)
            if actual != oid:
                self._heal(oid, actual, path)
            self._verified.add(oid)
        return path

    def object_bytes(self, oid: str, what: str) -> bytes:
        self.ensure(oid, what)
        for attempt in (1, 2):
            try:
                return self.repo.store.read_bytes(oid, what=what)
            except IntegrityError as e:
                if attempt == 2:
                    raise
                self._heal_or_raise(oid, e)
        raise AssertionError("unreachable")

    def _assembled_copy(self, oid: str, what: str) -> str:
        store = self.repo.store
        os.makedirs(store.tmp, exist_ok=True)
        for attempt in (1, 2):
            path = tmp_name(store.tmp, f"read-{oid[5:]}")
            try:
                store.materialise(oid, path)
            except IntegrityError as e:
                if attempt == 2:
                    raise
                self._heal_or_raise(oid, e)
                continue
            self._assembled.append(path)
            return path
        raise AssertionError("unreachable")

    def _heal_or_raise(self, oid: str, e: IntegrityError) -> None:
        """Heal ``oid`` (a file, whole or chunked) or raise ``e``, which names the bad
        object (a chunk, for a chunked file)."""
        try:
            self._heal(oid, e.actual, e.where)
        except IntegrityError:
            raise e from None

    def _heal(self, oid: str, actual: str, path: str) -> None:
        """Quarantine the corrupt copy and fetch a verified one, or raise IntegrityError."""
        from gitml.heal import heal

        if oid not in heal(self.repo, [oid]).healed:
            raise IntegrityError(oid, actual, path)

    def read_bytes(self, path: str, rev: str | None) -> bytes:
        """The verified bytes of ``path`` at ``rev``."""
        kind, value = self.locate(path, rev)
        if kind == "bytes":
            return value  # type: ignore[no-any-return]
        if kind == "file":
            with builtins.open(value, "rb") as f:
                return f.read()
        return self.object_bytes(value, path)


FETCH_MISSING = True  # a read-only process (gitml ui) turns this off: the store stays as is


def _fetch_missing(repo: Repo, oid: str, what: str) -> str:
    """Fetch ``oid`` from the default remote (or raise MissingObjectError); its name."""
    if not FETCH_MISSING:
        raise MissingObjectError(oid, what)
    try:
        from gitml.remotes import transfer
    except ImportError:
        raise MissingObjectError(oid, what) from None
    if transfer.default_remote(repo) is None:
        raise MissingObjectError(oid, what)
    r = transfer.fetch_objects(repo, {oid})
    if not repo.store.has(oid):
        raise MissingObjectError(oid, what)
    return r.remote


def open(path: str, rev: str | None = None, mode: str = "rb",
         repo: Repo | str | os.PathLike[str] | None = None, encoding: str | None = None,
         verify: bool = False) -> IO[Any]:
    """Open ``path`` as it was at ``rev`` (None: the workspace; another repository: its
    default branch) for reading, without writing the workspace.

    ``repo``: this repository (default), a :class:`Repo`, the path of another local one,
    or any Git URL. Git files come from Git; tracked data from the store, verified as it
    is read, or, when the store lacks it, streamed from the default remote (nothing
    written; ``verify=True``: fetched into the store first). What is verified when is in
    docs/reading.md.
    """
    from gitml.reading import open_file

    return open_file(path, rev, mode, repo, encoding, verify)


def read(path: str, rev: str | None = None, mode: str = "rb",
         repo: Repo | str | os.PathLike[str] | None = None,
         encoding: str | None = None) -> bytes | str:
    """The whole content of ``path`` at ``rev``; tracked data is verified against its hash.
    ``repo`` as for :func:`open` (another repository: read as :func:`open` reads it)."""
    if mode not in ("r", "rb"):
        raise GitmlError(f"mode must be 'r' or 'rb', not {mode!r}")
    if repo is not None and not isinstance(repo, Repo):
        with open(path, rev, "rb", repo) as f:
            data = f.read()
    else:
        with RevReader(repo or Repo()) as reader:
            data = reader.read_bytes(path, rev)
    return data.decode(encoding or "utf-8") if mode == "r" else data
