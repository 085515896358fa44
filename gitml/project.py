"""``gitml.yaml``: the committed project file, read at the workspace or at any revision.

Each part of gitml owns one top-level section and validates it itself:
``stages``/``vars`` (pipelines), ``metrics``/``params`` (metrics), ``plots``,
``checks``/``drift`` (tabular data), ``models`` (registry), ``hooks``, ``experiments``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gitml import yamlio
from gitml.errors import FormatError

if TYPE_CHECKING:
    from gitml.gitio import BatchReader
    from gitml.repo import Repo

PROJECT_FILE = "gitml.yaml"
SECTIONS = ("vars", "stages", "metrics", "params", "plots", "checks", "drift", "models",
            "hooks", "experiments")


def parse(data: bytes | str, source: str = PROJECT_FILE) -> dict[str, Any]:
    """Parse and check the top level of a project file."""
    doc = yamlio.loads(data, source) or {}
    if not isinstance(doc, dict):
        raise FormatError(source, "expected a mapping at the top level")
    for key in doc:
        if key not in SECTIONS:
            raise FormatError(source, f"unknown top-level key {key!r} "
                                      f"(known: {', '.join(SECTIONS)})")
    return doc


def load(repo: Repo, rev: str | None = None, reader: BatchReader | None = None
         ) -> dict[str, Any]:
    """The project file of the workspace (``rev=None``) or of ``rev``; {} when absent."""
    if rev is None:
        path = os.path.join(repo.root, PROJECT_FILE)
        try:
            with open(path, "rb") as f:
                return parse(f.read())
        except FileNotFoundError:
            return {}
    if reader is None:
        from gitml.gitio import BatchReader

        with BatchReader(repo.root) as own:
            data = own.read(f"{rev}:{PROJECT_FILE}")
    else:
        data = reader.read(f"{rev}:{PROJECT_FILE}")
    return {} if data is None else parse(data, f"{rev}:{PROJECT_FILE}")
