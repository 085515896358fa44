"""Where a model's bytes are: its path at a commit, and the object the pointer names there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitml import pointer
from gitml.errors import BadInputError
from gitml.fsutil import check_relpath
from gitml.readapi import NotFoundError, RevReader
from gitml.registry import meta

if TYPE_CHECKING:
    from gitml.registry.state import Version
    from gitml.repo import Repo


@dataclass(frozen=True)
class ModelObject:
    """The tracked file or directory a model version is."""

    path: str
    kind: str  # "file" or "dir"
    oid: str
    size: int | None = None
    files: int | None = None


def find_object(reader: RevReader, path: str, commit: str) -> ModelObject:
    """The object at ``path`` in ``commit``; a path gitml does not track there is an error."""
    spec = f"{commit}:{path}{pointer.SUFFIX}"
    data = reader.batch.read(spec)
    if data is not None:
        ptr = pointer.load_at(data, path + pointer.SUFFIX, spec)
        return ModelObject(path, ptr.kind, ptr.oid, ptr.size, ptr.files)
    try:
        kind, value = reader.locate(path, commit)
    except NotFoundError:
        kind, value = "missing", None
    if kind == "object":  # a file inside a tracked directory
        return ModelObject(path, "file", value)
    what = "is committed to Git, not tracked by gitml" if kind == "bytes" else \
        f"is not tracked by gitml there (no {path}{pointer.SUFFIX})"
    raise BadInputError(f"{path} at commit {commit[:7]} {what}; "
                        f"run 'gitml add {path}' and commit the pointer first")


def model_path_at(repo: Repo, name: str, version: Version, reader: RevReader) -> str:
    """The model's path for ``version``: recorded at registration, else declared at its
    commit (gitml.yaml, then GTO's files), else declared in the workspace."""
    if version.path and version.registered:  # recorded by gitml: a tag is untrusted input
        check_relpath(version.path, source=f"tag {version.registered.tag}")
        return version.path
    for rev in (version.commit, None):
        spec = meta.spec_for(repo, name, rev, reader.batch)
        if spec is not None and spec.path:
            return spec.path
    raise BadInputError(f"no path is known for model {name!r}: declare models.{name}.path in "
                        f"gitml.yaml (or register with --path)")


__all__ = ["ModelObject", "find_object", "model_path_at", "RevReader"]
