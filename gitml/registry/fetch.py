"""Reading models out of the registry: resolve ``churn@prod``, copy it out, or give its path.

Bytes come from the store, or from the default remote when missing locally
(:meth:`gitml.readapi.RevReader.object_path`); every byte handed out is verified.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from typing import Any

from gitml import manifest
from gitml.errors import BadInputError
from gitml.fsutil import safe_join, tmp_name
from gitml.hashing import hash_file
from gitml.readapi import RevReader
from gitml.registry import grammar as g
from gitml.registry import state
from gitml.registry.locate import ModelObject, find_object, model_path_at
from gitml.repo import Repo

_COPY = ("reflink", "copy")  # never a link: an edit in the output must not reach the store


@dataclass(frozen=True)
class Resolved:
    """A model reference resolved to one version and its object."""

    name: str
    version: str
    commit: str
    stage: str | None
    obj: ModelObject


@dataclass(frozen=True)
class GetResult:
    name: str
    version: str
    commit: str
    path: str  # the model's path in the repository
    output: str
    oid: str
    kind: str
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def resolve_version(models: dict[str, state.Model], ref: g.ModelRef) -> state.Version:
    m = models.get(ref.name)
    if m is None or not m.versions:
        known = ", ".join(sorted(n for n, x in models.items() if x.versions)) or "none yet"
        raise BadInputError(f"no model named {ref.name!r} is registered (models: {known})")
    if ref.stage:
        name = m.stages.get(ref.stage)
        if name is None:
            held = ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "none"
            raise BadInputError(f"no version of {ref.name} is in stage {ref.stage!r} "
                                f"(stages: {held})")
        return m.versions[name]
    if ref.version:
        v = m.versions.get(ref.version)
        if v is None or v.registered is None:
            raise BadInputError(f"{ref.name} has no version {ref.version}")
        if not v.active:
            raise BadInputError(f"{ref.name} {ref.version} is deprecated")
        return v
    latest = m.latest
    if latest is None:
        raise BadInputError(f"{ref.name} has no active version")
    return m.versions[latest]


def resolve(repo: Repo, spec: str | g.ModelRef, reader: RevReader) -> Resolved:
    ref = g.parse_ref(spec) if isinstance(spec, str) else spec
    v = resolve_version(state.load(repo.root), ref)
    path = model_path_at(repo, ref.name, v, reader)
    return Resolved(ref.name, v.name, v.commit, ref.stage, find_object(reader, path, v.commit))


def get(repo: Repo, spec: str, output: str | None = None, *, force: bool = False) -> GetResult:
    """Copy a model version out of the registry to ``output`` (default: its file name here).

    An existing different file (or directory) at ``output`` needs ``force``.
    """
    with RevReader(repo) as reader:
        r = resolve(repo, spec, reader)
        obj = r.obj
        base = obj.path.rpartition("/")[2]
        dest = os.path.abspath(output or base)
        if obj.kind == "file" and os.path.isdir(dest):
            dest = os.path.join(dest, base)  # like cp: into an existing directory
        if obj.kind == "file":
            changed = _get_file(repo, reader, obj, dest, force)
        else:
            changed = _get_dir(repo, reader, obj, dest, force)
    return GetResult(r.name, r.version, r.commit, obj.path, dest, obj.oid, obj.kind, changed)


def _get_file(repo: Repo, reader: RevReader, obj: ModelObject, dest: str, force: bool) -> bool:
    if os.path.lexists(dest):
        if os.path.isfile(dest) and not os.path.islink(dest) and hash_file(dest) == obj.oid:
            return False
        if not force:
            raise BadInputError(f"{dest} already exists and differs; use --force to replace it")
        if os.path.isdir(dest) and not os.path.islink(dest):
            raise BadInputError(f"{dest} is a directory")
    reader.ensure(obj.oid, obj.path)  # fetched from the remote when missing
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    repo.store.link(obj.oid, dest, link_types=_COPY)
    return True


def _get_dir(repo: Repo, reader: RevReader, obj: ModelObject, dest: str, force: bool) -> bool:
    if os.path.lexists(dest) and not force:
        if os.path.isdir(dest) and not os.listdir(dest):
            os.rmdir(dest)
        else:
            raise BadInputError(f"{dest} already exists; use --force to replace it")
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = tmp_name(parent, os.path.basename(dest))
    try:
        _materialise_dir(repo, reader, obj, tmp, _COPY)
        if os.path.lexists(dest):
            old = tmp_name(parent, os.path.basename(dest) + ".old")
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def _materialise_dir(repo: Repo, reader: RevReader, obj: ModelObject, target: str,
                     link_types: tuple[str, ...]) -> None:
    entries = manifest.loads(reader.object_bytes(obj.oid, obj.path), obj.path)
    os.makedirs(target)
    for d in entries.empty:
        os.makedirs(safe_join(target, d, source=obj.path), exist_ok=True)
    for e in entries:
        reader.ensure(e.oid, f"{obj.path}/{e.path}")
        dest = safe_join(target, e.path, source=obj.path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        repo.store.link(e.oid, dest, executable=e.exec, link_types=link_types)


def model_path(name: str, stage: str | None = None, version: str | None = None,
               repo: Repo | None = None) -> str:
    """A local path to the bytes of a model version, for loading it.

    ``model_path("churn", stage="prod")``, ``model_path("churn", version="v1.0.0")``,
    ``model_path("churn")`` (latest) or ``model_path("churn@prod")``. A file model's path
    is its read-only object in the store (fetched from the default remote when missing,
    hash verified); a directory model is assembled once under ``.gitml/tmp/models/``.
    """
    if stage and version:
        raise BadInputError("give a stage or a version, not both")
    if "@" in name or "#" in name:
        if stage or version:
            raise BadInputError(f"{name!r} already names a version or stage")
        ref = g.parse_ref(name)
    else:
        ref = g.ModelRef(g.check_model_name(name),
                         version=g.normalize_version(version) if version else None,
                         stage=g.check_stage_name(stage) if stage else None)
    repo = repo or Repo()
    with RevReader(repo) as reader:
        obj = resolve(repo, ref, reader).obj
        if obj.kind == "file":
            return reader.object_path(obj.oid, obj.path)  # verified before anyone loads it
        target = os.path.join(repo.gitml_dir, "tmp", "models", obj.oid[5:])
        if not os.path.isdir(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = tmp_name(os.path.dirname(target), obj.oid[5:])
            try:
                _materialise_dir(repo, reader, obj, tmp, _COPY)
                os.rename(tmp, target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not os.path.isdir(target):  # a concurrent caller may have won the rename
                    raise
            except BaseException:
                with contextlib.suppress(OSError):
                    shutil.rmtree(tmp)
                raise
        return target
