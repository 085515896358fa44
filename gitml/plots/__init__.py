"""Plots: series files across revisions as one interactive HTML page (or a PNG/SVG image).

Python API::

    from gitml.plots import plots_show, plots_diff
    plots_diff(["main", "exp-3"], output="report.html")   # -> PlotsResult

Series come from the files declared under ``plots:`` in ``gitml.yaml`` and, without any
declaration, from the training logger's folder ``gitml-live/plots/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitml.errors import BadInputError, UnsafePathError
from gitml.fsutil import atomic_write, check_relpath
from gitml.plots.charts import Chart, build
from gitml.plots.images import ImageSeries
from gitml.plots.series import Rev, collect, resolve_revs
from gitml.plots.spec import DEFAULT_MAX_POINTS
from gitml.repo import Repo

FORMATS = {".html": "html", ".htm": "html", ".png": "png", ".svg": "svg"}
DEFAULT_OUTPUT = os.path.join(".gitml", "tmp", "plots.html")

__all__ = ["PlotsResult", "charts_at", "plots_diff", "plots_show", "write"]


@dataclass
class PlotsResult:
    revs: list[Rev]
    charts: list[Chart]
    output: str | None = None
    size: int = 0
    images: list[ImageSeries] = field(default_factory=list)

    def to_dict(self, data: bool = False) -> dict[str, Any]:
        return {"revisions": [{"label": r.label, "sha": r.sha} for r in self.revs],
                "output": self.output, "bytes": self.size or None,
                "charts": [c.to_dict(data) for c in self.charts],
                "images": [i.to_dict() for i in self.images]}


def repo_targets(repo: Repo, targets: list[str] | None) -> list[str] | None:
    """Targets as repository paths: relative to the current directory, like Git's."""
    if not targets:
        return None
    out = []
    for t in targets:
        rel = repo.rel(os.path.abspath(t)) if not os.path.isabs(t) else repo.rel(t)
        try:
            check_relpath(rel)
        except UnsafePathError:
            raise BadInputError(f"{t} is outside the repository") from None
        out.append(rel)
    return out


def charts_at(repo: Repo, revs: list[str | None], targets: list[str] | None = None
              ) -> tuple[list[Rev], list[Chart]]:
    """Resolve ``revs`` (None: the workspace) and build the charts of every series file."""
    resolved = resolve_revs(repo, revs)
    from gitml.plots.templates import TemplateSet

    files = collect(repo, resolved, repo_targets(repo, targets))
    return resolved, build(files, resolved, TemplateSet(repo.root))


def write(repo: Repo, result: PlotsResult, output: str | None, *, title: str,
          max_points: int = DEFAULT_MAX_POINTS, before: str = "") -> PlotsResult:
    """Render ``result`` to ``output`` (.html, .png or .svg; default .gitml/tmp/plots.html)."""
    from gitml.plots import render

    path = output or os.path.join(repo.root, DEFAULT_OUTPUT)
    ext = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise BadInputError(f"{path}: output must end in .html, .png or .svg")
    labels = [r.label for r in result.revs]
    if fmt == "html":
        meta = "Revisions: " + ", ".join(
            f"<b>{_esc(r.label)}</b>" + (f" ({r.short})" if r.sha and r.short != r.label else "")
            for r in result.revs) + "."
        from gitml.plots.images import html_section

        data = render.page(result.charts, labels, title=title, meta=meta, before=before,
                           after=html_section(repo, result.revs, result.images),
                           max_points=max_points).encode()
    else:
        data = render.image(result.charts, labels, fmt, max_points)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        if output:
            raise BadInputError(f"{output}: folder {os.path.dirname(output)} does not exist")
        os.makedirs(parent, exist_ok=True)
    atomic_write(path, data, durable=False)
    result.output = path
    result.size = len(data)
    return result


def plots_show(targets: list[str] | None = None, output: str | None = None, *,
               max_points: int = DEFAULT_MAX_POINTS, repo: Repo | None = None,
               render_output: bool = True) -> PlotsResult:
    """The workspace's series (``gitml plots show``)."""
    return plots_diff([None], targets, output, max_points=max_points, repo=repo,
                      render_output=render_output, _title="gitml plots: workspace")


def plots_diff(revs: list[str | None], targets: list[str] | None = None,
               output: str | None = None, *, max_points: int = DEFAULT_MAX_POINTS,
               repo: Repo | None = None, render_output: bool = True,
               _title: str | None = None) -> PlotsResult:
    """Series across revisions (``gitml plots diff``); None in ``revs`` is the workspace.

    No revision: HEAD against the workspace; one: that revision against the workspace.
    """
    if not revs:
        revs = ["HEAD", None]
    elif len(revs) == 1 and revs[0] is not None:
        revs = [revs[0], None]
    own = repo is None
    repo = repo or Repo()
    try:
        from gitml.plots import images

        resolved, charts = charts_at(repo, revs, targets)
        result = PlotsResult(resolved, charts,
                             images=[] if targets else images.collect(repo, resolved))
        if render_output:
            title = _title or "gitml plots: " + " vs ".join(r.label for r in resolved)
            write(repo, result, output, title=title, max_points=max_points)
        return result
    finally:
        if own:
            repo.close()


def _esc(s: str) -> str:
    import html

    return html.escape(s)
