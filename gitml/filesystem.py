"""``gitml://``: an fsspec file system over a repository at a revision, so that pandas,
pyarrow, Dask and DuckDB read tracked data (and Git's files) without a checkout.

    pd.read_parquet("gitml://data/train.parquet", storage_options={"rev": "exp-3"})
    fs = GitmlFileSystem(repo="https://git.example.com/org/registry.git", rev="v2")
    pyarrow.dataset.dataset("data/parts", filesystem=fs, format="parquet")
    duckdb.register_filesystem(fs); duckdb.sql("select * from 'gitml://data/train.parquet'")

Registered for the ``gitml`` protocol through the ``fsspec.specs`` entry point. Options:
``repo`` (this repository by default; a path or any Git URL), ``rev`` (default: HEAD, or
another repository's default branch), ``verify`` (fetch remote objects into the store,
verified, before reading them). Read-only. Files are :meth:`gitml.reading.Snapshot.open`'s:
from the store verified as read, or from the remote by ranges (docs/reading.md).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

try:
    from fsspec.spec import AbstractFileSystem
except ImportError:  # pragma: no cover - the extra is not installed
    raise ImportError("the gitml:// file system needs fsspec: pip install 'gitml[fsspec]'"
                      ) from None

from gitml.readapi import NotFoundError
from gitml.reading import Snapshot


class GitmlFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A repository at one revision, read-only (see the module docstring)."""

    protocol = "gitml"
    root_marker = ""
    # Not cached by fsspec: an instance is bound to the repository of the directory it was
    # made in and to the commit its rev named then; a cache keyed on the arguments alone
    # would hand one repository's files to another.
    cachable = False

    def __init__(self, repo: Any = None, rev: str | None = None, verify: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snapshot = Snapshot(repo, rev)
        self.verify = verify

    @property
    def remote_bytes(self) -> int:
        """Bytes read from the remote by ranged requests so far (files closed)."""
        return self.snapshot.remote_bytes

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = os.fspath(path) if not isinstance(path, str) else path
        if text.startswith("gitml://"):
            text = text[len("gitml://"):]
        return text.strip("/")

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        try:
            info = self.snapshot.info(path)
            rows = self.snapshot.listdir(path) if info["type"] == "directory" else [info]
        except NotFoundError as e:
            raise FileNotFoundError(path) from e
        return rows if detail else [r["name"] for r in rows]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        try:
            return self.snapshot.info(path)
        except NotFoundError as e:
            raise FileNotFoundError(path) from e

    def _open(self, path: str, mode: str = "rb", block_size: Any = None,
              autocommit: bool = True, cache_options: Any = None, **kwargs: Any) -> Any:
        if mode != "rb":
            raise PermissionError(f"gitml:// is read-only (mode {mode!r})")
        path = self._strip_protocol(path)
        try:
            return self.snapshot.open(path, "rb", verify=self.verify)
        except NotFoundError as e:
            raise FileNotFoundError(path) from e

    def modified(self, path: str) -> datetime.datetime:
        """The revision's commit time: every file of a snapshot is as old as its commit."""
        self.info(path)  # FileNotFoundError when there is nothing
        return datetime.datetime.fromtimestamp(self.snapshot.committed(), datetime.UTC)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 **kwargs: Any) -> bytes:
        with self._open(path) as f:
            if start:
                f.seek(start if start >= 0 else max(0, f.seek(0, 2) + start))
            if end is None:
                return f.read()  # type: ignore[no-any-return]
            if end < 0:
                end = f.seek(0, 2) + end
                f.seek(start or 0)
            return f.read(max(0, end - (start or 0)))  # type: ignore[no-any-return]

