"""``gitml report A B``: one page for a pull request.

Params diff, metrics diff, the curves of both revisions, and a summary of the tracked data
that changed. Markdown (with one PNG per chart in a folder beside it) or one self-contained
HTML page with interactive charts.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from typing import Any

from gitml.errors import BadInputError
from gitml.fsutil import atomic_write
from gitml.plots import charts_at, render
from gitml.plots.charts import Chart
from gitml.plots.series import Rev
from gitml.plots.spec import DEFAULT_MAX_POINTS
from gitml.repo import Repo

MAX_DATA_ROWS = 50


@dataclass
class Section:
    """Rows of (key, old, new, change) for params or metrics; ``note`` when unavailable."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Report:
    a: Rev
    b: Rev
    params: Section
    metrics: Section
    charts: list[Chart]
    data: list[dict[str, Any]]
    markdown: str = ""
    images: list[str] = field(default_factory=list)
    output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"a": {"label": self.a.label, "sha": self.a.sha},
                "b": {"label": self.b.label, "sha": self.b.sha},
                "params": self.params.to_dict(), "metrics": self.metrics.to_dict(),
                "curves": [c.to_dict(data=False) for c in self.charts],
                "data": self.data, "output": self.output, "images": self.images}


def build_report(revs: list[str | None], output: str | None = None, *,
                 targets: list[str] | None = None, max_points: int = DEFAULT_MAX_POINTS,
                 repo: Repo | None = None) -> Report:
    """Compare ``revs`` (A B, or A alone against the workspace); write ``output`` if given."""
    if not revs or len(revs) > 2:
        raise BadInputError("a report compares two revisions (A B), or one with the workspace")
    if len(revs) == 1:
        revs = [revs[0], None]
    fmt = None
    if output:
        fmt = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}.get(
            os.path.splitext(output)[1].lower())
        if fmt is None:
            raise BadInputError(f"{output}: a report is .md (Markdown + PNG) or .html")
        if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            raise BadInputError(f"{output}: folder {os.path.dirname(output)} does not exist")
    own = repo is None
    repo = repo or Repo()
    try:
        resolved, charts = charts_at(repo, revs, targets)
        a, b = resolved if len(resolved) == 2 else (resolved[0], resolved[0])
        rep = Report(a, b, _diff_section(repo, "params", a, b),
                     _diff_section(repo, "metrics", a, b), charts, _data_rows(repo, a, b))
        if fmt == "md":
            assert output is not None
            rep.images = _write_images(rep, output, max_points)
        rep.markdown = markdown(rep, os.path.dirname(os.path.abspath(output)) if output else None)
        if output:
            if fmt == "html":
                data = _html(repo, rep, max_points)
            else:
                data = rep.markdown.encode()
            atomic_write(output, data, durable=False)
            rep.output = output
        return rep
    finally:
        if own:
            repo.close()


# -- params and metrics (gitml.params / gitml.metrics) ------------------------------------
def _diff_section(repo: Repo, kind: str, a: Rev, b: Rev) -> Section:
    if kind == "metrics":
        from gitml.metrics import metrics_diff as fn
    else:
        from gitml.params import params_diff as fn
    raw = fn(a.sha, b.sha, repo=repo)
    rows = []
    for c in raw.get("changes", []):
        row = {k: c.get(k) for k in ("path", "key", "kind", "old", "new", "change", "percent",
                                     "verdict")}
        error = c.get("old_error") or c.get("new_error")
        if error:
            row["error"] = error
        rows.append(row)
    warnings = raw.get("warnings") or []
    return Section(rows=rows, note="; ".join(warnings) or None)


def _section_table(sec: Section, kind: str, a: str, b: str) -> tuple[list[str], list[list[Any]]]:
    files = len({r.get("path") for r in sec.rows}) > 1
    verdicts = any(r.get("verdict") for r in sec.rows)
    headers = (["file"] if files else []) + [kind, a, b, "change"] + \
        (["verdict"] if verdicts else [])
    table = []
    for r in sec.rows:
        cells = ([r.get("path")] if files else []) + [r["key"], _fmt(r.get("old")),
                                                     _fmt(r.get("new")), _change(r)]
        table.append(cells + ([r.get("verdict") or ""] if verdicts else []))
    return headers, table


# -- data ----------------------------------------------------------------------------------
def _data_rows(repo: Repo, a: Rev, b: Rev) -> list[dict[str, Any]]:
    """Tracked data that changed; files inside a tracked directory become one row for it."""
    rows: list[dict[str, Any]] = []
    dirs: dict[str, dict[str, Any]] = {}
    for c in repo.diff(a.sha, b.sha):
        if not c.dir:
            rows.append({"path": c.path, "kind": c.kind, "old_size": c.old_size,
                         "new_size": c.new_size, "note": c.note})
            continue
        d = dirs.get(c.dir)
        if d is None:
            d = dirs[c.dir] = {"path": c.dir + "/", "kind": "modified", "files": {}}
            rows.append(d)
        d["files"][c.kind] = d["files"].get(c.kind, 0) + 1
    for d in dirs.values():
        d["note"] = ", ".join(f"{n} file{'s' if n > 1 else ''} {k}"
                              for k, n in d["files"].items())
    return rows


# -- output ----------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _change(row: dict[str, Any]) -> str:
    if row.get("error"):
        return f"unreadable: {row['error']}"
    c, pct = row.get("change"), row.get("percent")
    if isinstance(c, (int, float)) and not isinstance(c, bool):
        text = f"{c:+.6g}"
        return f"{text} ({pct:+.1f}%)" if isinstance(pct, (int, float)) else text
    kind = row.get("kind")
    return kind if kind in ("added", "deleted") else ("changed" if kind == "modified" else "")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    from gitml.cli.output import markdown as md

    return md(headers, rows)


def _size(n: int | None) -> str:
    from gitml.cli.output import human_size

    return human_size(n) if n is not None else "—"


def markdown(rep: Report, base: str | None) -> str:
    a, b = rep.a.label, rep.b.label
    out = [f"# gitml report: {a} → {b}", ""]
    out.append(_md_table(["", "revision", "commit"],
                         [["A", a, rep.a.short], ["B", b, rep.b.short]]))
    for title, sec in (("Params", rep.params), ("Metrics", rep.metrics)):
        out += ["", f"## {title}", ""]
        if not sec.rows:
            out.append("No changes.")
        else:
            out.append(_md_table(*_section_table(sec, title[:-1].lower(), a, b)))
        if sec.note:
            out += ["", f"_{sec.note}_"]
    out += ["", "## Data", ""]
    if not rep.data:
        out.append("No tracked data changed.")
    else:
        counts = {k: sum(1 for r in rep.data if r["kind"] == k)
                  for k in ("added", "modified", "deleted")}
        out.append(", ".join(f"{n} {k}" for k, n in counts.items() if n) + ".")
        out.append("")
        shown = rep.data[:MAX_DATA_ROWS]
        out.append(_md_table(["path", "change", f"size {a}", f"size {b}", "note"],
                             [[r["path"], r["kind"], _size(r.get("old_size")),
                               _size(r.get("new_size")), r.get("note") or ""] for r in shown]))
        if len(rep.data) > len(shown):
            cmd = f"gitml diff {a}" + (f" {b}" if rep.b.sha else "")
            out.append(f"\n… and {len(rep.data) - len(shown)} more ({cmd}).")
    out += ["", "## Curves", ""]
    if not rep.charts:
        out.append("No series found.")
    images = dict(zip([c.id for c in rep.charts if c.traces], rep.images, strict=False))
    for chart in rep.charts:
        out += [f"### {chart.title}", ""]
        if chart.id in images and base:
            rel = os.path.relpath(images[chart.id], base).replace(os.sep, "/")
            out += [f"![{chart.title}]({rel})", ""]
        out += [_curve_table(chart), ""]
        if chart.notes:
            out += [f"- {note}" for note in chart.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def _curve_table(chart: Chart) -> str:
    if chart.template == "confusion":
        return _md_table(["revision", "samples", "accuracy"],
                         [[r["rev"], r.get("points", 0),
                           f"{r['accuracy']:.4f}" if "accuracy" in r else "—"]
                          for r in chart.summary])
    return _md_table(["revision", "points", "last", "min", "max"],
                     [[r["rev"], r.get("points", 0), _fmt(r.get("last")), _fmt(r.get("min")),
                       _fmt(r.get("max"))] for r in chart.summary])


def _write_images(rep: Report, output: str, max_points: int) -> list[str]:
    drawable = [c for c in rep.charts if c.traces]
    if not drawable:
        return []
    folder = os.path.splitext(os.path.abspath(output))[0] + "-plots"
    os.makedirs(folder, exist_ok=True)
    labels = [rep.a.label] if rep.a == rep.b else [rep.a.label, rep.b.label]
    paths = []
    for i, chart in enumerate(drawable, 1):
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", chart.title).strip("-.")[:60] or "chart"
        path = os.path.join(folder, f"{i:02d}-{slug}.png")
        atomic_write(path, render.image([chart], labels, "png", max_points), durable=False)
        paths.append(path)
    return paths


def _html(repo: Repo, rep: Report, max_points: int) -> bytes:
    a, b = rep.a.label, rep.b.label

    def table(headers: list[str], rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                       + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = []
    for title, sec in (("Params", rep.params), ("Metrics", rep.metrics)):
        parts.append(f"<h2>{title}</h2>")
        if not sec.rows:
            parts.append('<p class="none">No changes.</p>')
        else:
            parts.append(table(*_section_table(sec, title[:-1].lower(), a, b)))
        if sec.note:
            parts.append(f'<p class="none">{html.escape(sec.note)}</p>')
    parts.append("<h2>Data</h2>")
    if not rep.data:
        parts.append('<p class="none">No tracked data changed.</p>')
    else:
        parts.append(table(["path", "change", f"size {a}", f"size {b}", "note"],
                           [[r["path"], r["kind"], _size(r.get("old_size")),
                             _size(r.get("new_size")), r.get("note") or ""]
                            for r in rep.data[:MAX_DATA_ROWS]]))
        if len(rep.data) > MAX_DATA_ROWS:
            parts.append(f'<p class="none">… and {len(rep.data) - MAX_DATA_ROWS} more.</p>')
    parts.append("<h2>Curves</h2>" if rep.charts else "")
    labels = [a] if rep.a == rep.b else [a, b]
    meta = (f"A: <b>{html.escape(a)}</b> ({rep.a.short}), "
            f"B: <b>{html.escape(b)}</b> ({rep.b.short}).")
    return render.page(rep.charts, labels, title=f"gitml report: {a} → {b}", meta=meta,
                       before="".join(parts), max_points=max_points).encode()
