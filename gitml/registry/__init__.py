"""The model registry: versions and stages of models as annotated Git tags (GTO's grammar).

``register`` tags ``churn@v1.0.0`` at a commit whose pointer tracks the model; ``promote``
tags ``churn#prod#N``; ``deprecate`` tags ``churn@v0.9.0!``, ``churn#prod!#N`` or
``churn@deprecated#N``. Nothing else is stored: the registry is cloned, pushed, reviewed
and audited with the tags (``git push --tags``, ``git log --tags``). docs/registry.md.

Python API::

    import gitml.api
    gitml.api.model_path("churn", stage="prod")   # local path to the prod model's bytes
    gitml.api.models()                            # every model, latest version, stages
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitml.registry.fetch import GetResult, get, model_path
from gitml.registry.ops import Action, deprecate, promote, register
from gitml.repo import Repo

__all__ = ["ModelInfo", "models", "model_path", "show", "register", "promote", "deprecate",
           "get", "Action", "GetResult"]


@dataclass(frozen=True)
class ModelInfo:
    """One model: its declared metadata, latest version and the version in each stage."""

    name: str
    path: str | None = None
    type: str | None = None
    description: str | None = None
    latest: str | None = None
    stages: dict[str, str] = field(default_factory=dict)
    versions: tuple[str, ...] = ()
    deprecated: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["versions"] = list(self.versions)
        return d


def models(repo: Repo | None = None) -> list[ModelInfo]:
    """Every model that is registered (has tags) or declared in gitml.yaml / GTO's files."""
    from gitml.registry import meta, state

    repo = repo or Repo()
    tagged = state.load(repo.root)
    declared = meta.load(repo).models
    out = []
    for name in sorted(set(declared) | {n for n, m in tagged.items() if m.events}):
        m = tagged.get(name) or state.Model(name)
        spec = declared.get(name) or meta.ModelSpec(name)
        latest = m.latest
        path = spec.path or (m.versions[latest].path if latest else None)
        out.append(ModelInfo(
            name, path, spec.type, spec.description, latest, dict(m.stages),
            tuple(v.name for v in m.sorted_versions() if v.active and v.is_semver),
            m.deprecated))
    return out


def declared_stages(repo: Repo | None = None) -> tuple[str, ...] | None:
    """The stages gitml.yaml allows (``models.stages``), or None: any name."""
    from gitml.registry import meta

    return meta.load(repo or Repo()).stages


def show(name: str, repo: Repo | None = None) -> dict[str, Any]:
    """Everything about one model: metadata, versions (each with its commit's model object,
    metrics, params and gitml.lock data hashes), current stages and the full history."""
    from gitml.errors import GitmlError
    from gitml.readapi import RevReader
    from gitml.registry import details, grammar, meta, state
    from gitml.registry.locate import find_object, model_path_at

    repo = repo or Repo()
    grammar.check_model_name(name)
    m = state.load(repo.root).get(name)
    spec = meta.spec_for(repo, name)
    if (m is None or not m.events) and spec is None:
        from gitml.errors import BadInputError

        known = ", ".join(i.name for i in models(repo)) or "none yet"
        raise BadInputError(f"no model named {name!r} (models: {known})")
    m = m or state.Model(name)
    versions = []
    ordered = m.sorted_versions()
    commits = [v.commit for v in ordered]
    metrics = details.values(repo, "metrics", commits)
    params = details.values(repo, "params", commits)
    with RevReader(repo) as reader:
        for v in ordered:
            reg = v.registered
            entry: dict[str, Any] = {
                "version": v.name, "commit": v.commit, "active": v.active,
                "stages": list(v.stages),
                "tag": reg.tag if reg else None,
                "registered_by": reg.who if reg else None,
                "registered_at": reg.time.isoformat() if reg else None,
                "message": reg.message if reg else None,
                "deprecated_at": v.deregistered.time.isoformat() if v.deregistered else None,
            }
            try:
                obj = find_object(reader, model_path_at(repo, name, v, reader), v.commit)
                entry.update(path=obj.path, kind=obj.kind, hash=obj.oid, size=obj.size)
            except GitmlError as e:
                entry.update(path=None, kind=None, hash=None, size=None, problem=str(e))
            entry.update(metrics=metrics.get(v.commit, {}), params=params.get(v.commit, {}),
                         data=details.lock_hashes(reader, v.commit))
            versions.append(entry)
    history = [e.to_dict(state.version_of(m, e)) for e in m.events]
    spec = spec or meta.ModelSpec(name)
    latest = m.latest
    return {"name": name, **spec.to_dict(),
            "path": spec.path or (m.versions[latest].path if latest else None),
            "deprecated": m.deprecated, "latest": latest, "stages": dict(m.stages),
            "versions": versions, "history": history}
