"""Data and models from other repositories (DVC's data-registry pattern).

``ls`` lists what another repository tracks and keeps in Git, ``get`` downloads a file or
directory of it, ``import_`` downloads and tracks it here with a record of its source,
``update`` moves an import to a newer commit; ``gitml model get --repo`` and
``gitml.api.open(repo=URL)`` read from the same clones. Everything read from the other
repository is data from a stranger (see :mod:`gitml.imports.source`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitml.imports.download import GetResult
    from gitml.imports.ops import ImportResult
    from gitml.repo import Repo


def ls(url: str, path: str = "", *, rev: str | None = None,
       recursive: bool = False) -> list[dict[str, Any]]:
    """The entries at ``path`` of the repository at ``url``: ``{path, type, tracked, size}``
    (``tracked``: ``gitml`` or ``git``; gitml's also ``hash``, a directory's ``files``)."""
    from gitml.imports import tree
    from gitml.imports.download import lender
    from gitml.imports.source import Source

    src = Source(url, lend=lender())
    src.resolve(rev)
    return tree.listing(src, path, recursive)


def get(url: str, path: str, output: str | None = None, *, rev: str | None = None,
        force: bool = False, jobs: int | None = None) -> GetResult:
    """Download a file or directory of another repository (not tracked here)."""
    from gitml.imports.download import get as _get

    return _get(url, path, output, rev=rev, force=force, jobs=jobs)


def import_(url: str, path: str, output: str | None = None, *, rev: str | None = None,
            force: bool = False, jobs: int | None = None,
            repo: Repo | None = None) -> ImportResult:
    """Download a file or directory of another repository and track it here."""
    from gitml.imports.ops import import_ as _import
    from gitml.repo import Repo

    return _import(repo or Repo(), url, path, output, rev=rev, force=force, jobs=jobs)


def update(targets: list[str] | None = None, *, rev: str | None = None, force: bool = False,
           jobs: int | None = None, repo: Repo | None = None) -> list[ImportResult]:
    """Move imports to the commit their revision (or ``rev``) names now."""
    from gitml.imports.ops import update as _update
    from gitml.repo import Repo

    return _update(repo or Repo(), targets, rev=rev, force=force, jobs=jobs)


__all__ = ["ls", "get", "import_", "update"]
