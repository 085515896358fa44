"""Charts to one self-contained HTML page (works offline), or to PNG/SVG images.

The charting library is Vega-Lite through ``vl-convert-python`` (the ``plots`` extra): its
wheel carries Vega, Vega-Lite and vega-embed, which we inline into the page, and renders
PNG/SVG itself, without a browser. Building the JavaScript bundle takes ~2.5 s the first
time, so it is cached per library version in the user's cache folder
(``$XDG_CACHE_HOME/gitml`` or ``~/.cache/gitml``).

The page declares a Content-Security-Policy that forbids every network request: whatever
a chart does, the file cannot reach out.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from typing import Any

from gitml import __version__
from gitml.errors import GitmlError
from gitml.fsutil import atomic_write
from gitml.plots.charts import Chart
from gitml.plots.spec import DEFAULT_MAX_POINTS, chart_spec

INSTALL_HINT = "pip install 'gitml[plots]'  (or: pip install vl-convert-python)"
HELP = ("Hover a chart to read every revision's value; scroll to zoom, drag to pan, "
        "double-click to reset. Click a revision in the legend to highlight it "
        "(shift-click adds more; click empty space to show all again).")
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'unsafe-inline'; img-src data: blob:")


class PlotsUnavailable(GitmlError):
    """The optional charting library is not installed."""


def vlc() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise PlotsUnavailable("drawing charts needs the plots extra: " + INSTALL_HINT) from None
    return vl_convert


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gitml")


def js_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script, cached per library version."""
    lib = vlc()
    version = "-".join([getattr(lib, "__version__", "0"), lib.get_vega_version(),
                        lib.get_vega_embed_version()])
    path = os.path.join(cache_dir(), f"vega-bundle-{version}.js")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    code: str = lib.javascript_bundle()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, code.encode(), durable=False)
    except OSError:
        pass  # no writable cache: the page is still made, just more slowly
    return code


def _script_json(obj: Any) -> str:
    """JSON safe inside <script>: no '</' and no HTML comment openers."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            .replace("</", "<\\/").replace("<!--", "<\\!--"))


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;
padding:16px 24px;color:#222}
h1{font-size:22px;margin:8px 0} h2{font-size:17px;margin:28px 0 6px} h2 small{color:#777;
font-weight:normal;font-size:12px;margin-left:8px}
.chart{width:100%;min-height:60px} .help,.meta{color:#555;font-size:13px}
.notes{background:#fff8e1;border-left:3px solid #f0b400;padding:6px 12px;margin:6px 0;
font-size:13px;list-style:none} .notes li{margin:2px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{border-bottom:1px solid #e3e3e3;
padding:3px 10px;text-align:right} th:first-child,td:first-child{text-align:left}
code{font-size:12px} .none{color:#777}
"""

_BOOT = """
(function () {
  var specs = JSON.parse(document.getElementById('gitml-specs').textContent);
  window.gitmlViews = {};
  var jobs = specs.map(function (item) {
    return vegaEmbed('#' + item.id, item.spec, {actions: false, renderer: 'canvas'})
      .then(function (res) { window.gitmlViews[item.id] = res.view; });
  });
  Promise.all(jobs).then(function () { document.body.setAttribute('data-ready', 'yes'); },
    function (err) { document.body.setAttribute('data-ready', 'error'); console.error(err); });
})();
"""


def summary_table(chart: Chart) -> str:
    if chart.template == "confusion":
        heads = ["revision", "samples", "accuracy", "note"]
        cells = [[r["rev"], r.get("points", 0),
                  f"{r['accuracy']:.4f}" if "accuracy" in r else "", r.get("note", "")]
                 for r in chart.summary]
    else:
        heads = ["revision", "points", f"{chart.x_label} range", "last", "min", "max", "note"]
        cells = [[r["rev"], r.get("points", 0),
                  f"{_f(r['x_min'])}–{_f(r['x_max'])}" if "x_min" in r else "",
                  _f(r.get("last")), _f(r.get("min")), _f(r.get("max")), r.get("note", "")]
                 for r in chart.summary]
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _f(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def page(charts: Sequence[Chart], revs: list[str], *, title: str, meta: str = "",
         before: str = "", after: str = "", max_points: int = DEFAULT_MAX_POINTS) -> str:
    """The whole HTML document. ``before`` and ``after`` are trusted HTML put above and
    below the charts."""
    bundle = js_bundle()
    specs = []
    sections = []
    for chart in charts:
        spec, display_notes = chart_spec(chart, revs, max_points)
        notes = chart.notes + display_notes
        drawn = bool(chart.traces)
        if drawn:
            specs.append({"id": chart.id, "spec": spec})
        path = "" if chart.title == chart.path else f"<small>{html.escape(chart.path)}</small>"
        body = (f'<div class="chart" id="{chart.id}"></div>' if drawn else
                '<p class="none">Nothing to draw at any revision.</p>')
        note_html = ("<ul class=\"notes\">" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                     + "</ul>") if notes else ""
        sections.append(f'<section data-path="{html.escape(chart.path)}">'
                        f"<h2>{html.escape(chart.title)}{path}</h2>{body}{note_html}"
                        f"{summary_table(chart)}</section>")
    if not charts and not after:
        sections.append('<p class="none">No series found. Log some with '
                        "<code>from gitml import Live</code>, or declare files under "
                        "<code>plots:</code> in gitml.yaml.</p>")
    doc_title = html.escape(title)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{doc_title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{doc_title}</h1><p class=\"meta\">{meta} Generated by gitml {__version__}.</p>"
        f'<p class="help">{HELP}</p>{before}{"".join(sections)}{after}'
        f"<script>{bundle}</script>"
        f'<script type="application/json" id="gitml-specs">{_script_json(specs)}</script>'
        f"<script>{_BOOT}</script></body></html>\n")


def image(charts: Sequence[Chart], revs: list[str], fmt: str,
          max_points: int = DEFAULT_MAX_POINTS) -> bytes:
    """The drawable charts stacked into one PNG or SVG."""
    lib = vlc()
    specs = [chart_spec(c, revs, max_points, interactive=False)[0] for c in charts if c.traces]
    if not specs:
        raise GitmlError("nothing to draw: no revision has data for these plots")
    spec = specs[0] if len(specs) == 1 else {
        "$schema": specs[0]["$schema"], "background": "white",
        "vconcat": [{k: v for k, v in s.items() if k not in ("$schema", "background")}
                    for s in specs],
        "resolve": {"scale": {"color": "independent"}}}
    try:
        if fmt == "svg":
            return str(lib.vegalite_to_svg(spec)).encode()
        return bytes(lib.vegalite_to_png(spec, scale=1.5))
    except Exception as e:  # the library's own error types vary by version
        raise GitmlError(f"could not render the {fmt.upper()}: {e}") from None
