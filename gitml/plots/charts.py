"""From series tables to charts: fields chosen, values checked, problems written down.

One chart per (file, y field); a confusion matrix is one chart per file. Every revision
gets a summary row (points, x range, last/min/max) and, when something is wrong with its
file, a note: the chart draws what it can and says what it could not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gitml.plots.config import PlotDef
from gitml.plots.series import FileAtRev, Rev, SeriesFile, Table
from gitml.plots.templates import Template, TemplateSet

LIVE_SERIES = "gitml-live/plots/metrics/"
INDEX = "step"  # the x of a file without an x column: the row number


@dataclass
class Trace:
    """The points of one revision: numbers for line/scatter, labels for bar/confusion."""

    rev: str
    x: list[Any]
    y: list[Any]


@dataclass
class Chart:
    id: str
    path: str
    title: str
    template: str
    x_field: str
    y_field: str
    x_label: str
    y_label: str
    traces: list[Trace] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    vl: Template | None = None  # the Vega-Lite template (None: the built-in of ``template``)

    @property
    def kind(self) -> str:
        """How the data is prepared: line, scatter, bar or confusion."""
        return self.vl.kind if self.vl is not None else self.template

    def to_dict(self, data: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "path": self.path, "title": self.title, "template": self.template,
            "x": self.x_field, "y": self.y_field, "notes": self.notes, "revisions": self.summary}
        if data:
            out["data"] = {t.rev: {"x": t.x, "y": t.y} for t in self.traces}
        return out


def _number(v: Any) -> float | None:
    """A finite or non-finite float, or None when ``v`` is not a number at all."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _is_numeric_column(values: list[Any]) -> bool:
    return any(_number(v) is not None for v in values[:1000])


def build(files: list[SeriesFile], revs: list[Rev], templates: TemplateSet | None = None
          ) -> list[Chart]:
    templates = templates or TemplateSet(None)
    charts: list[Chart] = []
    for sf in files:
        tpl = templates.get(sf.plot.template, f"gitml.yaml: plots.{sf.plot.path}")
        if tpl.kind == "confusion":
            charts.append(_confusion(sf, len(charts), tpl))
            continue
        for y in _y_fields(sf, tpl.kind):
            chart = _xy_chart(sf, y, len(charts), tpl.kind)
            chart.vl = tpl
            charts.append(chart)
    return charts


def _x_field(plot: PlotDef, table: Table, kind: str) -> str | None:
    """The declared x, else "step" when present (bar: the first column), else the row number."""
    if plot.x:
        return plot.x
    if kind == "bar":
        return table.names[0] if table.names else None
    return INDEX if INDEX in table.columns else None


def _y_fields(sf: SeriesFile, kind: str) -> list[str]:
    if sf.plot.y:
        return list(sf.plot.y)
    ys: list[str] = []
    for at in sf.at:
        if at.table is None:
            continue
        x = _x_field(sf.plot, at.table, kind)
        for name, values in at.table.columns.items():
            if name != x and name not in ys and _is_numeric_column(values):
                ys.append(name)
    return ys or ["value"]


def _title(sf: SeriesFile, y: str, several: bool) -> str:
    plot = sf.plot
    if plot.title:
        return f"{plot.title}: {y}" if several else plot.title
    path = plot.path
    if path.startswith(LIVE_SERIES) and y == "value":
        return path[len(LIVE_SERIES):].rsplit(".", 1)[0]  # the metric's name: train.loss
    return f"{path}: {y}" if several else path


def _xy_chart(sf: SeriesFile, y: str, index: int, kind: str) -> Chart:
    plot = sf.plot
    several = len(sf.plot.y) > 1 or len(_y_fields(sf, kind)) > 1
    tables = [at.table for at in sf.at if at.table is not None]
    x_name = plot.x or next((f for t in tables if (f := _x_field(plot, t, kind))), None) \
        or INDEX
    chart = Chart(f"chart-{index}", plot.path, _title(sf, y, several), plot.template,
                  x_name, y, plot.x_label or x_name, plot.y_label or y)
    ranges = []
    for at in sf.at:
        trace, note, row = _xy_trace(plot, at, y, kind)
        if note:
            chart.notes.append(f"{at.rev.label}: {note}")
        if trace is not None:
            chart.traces.append(trace)
            if trace.x and kind != "bar":
                ranges.append((at.rev.label, trace.x[0], trace.x[-1]))
        chart.summary.append(row)
    if len({(lo, hi) for _, lo, hi in ranges}) > 1:
        chart.notes.append(f"{chart.x_label} ranges differ: " + ", ".join(
            f"{label} {_fmt(lo)}–{_fmt(hi)}" for label, lo, hi in ranges))
    return chart


def _xy_trace(plot: PlotDef, at: FileAtRev, y: str, kind: str
              ) -> tuple[Trace | None, str | None, dict[str, Any]]:
    row: dict[str, Any] = {"rev": at.rev.label, "points": 0}
    if at.table is None:
        row["note"] = at.problem
        return None, at.problem, row
    table = at.table
    if table.rows == 0:
        row["note"] = "empty series"
        return None, "empty series (no rows)", row
    missing = [f for f in (plot.x, y) if f and f not in table.columns]
    if missing:
        note = (f"no column {missing[0]!r} (columns: {', '.join(table.names)})")
        row["note"] = f"no column {missing[0]!r}"
        return None, note, row
    x_field = _x_field(plot, table, kind)
    ys = table.columns[y]
    xs: list[Any] = table.columns[x_field] if x_field else list(range(table.rows))
    categorical_x = kind == "bar"
    out_x: list[Any] = []
    out_y: list[float] = []
    bad = nonfinite = 0
    first_bad: tuple[int, Any] | None = None
    for i, (xv, yv) in enumerate(zip(xs, ys, strict=True)):
        fy = _number(yv)
        fx: Any = ("" if xv is None else str(xv)) if categorical_x else _number(xv)
        if fy is None or fx is None:
            if yv in ("", None) or (not categorical_x and xv in ("", None)):
                continue  # an empty cell: a sparse log, not an error
            bad += 1
            if first_bad is None:
                first_bad = (i + 1, yv if fy is None else xv)
            continue
        if not math.isfinite(fy) or (not categorical_x and not math.isfinite(fx)):
            nonfinite += 1
            continue
        out_x.append(int(fx) if not categorical_x and fx.is_integer() else fx)
        out_y.append(fy)
    notes = []
    if bad:
        cell, value = first_bad or (0, None)
        notes.append(f"{bad} non-numeric value{'s' if bad > 1 else ''} skipped "
                     f"(first in row {cell}: {value!r})")
    if nonfinite:
        notes.append(f"{nonfinite} NaN/inf value{'s' if nonfinite > 1 else ''} not drawn")
    if not out_y:
        notes.insert(0, f"no numeric values in {y!r}")
        row["note"] = "no numeric values"
        return None, "; ".join(notes), row
    if not categorical_x and any(b < a for a, b in zip(out_x, out_x[1:], strict=False)):
        order = sorted(range(len(out_x)), key=out_x.__getitem__)
        out_x = [out_x[i] for i in order]
        out_y = [out_y[i] for i in order]
    row.update(points=len(out_y), last=out_y[-1], min=min(out_y), max=max(out_y))
    if not categorical_x:
        row.update(x_min=out_x[0], x_max=out_x[-1])
    if notes:
        row["note"] = "; ".join(notes)
    return Trace(at.rev.label, out_x, out_y), "; ".join(notes) or None, row


def _confusion(sf: SeriesFile, index: int, tpl: Template) -> Chart:
    plot = sf.plot
    chart = Chart(f"chart-{index}", plot.path, plot.title or plot.path, plot.template,
                  plot.x or "actual", (plot.y or ("predicted",))[0],
                  plot.x_label or "actual", plot.y_label or "predicted", vl=tpl)
    for at in sf.at:
        row: dict[str, Any] = {"rev": at.rev.label, "points": 0}
        note: str | None = None
        if at.table is None:
            note = at.problem
        elif at.table.rows == 0:
            note = "empty (no rows)"
        else:
            names = at.table.names
            actual = plot.x or ("actual" if "actual" in names else (names + [""])[0])
            predicted = (plot.y[0] if plot.y else
                         "predicted" if "predicted" in names else (names + ["", ""])[1])
            missing = [f for f in (actual, predicted) if f not in at.table.columns]
            if missing:
                note = f"no column {missing[0]!r} (columns: {', '.join(names)})"
            else:
                a = ["" if v is None else str(v) for v in at.table.columns[actual]]
                p = ["" if v is None else str(v) for v in at.table.columns[predicted]]
                chart.traces.append(Trace(at.rev.label, a, p))
                right = sum(1 for u, v in zip(a, p, strict=True) if u == v)
                row.update(points=len(a), accuracy=right / len(a))
        if note:
            chart.notes.append(f"{at.rev.label}: {note}")
            row["note"] = note
        chart.summary.append(row)
    return chart


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
