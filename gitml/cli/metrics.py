"""``gitml metrics`` and ``gitml params``: show at any revision, diff two, gate on regressions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import click

from gitml.cli.output import emit_json, markdown, report_options, style, table
from gitml.errors import EXIT_FOUND, CheckFailed

_COLOURS = {"better": "green", "worse": "red", "missing": "red", "within tolerance": "yellow"}


def _out_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--strict", is_flag=True,
                     help="Exit 2 when a file does not parse (default: warn, go on).")(f)
    f = click.option("--precision", type=click.IntRange(1, 17), default=5, show_default=True,
                     metavar="N", help="Significant digits of numbers.")(f)
    f = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(f)
    f = click.option("--md", "as_md", is_flag=True, help="Print a Markdown table.")(f)
    f = report_options(f)
    return click.option("-t", "--target", "targets", multiple=True, metavar="PATH",
                        help="Only this file, folder or glob (repeatable).")(f)


def _fmt(as_json: bool, as_md: bool, as_csv: bool) -> str:
    chosen = [n for n, on in (("json", as_json), ("md", as_md), ("csv", as_csv)) if on]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --json, --md, --csv")
    return chosen[0] if chosen else "table"


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def _csv(headers: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().rstrip("\n")


# -- show ------------------------------------------------------------------------------------

def _show(kind: str, revs: tuple[str, ...], all_branches: bool, all_tags: bool,
          branches: tuple[str, ...], targets: tuple[str, ...], as_json: bool, as_md: bool,
          as_csv: bool, precision: int, strict: bool) -> None:
    from gitml.compare import fmt_value, natural_key
    from gitml.metrics import _warnings, show_snapshots, snapshot_dict

    fmt = _fmt(as_json, as_md, as_csv)
    snaps = show_snapshots(kind, list(revs), all_branches=all_branches, all_tags=all_tags,
                           branches=list(branches), targets=list(targets) or None,
                           strict=strict)
    _warn(_warnings(snaps))
    if fmt == "json":
        emit_json({s.rev.label: snapshot_dict(s) for s in snaps})
        return
    if not any(s.files for s in snaps):
        where = snaps[0].rev.label if len(snaps) == 1 else f"{len(snaps)} revisions"
        click.echo(f"No {kind} files in {where}. Declare them in gitml.yaml under "
                   f"'{kind}:' or name one with --target.")
        return
    if len(snaps) == 1 and not (all_branches or all_tags or branches):
        headers = ["Path", "Metric" if kind == "metrics" else "Param", "Value"]
        rows: list[list[Any]] = []
        for path, f in snaps[0].files.items():
            if f.data is None:
                rows.append([path, "", "(unreadable)"])
            for key in sorted(f.data or {}, key=natural_key):
                rows.append([path, key, fmt_value(f.data[key], precision)])  # type: ignore[index]
        align = "llr"
    else:
        keys = sorted({k for s in snaps for f in s.files.values() for k in (f.data or {})},
                      key=natural_key)
        headers = ["Revision", "Path", *(keys or ["Value"])]
        rows = []
        for s in snaps:
            if s.error or not s.files:
                rows.append([s.rev.label, "(unreadable)" if s.error else "-"]
                            + ["-"] * (len(headers) - 2))
            for path, f in s.files.items():
                if f.data is None:
                    rows.append([s.rev.label, path, "(unreadable)"] + [""] * (len(headers) - 3))
                    continue
                rows.append([s.rev.label, path] + [
                    fmt_value(f.data[k], precision) if k in f.data else "-" for k in keys])
        align = "ll" + "r" * (len(headers) - 2)
    if fmt == "md":
        click.echo(markdown(headers, rows))
    elif fmt == "csv":
        click.echo(_csv(headers, rows))
    else:
        click.echo(table(headers, rows, align))


# -- diff ------------------------------------------------------------------------------------

def _diff(kind: str, a: str | None, b: str | None, targets: tuple[str, ...], show_all: bool,
          percent: bool, as_json: bool, as_md: bool, as_csv: bool, precision: int, strict: bool,
          fail_on_regression: bool = False) -> int:
    from gitml.compare import cell, change_text, fmt_number
    from gitml.metrics import diff_report

    fmt = _fmt(as_json, as_md, as_csv)
    report = diff_report(kind, a, b, targets=list(targets) or None,
                         include_unchanged=show_all, strict=strict)
    _warn(report.warnings)
    if fmt == "json":
        emit_json(report.to_dict())
    elif not report.changes and fmt != "csv":
        click.echo(f"No {kind} changed between {report.a} and {report.b}.")
    else:
        verdicts = report.has_verdicts
        name = "Metric" if kind == "metrics" else "Param"
        headers = ["Path", name, report.a, report.b, "Change"] + (["Verdict"] if verdicts else [])
        rows = []
        for c in report.changes:
            row = [c.path, c.key, cell(c, "old", precision), cell(c, "new", precision)]
            if fmt == "csv":
                row.append(change_text(c, precision))
                if percent:
                    row.append("" if c.percent is None else fmt_number(c.percent, 3))
            else:
                row.append(change_text(c, precision, percent))
            if verdicts:
                v = c.verdict or ""
                row.append(style(v, fg=_COLOURS[v]) if fmt == "table" and v in _COLOURS else v)
            rows.append(row)
        if fmt == "csv":
            headers = ["path", name.lower(), report.a, report.b, "change"] \
                + (["percent"] if percent else []) + (["verdict"] if verdicts else [])
            click.echo(_csv(headers, rows))
        elif fmt == "md":
            click.echo(markdown(headers, rows))
        else:
            click.echo(table(headers, rows, "llrrr" + "l" * verdicts))
    if fail_on_regression and report.regressions:
        names = ", ".join(f"{c.path}:{c.key}" for c in report.regressions[:5])
        more = " ..." if len(report.regressions) > 5 else ""
        n = len(report.regressions)
        unjudged = any(c.verdict == "unknown" for c in report.regressions)
        raise CheckFailed(f"{n} metric{'s' if n > 1 else ''} regressed past "
                          f"{'their' if n > 1 else 'its'} tolerance"
                          f"{' or could not be judged' if unjudged else ''}: {names}{more}")
    return 0


# -- the groups ------------------------------------------------------------------------------

def _make_group(kind: str) -> click.Group:
    noun = "metric" if kind == "metrics" else "param"

    @click.group(name=kind)
    def group() -> None:
        pass

    group.help = (f"Show and compare {kind} at any revision.\n\n"
                  f"Example: gitml {kind} diff main exp-3")

    @group.command("show")
    @click.argument("revs", nargs=-1)
    @click.option("-A", "--all-branches", is_flag=True, help="Every branch.")
    @click.option("-T", "--all-tags", is_flag=True, help="Every tag.")
    @click.option("--branches", multiple=True, metavar="GLOB",
                  help="Branches whose name matches GLOB (repeatable), e.g. 'exp-*'.")
    @_out_options
    def show(revs: tuple[str, ...], all_branches: bool, all_tags: bool,
             branches: tuple[str, ...], **kw: Any) -> None:
        _show(kind, revs, all_branches, all_tags, branches, **kw)

    show.help = (f"Show {kind} of the workspace, or one row per revision.\n\n"
                 f"A revision is anything Git accepts (branch, tag, SHA, HEAD~2); "
                 f"'workspace' is the work tree.\n\n"
                 f"\b\nExamples:\n  gitml {kind} show\n  gitml {kind} show main exp-3 v1.0\n"
                 f"  gitml {kind} show --branches 'exp-*' --md")

    @group.command("diff")
    @click.argument("a", required=False)
    @click.argument("b", required=False)
    @click.option("--all", "show_all", is_flag=True, help=f"Include unchanged {kind}.")
    @click.option("--percent", is_flag=True, help="Also show the relative change.")
    @_out_options
    def diff_cmd(a: str | None, b: str | None, show_all: bool, percent: bool, **kw: Any) -> int:
        return _diff(kind, a, b, show_all=show_all, percent=percent, **kw)

    diff_cmd.help = (f"Compare {kind} between two revisions (default: HEAD and the "
                     f"workspace; one revision: it and the workspace).\n\n"
                     f"Columns: Path | {noun.title()} | A | B | Change"
                     + (" | Verdict" if kind == "metrics" else "") + ".\n\n"
                     f"\b\nExamples:\n  gitml {kind} diff\n  gitml {kind} diff main exp-3 --md")
    if kind == "metrics":
        diff_cmd = click.option(
            "--fail-on-regression", is_flag=True,
            help=f"Exit {EXIT_FOUND} when a metric with a direction gets worse past its "
                 "tolerance (a CI gate).")(diff_cmd)
        diff_cmd.help += "\n  gitml metrics diff main HEAD --fail-on-regression"
    return group


metrics = _make_group("metrics")
params = _make_group("params")
