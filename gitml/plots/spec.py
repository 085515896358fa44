"""Vega-Lite specs for charts: a template filled with a chart's data (for HTML; for PNG/SVG
with a fixed width, a title and a white background).

Interactive line charts: one colour per revision (the same colour for a revision on every
chart), hover shows every revision's value at the nearest step, scroll zooms, drag pans,
a click on a revision in the legend highlights it. Long series are reduced for display to
at most ``max_points`` per line by keeping the lowest and highest point of each bucket, so
spikes stay visible; the page says when that happened.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from gitml.plots.charts import Chart, Trace

DEFAULT_MAX_POINTS = 2000
STATIC_WIDTH = 640
HEIGHT = 300


def _r(v: Any) -> Any:
    """Seven significant digits: what a chart can show, and a third of the bytes."""
    return float(f"{v:.7g}") if isinstance(v, float) else v


def downsample(x: list[Any], y: list[float], max_points: int) -> tuple[list[Any], list[float]]:
    """At most ``max_points`` points: the min and max of each bucket, in x order."""
    n = len(y)
    if max_points <= 0 or n <= max_points:
        return x, y
    buckets = max(1, max_points // 2)
    ox: list[Any] = []
    oy: list[float] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if lo >= hi:
            continue
        seg = y[lo:hi]
        i_min = lo + seg.index(min(seg))
        i_max = lo + seg.index(max(seg))
        for i in sorted({i_min, i_max}):
            ox.append(x[i])
            oy.append(y[i])
    return ox, oy


def chart_spec(chart: Chart, revs: list[str], max_points: int = DEFAULT_MAX_POINTS,
               interactive: bool = True) -> tuple[dict[str, Any], list[str]]:
    """(Vega-Lite spec, display notes such as downsampling) for one chart: its template
    (see :mod:`gitml.plots.templates`) with the chart's data in the anchors."""
    from gitml.plots.templates import builtin, fill

    tpl = chart.vl or builtin(chart.template)
    values: dict[str, Any] = {"<GITML_REVS>": list(revs), "<GITML_TITLE>": chart.title,
                              "<GITML_X_LABEL>": chart.x_label,
                              "<GITML_Y_LABEL>": chart.y_label}
    notes: list[str] = []
    if chart.kind == "confusion":
        values["<GITML_DATA>"] = _confusion_rows(chart)
        values["<GITML_DATA_COMPACT>"] = values["<GITML_DATA>"]
    elif chart.kind == "bar":
        values["<GITML_DATA>"] = [{"rev": t.rev, "x": x, "y": _r(y)} for t in chart.traces
                                  for x, y in zip(t.x, t.y, strict=True)]
        values["<GITML_DATA_COMPACT>"] = [{"rev": t.rev, "x": t.x, "y": [_r(v) for v in t.y]}
                                          for t in chart.traces]
    else:
        compact, notes = _xy_rows(chart, max_points)
        values["<GITML_DATA_COMPACT>"] = compact
        values["<GITML_DATA>"] = [{"rev": r["rev"], "x": x, "y": y} for r in compact
                                  for x, y in zip(r["x"], r["y"], strict=True)]
        values["<GITML_Y_ZERO>"] = len({v for t in chart.traces
                                        for v in (min(t.y), max(t.y))}) < 2
        hover, tooltip = _hover(chart, max_points)
        values["<GITML_HOVER_DATA>"] = hover
        values["<GITML_HOVER_TOOLTIP>"] = tooltip
    values.setdefault("<GITML_Y_ZERO>", True)
    values.setdefault("<GITML_HOVER_DATA>", [])
    values.setdefault("<GITML_HOVER_TOOLTIP>", [])
    spec = fill(tpl.spec, values)
    meta = spec.get("usermeta") if isinstance(spec.get("usermeta"), dict) else {}
    gitml_meta = dict(meta.get("gitml") or {}) if isinstance(meta.get("gitml"), dict) else {}
    gitml_meta.update(id=chart.id, path=chart.path, template=chart.template)
    spec["usermeta"] = {**meta, "gitml": gitml_meta}
    if not interactive:
        if spec.get("width") == "container":
            spec["width"] = STATIC_WIDTH
        spec.setdefault("title", chart.title)
        spec.setdefault("background", "white")
    return spec, notes


def _xy_rows(chart: Chart, max_points: int) -> tuple[list[dict[str, Any]], list[str]]:
    rows = []
    notes = []
    reduced = []
    for t in chart.traces:
        x, y = downsample(t.x, t.y, max_points) if chart.kind == "line" else \
            _stride(t, max_points)
        if len(y) < len(t.y):
            reduced.append(f"{t.rev} {len(t.y):,} → {len(y):,}")
        rows.append({"rev": t.rev, "x": [_r(v) for v in x], "y": [_r(v) for v in y]})
    if reduced:
        how = ("lowest and highest point per bucket" if chart.kind == "line"
               else "every n-th point")
        notes.append(f"downsampled for display ({how}): " + ", ".join(reduced) + " points")
    return rows, notes


def _stride(t: Trace, max_points: int) -> tuple[list[Any], list[float]]:
    if max_points <= 0 or len(t.y) <= max_points:
        return t.x, t.y
    k = -(-len(t.y) // max_points)
    return t.x[::k], t.y[::k]


def _hover(chart: Chart, max_points: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for a rule at the nearest x, with every revision's value there in the tooltip.

    Its own small table (x -> one column per revision, on a shared grid of x values) keeps
    the tooltip complete even where the drawn lines were reduced differently.
    """
    grid = sorted({v for t in chart.traces for v in t.x})
    if max_points > 0 and len(grid) > max_points:
        grid = grid[:: -(-len(grid) // max_points)]
    keep = set(grid)
    table: dict[Any, dict[str, Any]] = {v: {"x": _r(v)} for v in grid}
    keys = []
    for i, t in enumerate(chart.traces):
        key = f"r{i}"
        keys.append((key, t.rev))
        for xv, yv in zip(t.x, t.y, strict=True):
            if xv in keep:
                table[xv][key] = _r(yv)
    tooltip = [{"field": "x", "type": "quantitative", "title": chart.x_label,
                "format": ".6~g"}]
    tooltip += [{"field": key, "type": "quantitative", "title": rev, "format": ".6~g"}
                for key, rev in keys]
    return list(table.values()), tooltip


def _confusion_rows(chart: Chart) -> list[dict[str, Any]]:
    rows = []
    for t in chart.traces:
        for (a, p), n in sorted(Counter(zip(t.x, t.y, strict=True)).items()):
            rows.append({"rev": t.rev, "actual": a, "predicted": p, "count": n})
    return rows
