"""``gitml.yaml``: the committed project file, read at the workspace or at any revision.

Each part of gitml owns one top-level section and validates it itself:
``stages``/``vars`` (pipelines), ``metrics``/``params`` (metrics), ``plots``,
``checks``/``drift`` (tabular data), ``models`` (registry), ``hooks``, ``experiments``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
    doc = yamlio.loads(data, source, "project") or {}
    if not isinstance(doc, dict):
        raise FormatError(source, "expected a mapping at the top level")
    for key in doc:
        if key not in SECTIONS:
            raise FormatError(source, f"unknown top-level key {key!r} "
                                      f"(known: {', '.join(SECTIONS)})")
    return doc


# top-level lists whose ``${...}`` are filled from vars (params.yaml and the vars files)
INTERPOLATED = ("metrics", "params", "plots")


def load(repo: Repo, rev: str | None = None, reader: BatchReader | None = None
         ) -> dict[str, Any]:
    """The project file of the workspace (``rev=None``) or of ``rev``; {} when absent. The
    ``${...}`` of its top-level metrics/params/plots lists are filled in."""
    if rev is None:
        path = os.path.join(repo.root, PROJECT_FILE)
        try:
            doc = parse(yamlio.read(path, PROJECT_FILE, "project"))
        except FileNotFoundError:
            return {}
        return interpolate(doc, workspace_reader(repo.root), PROJECT_FILE)
    if reader is None:
        from gitml.gitio import BatchReader

        with BatchReader(repo.root) as own:
            return load(repo, rev, own)
    data = reader.read(f"{rev}:{PROJECT_FILE}")
    if data is None:
        return {}
    source = f"{rev}:{PROJECT_FILE}"
    return interpolate(parse(data, source), rev_reader(reader, rev), source)


def workspace_reader(root: str) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        try:
            with open(os.path.join(root, *path.split("/")), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
    return read


def rev_reader(reader: BatchReader, rev: str) -> Callable[[str], bytes | None]:
    return lambda path: reader.read(f"{rev}:{path}")


def needs_vars(doc: dict[str, Any]) -> bool:
    from gitml.pipeline.interp import refs_keys

    return any(refs_keys(doc.get(k)) for k in INTERPOLATED)


def interpolate(doc: dict[str, Any], read: Callable[[str], bytes | None],
                source: str = PROJECT_FILE) -> dict[str, Any]:
    """``doc`` with ``${...}`` in its top-level metrics/params/plots lists filled from vars
    (``read`` gives a file of the same revision); untouched when there are none."""
    if not needs_vars(doc):
        return doc
    from gitml.pipeline.interp import InterpolationError, render_keys, vars_context

    ctx = vars_context(read, doc.get("vars"), source)
    out = dict(doc)
    for key in INTERPOLATED:
        if key in doc:
            try:
                out[key] = render_keys(doc[key], ctx)
            except InterpolationError as e:
                raise FormatError(source, f"{key}: {e}") from None
    return out
