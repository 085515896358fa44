"""Importing a DVC repository (``gitml import-dvc``) and reading DVC-era revisions.

Modules, one job each: ``dvcfiles`` (DVC's file formats, read as a stranger's data),
``discover`` (where DVC's files are, now and in history), ``objects`` (DVC's cache into
the store), ``pipeline`` (dvc.yaml -> gitml.yaml), ``lock`` (dvc.lock -> gitml.lock),
``remotes`` (.dvc/config, and fetching DVC's remote layout), ``dvcmap`` (MD5 -> gitml
hash, for old revisions), ``history`` (reading old revisions), ``importer`` (the order
of it all)::

    from gitml.dvcimport import import_dvc
    result = import_dvc("path/to/repo", dry_run=True)   # an ImportResult
"""

from __future__ import annotations

from typing import Any


def import_dvc(path: str | None = None, **kw: Any) -> Any:
    """See :func:`gitml.dvcimport.importer.import_dvc`."""
    from gitml.dvcimport.importer import import_dvc as run

    return run(path, **kw)
