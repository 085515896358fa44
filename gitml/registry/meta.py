"""Model metadata: the ``models:`` section of gitml.yaml, and GTO's files where it is silent.

::

    models:
      stages: [staging, prod]        # optional: when given, the only stages allowed
      churn:
        path: models/model.pkl       # a path tracked by gitml
        type: model
        description: Gradient-boosted churn classifier
        labels: [tabular]

A field missing here is taken from GTO's metadata at the same revision:
``artifacts:`` in ``dvc.yaml`` (``dir:name`` reads ``dir/dvc.yaml``), then ``artifacts.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitml import project, yamlio
from gitml.errors import FormatError, UnsafePathError
from gitml.fsutil import check_relpath
from gitml.registry.grammar import NAME

if TYPE_CHECKING:
    from gitml.gitio import BatchReader
    from gitml.repo import Repo

SPEC_KEYS = ("path", "type", "description", "labels")
STAGES_KEY = "stages"


@dataclass(frozen=True)
class ModelSpec:
    """What the project files say about one model."""

    name: str
    path: str | None = None
    type: str | None = None
    description: str | None = None
    labels: tuple[str, ...] = ()
    source: str = ""  # the file the path came from

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "type": self.type,
                             "description": self.description}
        if self.labels:
            d["labels"] = list(self.labels)
        return d


@dataclass(frozen=True)
class Declared:
    """Every declared model, and the allowed stages (None: any stage name)."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    stages: tuple[str, ...] | None = None


def parse_section(section: Any, source: str) -> Declared:
    """Validate the ``models:`` section of a project file."""
    import re

    if section is None:
        return Declared()
    if not isinstance(section, dict):
        raise FormatError(source, "models: expected a mapping of model name to its settings")
    name_re = re.compile(f"^{NAME}$")
    stages: tuple[str, ...] | None = None
    models: dict[str, ModelSpec] = {}
    for name, spec in section.items():
        where = f"models.{name}"
        if name == STAGES_KEY:
            if (not isinstance(spec, list) or not spec
                    or not all(isinstance(s, str) and name_re.match(s) for s in spec)):
                raise FormatError(source, "models.stages: expected a list of stage names "
                                          "(lowercase letters, digits, '-', '/')")
            stages = tuple(dict.fromkeys(spec))
            continue
        if not isinstance(name, str) or not re.match(f"^(?:[a-z0-9-_./]+:)?{NAME}$", name):
            raise FormatError(source, f"{where}: invalid model name (use lowercase letters, "
                                      f"digits, '-' and '/')")
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise FormatError(source, f"{where}: expected a mapping (path, type, description)")
        unknown = [k for k in spec if k not in SPEC_KEYS]
        if unknown:
            raise FormatError(source, f"{where}: unknown key {unknown[0]!r} "
                                      f"(known: {', '.join(SPEC_KEYS)})")
        for key in ("path", "type", "description"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise FormatError(source, f"{where}.{key}: expected text")
        path = spec.get("path")
        if path is not None:
            path = path.strip("/")
            check_relpath(path, source=f"{source}: {where}.path")
        labels = spec.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise FormatError(source, f"{where}.labels: expected a list of text")
        models[name] = ModelSpec(name, path, spec.get("type"), spec.get("description"),
                                 tuple(labels), source if path else "")
    return Declared(models, stages)


def load(repo: Repo, rev: str | None = None, reader: BatchReader | None = None) -> Declared:
    """The declared models at ``rev`` (None: the workspace), GTO's metadata filling gaps."""
    proj = project.load(repo, rev, reader)
    src = project.PROJECT_FILE if rev is None else f"{rev}:{project.PROJECT_FILE}"
    declared = parse_section(proj.get("models"), src)
    models = dict(declared.models)
    for spec in _gto_specs(repo, rev, reader, ""):
        have = models.get(spec.name)
        models[spec.name] = spec if have is None else _fill(have, spec)
    return Declared(models, declared.stages)


def spec_for(repo: Repo, name: str, rev: str | None = None,
             reader: BatchReader | None = None) -> ModelSpec | None:
    """The declared metadata of one model at ``rev``, or None."""
    spec = load(repo, rev, reader).models.get(name)
    if ":" in name and (spec is None or spec.path is None):
        dirname = name.rpartition(":")[0].strip("/")
        for gto in _gto_specs(repo, rev, reader, dirname):
            if gto.name == name:
                spec = gto if spec is None else _fill(spec, gto)
    return spec


def _fill(have: ModelSpec, other: ModelSpec) -> ModelSpec:
    return replace(
        have,
        path=have.path or other.path,
        type=have.type or other.type,
        description=have.description or other.description,
        labels=have.labels or other.labels,
        source=have.source if have.path else other.source)


def _read(repo: Repo, rev: str | None, reader: BatchReader | None, rel: str) -> bytes | None:
    if rev is None:
        try:
            return yamlio.read(os.path.join(repo.root, *rel.split("/")), rel, "project")
        except (FileNotFoundError, NotADirectoryError):
            return None
    if reader is None:
        from gitml.gitio import BatchReader

        with BatchReader(repo.root) as own:
            return own.read(f"{rev}:{rel}")
    return reader.read(f"{rev}:{rel}")


def _gto_specs(repo: Repo, rev: str | None, reader: BatchReader | None,
               dirname: str) -> list[ModelSpec]:
    """GTO's declarations: ``artifacts:`` in (dir/)dvc.yaml, then (root) artifacts.yaml."""
    out: list[ModelSpec] = []
    prefix = f"{dirname}/" if dirname else ""
    dvc_rel = f"{prefix}dvc.yaml"
    data = _read(repo, rev, reader, dvc_rel)
    if data is not None:
        src = dvc_rel if rev is None else f"{rev}:{dvc_rel}"
        doc = yamlio.loads(data, src, "project")
        arts = doc.get("artifacts") if isinstance(doc, dict) else None
        out += _gto_entries(arts, src, dirname, desc_key="desc")
    if not dirname:
        data = _read(repo, rev, reader, "artifacts.yaml")
        if data is not None:
            src = "artifacts.yaml" if rev is None else f"{rev}:artifacts.yaml"
            out += _gto_entries(yamlio.loads(data, src, "project"), src, "", desc_key="description")
    unique: dict[str, ModelSpec] = {}
    for spec in out:  # dvc.yaml wins over artifacts.yaml
        unique.setdefault(spec.name, spec)
    return list(unique.values())


def _gto_entries(arts: Any, src: str, dirname: str, desc_key: str) -> list[ModelSpec]:
    if not isinstance(arts, dict):
        return []
    out = []
    for name, spec in arts.items():
        if not isinstance(name, str) or not isinstance(spec, dict):
            continue
        path = spec.get("path")
        if isinstance(path, str):
            path = path.strip("/")
            if dirname:
                path = f"{dirname}/{path}"
            try:  # a virtual artifact (an URL, a path outside the repo) has no path here
                check_relpath(path, source=src)
            except UnsafePathError:
                path = None
        else:
            path = None
        desc = spec.get(desc_key, spec.get("description"))
        labels = spec.get("labels") or []
        full = f"{dirname}:{name}" if dirname else name
        out.append(ModelSpec(
            full, path, spec.get("type") if isinstance(spec.get("type"), str) else None,
            desc if isinstance(desc, str) else None,
            tuple(x for x in labels if isinstance(x, str)) if isinstance(labels, list) else (),
            src if path else ""))
    return out
