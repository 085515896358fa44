"""``gitml plots show|diff`` and ``gitml report``: charts and a comparison page."""

from __future__ import annotations

import os
from typing import Any

import click

from gitml.cli.output import emit_json, human_size, report_options

_MAX_POINTS = click.option(
    "--max-points", type=click.IntRange(min=0), default=2000, show_default=True,
    help="Reduce longer lines to this many points for display (0: draw every point).")
_OUTPUT = click.option("-o", "--output", type=click.Path(dir_okay=False),
                       help="Write here: .html (interactive), .png or .svg. "
                            "Default: .gitml/tmp/plots.html")
_OPEN = click.option("--open", "open_", is_flag=True, help="Open the page in a browser.")


@click.group()
def plots() -> None:
    """Draw series (loss curves, ROC points, confusion matrices) across revisions.

    \b
    gitml plots show                          # the workspace's series
    gitml plots diff main exp-3 -o cmp.html --open
    """


@plots.command()
@click.argument("targets", nargs=-1, type=click.Path())
@_OUTPUT
@_OPEN
@_MAX_POINTS
@report_options
def show(targets: tuple[str, ...], output: str | None, open_: bool, max_points: int,
         as_json: bool) -> None:
    """Draw the workspace's series: gitml-live/plots/ and files under plots: in gitml.yaml.

    Example: gitml plots show gitml-live/plots/metrics/train.loss.tsv -o loss.png
    """
    from gitml.plots import plots_show

    result = plots_show(list(targets) or None, output, max_points=max_points,
                        render_output=not as_json or bool(output))
    _report(result, as_json, open_)


@plots.command()
@click.argument("revs", nargs=-1)
@click.option("-t", "--target", "targets", multiple=True, type=click.Path(),
              help="Only this file or folder (repeatable).")
@_OUTPUT
@_OPEN
@_MAX_POINTS
@report_options
def diff(revs: tuple[str, ...], targets: tuple[str, ...], output: str | None, open_: bool,
         max_points: int, as_json: bool) -> None:
    """Draw series of several revisions on shared charts, one colour per revision.

    No REV: HEAD against the workspace; one REV: it against the workspace.

    Example: gitml plots diff main exp-3 exp-5 -o report.html --open
    """
    from gitml.plots import plots_diff

    result = plots_diff(list(revs), list(targets) or None, output, max_points=max_points,
                        render_output=not as_json or bool(output))
    _report(result, as_json, open_)


@plots.command()
@click.argument("names", nargs=-1)
@click.option("--init", "init_", is_flag=True,
              help="Write the built-in templates (or NAMES) into .gitml/plots/templates/.")
@click.option("-f", "--force", is_flag=True, help="With --init: overwrite existing files.")
@report_options
def templates(names: tuple[str, ...], init_: bool, force: bool, as_json: bool,
              quiet: bool, verbose: bool) -> None:
    """List the Vega-Lite templates charts are drawn with; --init writes the built-in ones
    into .gitml/plots/templates/ to edit (a file there replaces the built-in of its name,
    or adds a template a plot can name in gitml.yaml).

    \b
    gitml plots templates
    gitml plots templates --init line      # then edit .gitml/plots/templates/line.json
    """
    from gitml.plots.templates import TemplateSet
    from gitml.repo import Repo

    with Repo() as repo:
        tset = TemplateSet(repo.root)
        if init_:
            done = tset.init(list(names) or None, force=force)
            if as_json:
                emit_json([{"path": p, "action": a} for p, a in done])
            elif not quiet:
                for path, action in done:
                    click.echo(f"{action}: {path}" + (" (exists; --force overwrites it)"
                                                      if action == "kept" else ""))
            return
        rows = tset.listing()
        if names:
            known = {r["name"] for r in rows}
            for n in names:
                if n not in known:
                    from gitml.errors import BadInputError

                    raise BadInputError(f"no template {n!r} (templates: {', '.join(known)})")
            rows = [r for r in rows if r["name"] in names]
    if as_json:
        emit_json(rows)
        return
    if quiet:
        return
    from gitml.cli.output import table

    click.echo(table(["template", "kind", "source"],
                     [[r["name"], r["kind"] or "-",
                       r["source"] + (" (replaces the built-in)" if r.get("replaces_builtin")
                                      else "") + (f": error: {r['error']}" if r.get("error")
                                                  else "")] for r in rows]))


def _report(result: Any, as_json: bool, open_: bool) -> None:
    if as_json:
        emit_json(result.to_dict(data=True))
    else:
        _print_summary(result)
    if open_ and result.output:
        _open(result.output)


def _print_summary(result: Any) -> None:
    labels = ", ".join(r.label for r in result.revs)
    if not result.charts:
        click.echo(f"No series found at {labels}. Log some with 'from gitml import Live', or "
                   "declare files under 'plots:' in gitml.yaml.")
    if result.output:
        where = os.path.relpath(result.output)
        click.echo(f"Wrote {where} ({human_size(result.size)}): {len(result.charts)} "
                   f"chart{'s' if len(result.charts) != 1 else ''} for {labels}")
    for chart in result.charts:
        counts = " · ".join(f"{r['rev']} {r.get('points', 0):,}" for r in chart.summary)
        click.echo(f"  {chart.title}: {counts}")
    for img in result.images:
        counts = " · ".join(f"{r.label} {len(img.at.get(r.label, []))}" for r in result.revs)
        click.echo(f"  image {img.name}: {counts} steps")
    for chart in result.charts:
        for note in chart.notes:
            click.echo(f"note: {chart.title}: {note}")


def _open(path: str) -> None:
    import webbrowser

    url = "file://" + os.path.abspath(path)
    if not webbrowser.open(url):
        click.echo(f"Could not start a browser; open {url}", err=True)


@click.command()
@click.argument("revs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="report.md (Markdown + PNG images beside it) or report.html (one page). "
                   "Default: Markdown on stdout, without images.")
@click.option("-t", "--target", "targets", multiple=True, type=click.Path(),
              help="Only these plot files or folders (repeatable).")
@_OPEN
@_MAX_POINTS
@report_options
@click.option("--md", "as_md", is_flag=True, help="Print the Markdown (also with -o).")
def report(revs: tuple[str, ...], output: str | None, targets: tuple[str, ...], open_: bool,
           max_points: int, as_json: bool, as_md: bool) -> None:
    """Compare two revisions on one page: params, metrics, curves and data changes.

    One REV compares it with the workspace. Made for pull requests.

    Example: gitml report main exp-3 -o pr.md
    """
    from gitml.errors import BadInputError
    from gitml.plots.report import build_report

    if len(revs) > 2:
        raise BadInputError("report compares two revisions (A B), or one with the workspace")
    rep = build_report(list(revs), output, targets=list(targets) or None,
                       max_points=max_points)
    if as_json:
        emit_json(rep.to_dict())
    elif as_md or not output:
        click.echo(rep.markdown, nl=False)
    if output and not as_json:
        extra = f" and {len(rep.images)} image{'s' if len(rep.images) != 1 else ''}" \
            if rep.images else ""
        click.echo(f"Wrote {os.path.relpath(output)}{extra}", err=as_md)
    if open_ and output:
        _open(output)
