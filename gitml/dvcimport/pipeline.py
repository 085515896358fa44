"""``dvc.yaml`` -> ``gitml.yaml``: stages (foreach/matrix kept as they are), vars, and the
top-level metrics, params and plots.

Both files share most of their shape, so the conversion mostly copies; what differs:
DVC caches metrics and plots unless told not to (gitml keeps them in Git), so those get an
explicit ``cache: true``; a ``dvc.yaml`` in a sub-directory becomes stages whose ``wdir``
is that directory, named ``<dir>-<stage>``; DVC-only options (``remote``, ``push``,
artifacts, datasets ...) are listed as not converted. The result is checked by gitml's own
parser; a stage it refuses is left out, with gitml's reason.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.dvcimport.dvcfiles import Skip, load_yaml, read_limited, repo_path
from gitml.errors import FormatError

if TYPE_CHECKING:
    from gitml.pipeline.dag import Pipeline

TOP_KEYS = ("stages", "vars", "params", "metrics", "plots", "artifacts", "datasets")
_COPY = ("cmd", "deps", "params", "frozen", "always_changed", "desc", "meta")
_OUT_OPTS = ("cache", "persist", "desc")
_PLOT_OPTS = ("x", "y", "template", "title", "x_label", "y_label")
# DVC's plot templates -> gitml's
TEMPLATES = {"linear": "line", "simple": "line", "smooth": "line", "scatter": "scatter",
             "confusion": "confusion", "confusion_normalized": "confusion",
             "bar_horizontal": "bar", "bar_horizontal_sorted": "bar"}
_NAME = re.compile(r"^[A-Za-z0-9_][\w.-]*$")


@dataclass
class Converted:
    """The ``gitml.yaml`` document, where each stage came from, and what was left out."""

    doc: dict[str, Any] = field(default_factory=dict)
    # gitml stage (or foreach/matrix group) name -> (dvc.yaml path, DVC's name)
    origin: dict[str, tuple[str, str]] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)  # dvc.yaml files converted whole


def convert(root: str, files: list[str]) -> Converted:
    """Convert the ``dvc.yaml`` files at the repository paths ``files``."""
    out = Converted()
    for rel in sorted(files, key=lambda p: (p.count("/"), p)):
        before = len(out.skips)
        try:
            data = read_limited(f"{root}/{rel}", 64 << 20, rel)
            doc = load_yaml(data, rel)
            _one(out, rel, data, doc)
        except FormatError as e:
            out.skips.append(Skip(rel, e.problem))
            continue
        if len(out.skips) == before:
            out.complete.append(rel)
    return out


def _one(out: Converted, rel: str, data: bytes, doc: Any) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise FormatError(rel, "expected a mapping at the top level")
    d = posixpath.dirname(rel)
    for key in doc:
        if key not in TOP_KEYS:
            out.skips.append(Skip(f"{rel}: {key}", "unknown top-level key; not converted"))
    if d and b"${" in data:
        raise FormatError(rel, "interpolation (${...}) in a dvc.yaml outside the repository "
                               "root is not converted: move its stages to the root dvc.yaml")
    for key in ("artifacts", "datasets"):
        if doc.get(key):
            out.skips.append(Skip(f"{rel}: {key}", f"DVC {key} have no gitml equivalent "
                                  "(see 'gitml model register' for models); not converted"))
    if doc.get("vars"):
        out.doc.setdefault("vars", []).extend(
            doc["vars"] if isinstance(doc["vars"], list) else [doc["vars"]])
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise FormatError(rel, "'stages' must be a mapping")
    target = out.doc.setdefault("stages", {})
    for name, body in stages.items():
        where = f"{rel}: stage {name!r}"
        gname = f"{_slug(d)}-{name}" if d else str(name)
        if not _NAME.match(gname) or gname in target:
            out.skips.append(Skip(where, f"cannot be named {gname!r} in gitml.yaml"))
            continue
        if not isinstance(body, dict):
            out.skips.append(Skip(where, "expected a mapping"))
            continue
        try:
            target[gname] = _stage(out, where, d, body)
        except FormatError as e:
            out.skips.append(Skip(where, e.problem))
            continue
        out.origin[gname] = (rel, str(name))
    for kind in ("metrics", "params"):
        items = doc.get(kind) or []
        if not isinstance(items, list):
            out.skips.append(Skip(f"{rel}: {kind}", "expected a list of paths"))
            continue
        for p in items:
            try:
                out.doc.setdefault(kind, []).append(repo_path(d, p, f"{rel}: {kind}"))
            except FormatError as e:
                out.skips.append(Skip(f"{rel}: {kind}", e.problem))
    _plots(out, rel, d, doc.get("plots"))


def _slug(d: str) -> str:
    return re.sub(r"[^\w.-]", "-", d)


def _stage(out: Converted, where: str, d: str, body: dict[str, Any]) -> dict[str, Any]:
    if "foreach" in body:
        do = body.get("do")
        if not isinstance(do, dict):
            raise FormatError(where, "foreach without a 'do' mapping")
        return {"foreach": body["foreach"], "do": _body(out, where, d, do)}
    if "matrix" in body:
        rest = {k: v for k, v in body.items() if k != "matrix"}
        return {"matrix": body["matrix"], **_body(out, where, d, rest)}
    return _body(out, where, d, body)


def _body(out: Converted, where: str, d: str, body: dict[str, Any]) -> dict[str, Any]:
    new: dict[str, Any] = {}
    for key, value in body.items():
        if key in _COPY:
            new[key] = value
        elif key == "wdir":
            if not isinstance(value, str):
                raise FormatError(where, f"malformed wdir {value!r}")
            new["wdir"] = posixpath.normpath(posixpath.join(d, value)) if d else value
        elif key in ("outs", "metrics", "plots"):
            items = value if isinstance(value, list) else [value]
            new[key] = [_out(out, f"{where}: {key}", key, item) for item in items]
        elif key == "vars":
            # stage-local vars: gitml has one set for the file; the names cannot clash
            # with other stages' (DVC would have refused a stage using undefined ones)
            out.doc.setdefault("vars", []).extend(value if isinstance(value, list) else [value])
        else:
            out.skips.append(Skip(f"{where}: {key}", "a DVC-only key; dropped"))
    if d and "wdir" not in new:
        new["wdir"] = d
    return new


def _out(out: Converted, where: str, section: str, item: Any) -> Any:
    if isinstance(item, str):
        path, opts = item, {}
    elif isinstance(item, dict) and len(item) == 1:
        (path, opts), = item.items()
        opts = opts or {}
        if not isinstance(opts, dict):
            raise FormatError(where, f"{path}: options must be a mapping")
    else:
        raise FormatError(where, f"expected a path or {{path: options}}, not {item!r}")
    new: dict[str, Any] = {}
    for k, v in opts.items():
        if k in _OUT_OPTS:
            new[k] = v
        elif section == "plots" and k in _PLOT_OPTS:
            if k == "template":
                if v not in TEMPLATES:
                    out.skips.append(Skip(f"{where}: {path}: template",
                                          f"DVC template {v!r} has no gitml equivalent; "
                                          "dropped (line is drawn)"))
                    continue
                v = TEMPLATES[v]
            new[k] = v
        else:
            out.skips.append(Skip(f"{where}: {path}: {k}", "a DVC-only option; dropped"))
    if section in ("metrics", "plots") and "cache" not in new:
        new["cache"] = True  # DVC's default; gitml's is to keep them in Git
    if not new:
        return path
    # gitml interpolates values, not mapping keys: an interpolated path goes under 'path'
    return {"path": path, **new} if "${" in str(path) else {path: new}


def _plots(out: Converted, rel: str, d: str, section: Any) -> None:
    """Top-level ``plots``: files (or folders) with drawing settings."""
    if not section:
        return
    items: list[tuple[Any, Any]] = []
    for entry in section if isinstance(section, list) else [section]:
        if isinstance(entry, str):
            items.append((entry, None))
        elif isinstance(entry, dict):
            items.extend(entry.items())
    target = out.doc.setdefault("plots", [])
    for name, spec in items:
        where = f"{rel}: plots: {name}"
        spec = spec or {}
        if not isinstance(spec, dict):
            out.skips.append(Skip(where, "expected drawing settings"))
            continue
        y = spec.get("y")
        path = name
        if isinstance(y, dict):  # DVC's {file: column(s)} form: one file only
            if len(y) != 1:
                out.skips.append(Skip(where, "a plot of several files; gitml draws one file "
                                      "per plot: not converted"))
                continue
            (path, y), = y.items()
        x = spec.get("x")
        if isinstance(x, dict):
            if len(x) != 1 or next(iter(x)) != path:
                out.skips.append(Skip(where, "x from another file; not converted"))
                continue
            x = next(iter(x.values()))
        try:
            path = repo_path(d, path, where)
        except FormatError as e:
            out.skips.append(Skip(where, e.problem))
            continue
        settings: dict[str, Any] = {}
        for k in _PLOT_OPTS:
            v = {"x": x, "y": y}.get(k, spec.get(k))
            if v is None:
                continue
            if k == "template":
                if v not in TEMPLATES:
                    out.skips.append(Skip(f"{where}: template", f"DVC template {v!r} has no "
                                          "gitml equivalent; dropped (line is drawn)"))
                    continue
                v = TEMPLATES[v]
            settings[k] = v
        for k in spec:
            if k not in _PLOT_OPTS:
                out.skips.append(Skip(f"{where}: {k}", "a DVC-only setting; dropped"))
        target.append({path: settings} if settings else path)


def validate(root: str, conv: Converted) -> Pipeline | None:
    """Check the converted document with gitml's own parsers, dropping (and listing) what
    they refuse; returns the pipeline (None when there are no stages left)."""
    from gitml import metricspec
    from gitml.pipeline.dag import PipelineError
    from gitml.pipeline.interp import load_vars, refs
    from gitml.pipeline.loader import from_doc
    from gitml.pipeline.schema import SOURCE, parse_stages
    from gitml.plots.config import parse_section

    doc = conv.doc
    stages = doc.get("stages") or {}
    ctx: dict[str, Any] = {}
    if doc.get("vars") or refs(stages):
        try:
            ctx = load_vars(root, doc.get("vars"), SOURCE)
        except FormatError as e:
            conv.skips.append(Skip("vars", e.problem))
            doc.pop("vars", None)
    for name in list(stages):
        try:
            parse_stages({name: stages[name]}, ctx)
        except FormatError as e:
            where = conv.origin.pop(name, ("dvc.yaml", name))
            conv.skips.append(Skip(f"{where[0]}: stage {where[1]!r}", e.problem))
            if where[0] in conv.complete:
                conv.complete.remove(where[0])
            del stages[name]
    for kind in ("metrics", "params"):
        try:
            metricspec.declared(doc, kind)
        except FormatError as e:
            conv.skips.append(Skip(kind, e.problem))
            doc.pop(kind, None)
    try:
        parse_section(doc.get("plots"))
    except FormatError as e:
        conv.skips.append(Skip("plots", e.problem))
        doc.pop("plots", None)
    for key in [k for k, v in doc.items() if not v]:
        del doc[key]
    if not doc.get("stages"):
        return None
    try:
        return from_doc(root, doc)
    except (FormatError, PipelineError) as e:
        conv.skips.append(Skip("stages", f"{e}; the pipeline is not converted"))
        doc.pop("stages", None)
        conv.origin.clear()
        conv.complete.clear()
        return None
