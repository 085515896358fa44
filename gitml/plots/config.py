"""The ``plots:`` section of ``gitml.yaml``: which files to draw, and how.

Two spellings are accepted; each entry is a file or a directory (every series file
below it), with optional settings::

    plots:                                   plots:
      - gitml-live/plots/metrics               eval/roc.json: {x: fpr, y: tpr, template: scatter}
      - eval/roc.json:                         eval/classes.csv: {template: confusion}
          x: fpr
          y: tpr
          template: scatter

Settings: ``x`` (a field), ``y`` (a field or a list), ``template`` (line, scatter, bar,
confusion, or a file's name in ``.gitml/plots/templates/``), ``title``, ``x_label``,
``y_label``. For ``confusion``, ``x`` names the actual class column and ``y`` the
predicted one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from gitml.errors import FormatError, UnsafePathError
from gitml.fsutil import check_relpath

TEMPLATES = ("line", "scatter", "bar", "confusion")  # built in; more in .gitml/plots/templates
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SERIES_EXTS = (".tsv", ".csv", ".json", ".yaml", ".yml")
LIVE_PLOTS = "gitml-live/plots"  # the training logger's series: drawn without a declaration
_KEYS = ("x", "y", "template", "title", "x_label", "y_label")


@dataclass(frozen=True)
class PlotDef:
    """One declared (or discovered) series file and how to draw it."""

    path: str
    x: str | None = None
    y: tuple[str, ...] = ()
    template: str = "line"
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    declared: bool = False

    def for_file(self, path: str) -> PlotDef:
        """The same settings for a file found below a declared directory."""
        return replace(self, path=path)


def parse_section(section: Any, source: str = "gitml.yaml") -> list[PlotDef]:
    """Validate the ``plots`` section; errors name ``source`` and the entry."""
    if section is None:
        return []
    if isinstance(section, dict):
        items = list(section.items())
    elif isinstance(section, list):
        items = []
        for i, entry in enumerate(section):
            if isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            else:
                raise FormatError(source, f"plots[{i}]: expected a path or 'path: {{settings}}'")
    else:
        raise FormatError(source, "plots: expected a list or a mapping of paths")
    out: list[PlotDef] = []
    seen: set[str] = set()
    for path, settings in items:
        plot = _entry(path, settings, source)
        if plot.path in seen:
            raise FormatError(source, f"plots: {plot.path} is declared twice")
        seen.add(plot.path)
        out.append(plot)
    return out


def _entry(path: Any, settings: Any, source: str) -> PlotDef:
    if not isinstance(path, str) or not path.strip():
        raise FormatError(source, f"plots: {path!r} is not a path")
    where = f"plots.{path}"
    path = path.strip().rstrip("/")
    try:
        check_relpath(path, source=source)
    except UnsafePathError:
        raise FormatError(source, f"{where}: must be a relative path inside the repository"
                          ) from None
    if settings is None:
        return PlotDef(path, declared=True)
    if not isinstance(settings, dict):
        raise FormatError(source, f"{where}: settings must be a mapping (x, y, template ...)")
    unknown = sorted(str(k) for k in settings if k not in _KEYS)
    if unknown:
        raise FormatError(source, f"{where}: unknown setting {unknown[0]!r} "
                                  f"(known: {', '.join(_KEYS)})")
    template = settings.get("template", "line")
    if not (isinstance(template, str) and TEMPLATE_NAME.fullmatch(template)):
        raise FormatError(source, f"{where}: template must be one of {', '.join(TEMPLATES)} "
                                  f"or the name of a file in .gitml/plots/templates/, "
                                  f"not {template!r}")
    for key in ("x", "title", "x_label", "y_label"):
        value = settings.get(key)
        if value is not None and not (isinstance(value, str) and value):
            raise FormatError(source, f"{where}: {key} must be a non-empty string")
    y = settings.get("y")
    if y is None:
        ys: tuple[str, ...] = ()
    elif isinstance(y, str) and y:
        ys = (y,)
    elif isinstance(y, list) and y and all(isinstance(v, str) and v for v in y):
        ys = tuple(y)
    else:
        raise FormatError(source, f"{where}: y must be a field name or a list of field names")
    if template == "confusion" and len(ys) > 1:  # (a custom template: checked when drawn)
        raise FormatError(source, f"{where}: a confusion matrix takes one y (the predicted "
                                  "column)")
    return PlotDef(path, x=settings.get("x"), y=ys, template=template,
                   title=settings.get("title"), x_label=settings.get("x_label"),
                   y_label=settings.get("y_label"), declared=True)


def is_series_file(path: str) -> bool:
    return path.lower().endswith(SERIES_EXTS)
