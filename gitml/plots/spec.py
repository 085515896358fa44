"""Vega-Lite specs for charts: interactive ones for HTML, static ones for PNG/SVG.

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

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier, never fetched
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


def color_scale(revs: list[str]) -> dict[str, Any]:
    return {"domain": revs, "scheme": "tableau10"}


def chart_spec(chart: Chart, revs: list[str], max_points: int = DEFAULT_MAX_POINTS,
               interactive: bool = True) -> tuple[dict[str, Any], list[str]]:
    """(Vega-Lite spec, display notes such as downsampling) for one chart."""
    if chart.template == "confusion":
        return _confusion(chart, interactive), []
    if chart.template == "bar":
        return _bar(chart, revs, interactive), []
    return _xy(chart, revs, max_points, interactive)


def _base(chart: Chart, interactive: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"$schema": SCHEMA, "height": HEIGHT,
                            "width": "container" if interactive else STATIC_WIDTH,
                            "usermeta": {"gitml": {"id": chart.id, "path": chart.path,
                                                   "template": chart.template}}}
    if not interactive:
        spec["title"] = chart.title
        spec["background"] = "white"
    return spec


def _legend_params() -> list[dict[str, Any]]:
    return [{"name": "rev", "select": {"type": "point", "fields": ["rev"]}, "bind": "legend"},
            {"name": "zoom", "select": "interval", "bind": "scales"}]


def _xy(chart: Chart, revs: list[str], max_points: int, interactive: bool
        ) -> tuple[dict[str, Any], list[str]]:
    rows = []
    notes = []
    reduced = []
    for t in chart.traces:
        x, y = downsample(t.x, t.y, max_points) if chart.template == "line" else \
            _stride(t, max_points)
        if len(y) < len(t.y):
            reduced.append(f"{t.rev} {len(t.y):,} → {len(y):,}")
        rows.append({"rev": t.rev, "x": [_r(v) for v in x], "y": [_r(v) for v in y]})
    if reduced:
        how = ("lowest and highest point per bucket" if chart.template == "line"
               else "every n-th point")
        notes.append(f"downsampled for display ({how}): " + ", ".join(reduced) + " points")
    enc: dict[str, Any] = {
        "x": {"field": "x", "type": "quantitative", "title": chart.x_label,
              "scale": {"zero": False}},
        "y": {"field": "y", "type": "quantitative", "title": chart.y_label,
              "scale": {"zero": len({v for t in chart.traces for v in (min(t.y), max(t.y))}) < 2}},
        "color": {"field": "rev", "type": "nominal", "title": "revision",
                  "scale": color_scale(revs)},
    }
    line = chart.template == "line"
    mark: dict[str, Any] = ({"type": "line", "strokeWidth": 1.5, "clip": True} if line
                            else {"type": "point", "filled": True, "size": 18, "clip": True})
    spec = _base(chart, interactive)
    main: dict[str, Any] = {"data": {"values": rows}, "transform": [{"flatten": ["x", "y"]}],
                            "mark": mark, "encoding": enc}
    if not interactive:
        spec.update(main)
        return spec, notes
    main["params"] = _legend_params()
    enc["opacity"] = {"condition": {"param": "rev", "value": 1}, "value": 0.12}
    if not line:
        enc["tooltip"] = [{"field": "rev", "title": "revision"},
                          {"field": "x", "title": chart.x_label, "format": ".6~g"},
                          {"field": "y", "title": chart.y_label, "format": ".6~g"}]
        spec.update(main)
        return spec, notes
    spec["layer"] = [main, _hover_layer(chart, max_points)]
    return spec, notes


def _stride(t: Trace, max_points: int) -> tuple[list[Any], list[float]]:
    if max_points <= 0 or len(t.y) <= max_points:
        return t.x, t.y
    k = -(-len(t.y) // max_points)
    return t.x[::k], t.y[::k]


def _hover_layer(chart: Chart, max_points: int) -> dict[str, Any]:
    """A rule at the nearest x, with every revision's value there in the tooltip.

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
    return {
        "data": {"values": list(table.values())},
        "params": [{"name": "hover", "select": {"type": "point", "fields": ["x"],
                                                "nearest": True, "on": "pointerover",
                                                "clear": "pointerout"}}],
        "mark": {"type": "rule", "color": "#777", "strokeWidth": 1},
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "opacity": {"condition": {"param": "hover", "value": 0.7, "empty": False},
                        "value": 0},
            "tooltip": [{"field": "x", "type": "quantitative", "title": chart.x_label,
                         "format": ".6~g"}]
            + [{"field": key, "type": "quantitative", "title": rev, "format": ".6~g"}
               for key, rev in keys]}}


def _bar(chart: Chart, revs: list[str], interactive: bool) -> dict[str, Any]:
    rows = [{"rev": t.rev, "x": x, "y": _r(y)} for t in chart.traces
            for x, y in zip(t.x, t.y, strict=True)]
    spec = _base(chart, interactive)
    enc: dict[str, Any] = {
        "x": {"field": "x", "type": "nominal", "title": chart.x_label, "sort": None},
        "y": {"field": "y", "type": "quantitative", "title": chart.y_label},
        "xOffset": {"field": "rev", "type": "nominal", "scale": {"domain": revs}},
        "color": {"field": "rev", "type": "nominal", "title": "revision",
                  "scale": color_scale(revs)},
    }
    spec.update({"data": {"values": rows}, "mark": {"type": "bar"}, "encoding": enc})
    if interactive:
        spec["params"] = [_legend_params()[0]]
        enc["opacity"] = {"condition": {"param": "rev", "value": 1}, "value": 0.15}
        enc["tooltip"] = [{"field": "rev", "title": "revision"},
                          {"field": "x", "title": chart.x_label},
                          {"field": "y", "title": chart.y_label, "format": ".6~g"}]
    return spec


def _confusion(chart: Chart, interactive: bool) -> dict[str, Any]:
    rows = []
    for t in chart.traces:
        for (a, p), n in sorted(Counter(zip(t.x, t.y, strict=True)).items()):
            rows.append({"rev": t.rev, "actual": a, "predicted": p, "count": n})
    spec = _base(chart, interactive)
    width = 260
    spec.pop("width")
    spec.pop("height")
    cell_enc = {"x": {"field": "actual", "type": "nominal", "title": chart.x_label},
                "y": {"field": "predicted", "type": "nominal", "title": chart.y_label}}
    inner = {"width": width, "height": width, "layer": [
        {"mark": "rect", "encoding": {
            **cell_enc,
            "color": {"field": "count", "type": "quantitative", "title": "count",
                      "scale": {"scheme": "blues"}},
            "tooltip": [{"field": "actual", "title": chart.x_label},
                        {"field": "predicted", "title": chart.y_label},
                        {"field": "count", "type": "quantitative"}]}},
        {"mark": {"type": "text", "baseline": "middle"}, "encoding": {
            **cell_enc, "text": {"field": "count", "type": "quantitative"}}}]}
    spec.update({"data": {"values": rows},
                 "facet": {"column": {"field": "rev", "type": "nominal", "title": "revision",
                                      "sort": [t.rev for t in chart.traces]}},
                 "spec": inner, "resolve": {"scale": {"color": "independent"}}})
    return spec
