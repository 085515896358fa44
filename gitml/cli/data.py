"""``gitml data profile|check|diff|synth`` and ``gitml monitor drift``: parse, call, format."""

from __future__ import annotations

import os
from typing import Any

import click

from gitml.cli.output import emit_json, markdown, plural, report_options, style, table
from gitml.errors import BadInputError, CheckFailed


def _tune_memory() -> None:
    """Let Arrow's allocator (mimalloc) keep freed pages for a second before returning them
    to the OS: the table commands free and allocate large buffers in quick succession, and
    fresh pages cost a page fault each (measured: about a third less system time). Only
    effective before pyarrow is first imported; an explicit setting wins."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "1000")


def md_option(f: Any) -> Any:
    return click.option("--md", "as_md", is_flag=True, help="Print Markdown for a pull request.")(f)


def fmt(v: Any, width: int = 24) -> str:
    """A cell: thousands separators for ints, 6 significant digits for floats."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    text = str(v).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def val(v: Any, width: int = 20) -> str:
    """A value inside a row: like :func:`fmt`, but integers without separators (ids)."""
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else fmt(v, width)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.3%}"


def _keys(key: tuple[str, ...]) -> list[str] | None:
    out = [k.strip() for item in key for k in item.split(",") if k.strip()]
    return out or None


@click.group()
def data() -> None:
    """Look inside tables (Parquet, CSV): profile, check, diff, synth.

    A PATH is a file, a directory of Parquet parts, or Git's REV:path
    (main:data/train.parquet) for a Git file or tracked data at a revision.
    """


def _add_synth() -> None:
    from gitml.cli.synth import synth  # click only: numpy and scipy load when it runs

    data.add_command(synth)


_add_synth()


@click.group()
def monitor() -> None:
    """Watch production data: drift against a reference."""


# -- profile ----------------------------------------------------------------------------
@data.command()
@click.argument("path")
@click.option("--top", default=5, show_default=True, type=click.IntRange(0, 100),
              help="Most frequent values to show per column.")
@click.option("--columns", "columns", default=None, metavar="A,B",
              help="Only these columns.")
@report_options
@md_option
def profile(path: str, top: int, columns: str | None, as_json: bool, as_md: bool) -> None:
    """Rows, columns, types, nulls, distinct values, min/max/mean/std, top values, duplicates.

    Example: gitml data profile main:data/train.parquet
    """
    _tune_memory()
    from gitml.tabular.io import Opener
    from gitml.tabular.profile import profile as run

    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    with Opener() as op:
        prof = run(op.open(path), top=top, columns=cols)
    if as_json:
        emit_json(prof.to_dict())
        return
    d = prof.to_dict()
    exact = "" if prof.duplicates_exact else " (estimated)"
    files = f", {d['files']} files" if d["files"] > 1 else ""
    head = (f"{d['path']}: {d['rows']:,} rows, {d['column_count']} columns, "
            f"{d['duplicate_rows']:,} duplicate rows{exact} ({d['format']}{files})")
    headers = ["column", "type", "nulls", "distinct", "min", "max", "mean", "std"]
    rows = [[c["name"], c["type"], f"{c['nulls']:,} ({_pct(c['null_fraction'])})",
             ("" if c["distinct_exact"] else "~") + fmt(c["distinct"]), fmt(c["min"]),
             fmt(c["max"]), fmt(c.get("mean")), fmt(c.get("std"))] for c in d["columns"]]
    tops = [(c["name"], " · ".join(f"{fmt(t['value'], 20)} ({t['count']:,})"
                                   for t in c["top"])) for c in d["columns"] if c["top"]]
    if as_md:
        click.echo(f"**{head}**\n\n" + markdown(headers, rows))
        if tops:
            click.echo("\n" + markdown(["column", "top values"], tops))
        return
    click.echo(head + "\n")
    click.echo(table(headers, rows, "llrrllrr"))
    if tops:
        click.echo("\ntop values:")
        click.echo(table(["", ""], [[f"  {n}", t] for n, t in tops]).split("\n", 1)[1])


# -- check ------------------------------------------------------------------------------
@data.command()
@click.argument("targets", nargs=-1, type=click.Path())
@report_options
@md_option
def check(targets: tuple[str, ...], as_json: bool, as_md: bool) -> None:
    """Run the checks declared under `checks:` in gitml.yaml; exit 1 on a violation.

    Example: gitml data check            (or: gitml data check data/train.parquet)
    """
    _tune_memory()
    from gitml.repo import Repo
    from gitml.tabular.checks import run_checks

    with Repo() as repo:
        for t in targets:  # a typo must not pass as "nothing to check"
            if not (os.path.exists(t) or os.path.exists(t.rstrip("/") + ".gitml")):
                raise BadInputError(f"{t} does not exist")
        report = run_checks(repo, list(targets) or None)
    if as_json:
        emit_json(report.to_dict())
    elif not report.files and targets:
        click.echo(f"No checks in gitml.yaml cover {', '.join(targets)}.")
    elif not report.files:
        click.echo("No checks declared: add a `checks:` section to gitml.yaml "
                   "(see docs/data.md).")
    elif as_md:
        rows = [[f.path, "ok" if r.ok else "**FAIL**", r.describe or r.rule,
                 "" if r.ok else r.message] for f in report.files for r in f.results]
        click.echo(markdown(["table", "result", "rule", "detail"], rows))
    else:
        _print_checks(report)
    if not report.ok:
        raise CheckFailed(f"{report.failed} of {report.rules} checks failed")


def _print_checks(report: Any) -> None:
    for f in report.files:
        rows = "" if f.rows is None else f"  ({f.rows:,} rows)"
        click.echo(style(f.path, bold=True) + rows)
        for r in f.results:
            mark = style("ok  ", fg="green") if r.ok else style("FAIL", fg="red", bold=True)
            what = r.describe or r.rule
            click.echo(f"  {mark}  {what}" + ("" if r.ok else f": {r.message}"))
            for s in r.samples:
                cells = ", ".join(f"{k}={val(v, 30)}" for k, v in s.items() if k != "_row")
                where = f"row {s['_row']:,}: " if "_row" in s else ""
                click.echo(f"          {where}{cells}")
    n, k = len(report.files), report.rules
    click.echo(f"\n{n} table{'s' if n != 1 else ''}, {k} check{'s' if k != 1 else ''}, "
               f"{report.failed} failed")


# -- diff -------------------------------------------------------------------------------
def _diff_specs(args: tuple[str, ...]) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    """(spec, rev) for the old and the new table from 1-3 arguments."""
    from gitml.readapi import split_revpath

    def is_table(a: str) -> bool:
        return os.path.exists(a) or split_revpath(a)[0] is not None

    if len(args) == 1:
        rev, path = split_revpath(args[0])
        if rev is not None:
            return (args[0], None), (path, None)
        return (path, "HEAD"), (path, None)
    if len(args) == 2:
        if is_table(args[0]):
            return (args[0], None), (args[1], None)
        return (args[1], args[0]), (args[1], None)
    if len(args) == 3:
        return (args[2], args[0]), (args[2], args[1])
    raise BadInputError("usage: gitml data diff [REV_A [REV_B]] PATH, or OLD NEW "
                        "(each a path or REV:path)")


@data.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--key", "-k", multiple=True, metavar="COL[,COL]",
              help="Key column(s) that identify a row (repeat or comma-separate).")
@click.option("--samples", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="Sample rows to show per kind of change.")
@click.option("--stats/--no-stats", default=True, help="Per-column stats before/after.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the tables differ.")
@report_options
@md_option
def diff(args: tuple[str, ...], key: tuple[str, ...], samples: int, stats: bool,
         exit_code: bool, as_json: bool, as_md: bool) -> None:
    """What changed inside a table: schema, row counts, stats, rows added/removed/modified.

    \b
    gitml data diff data/train.parquet                  HEAD vs the workspace
    gitml data diff main data/train.parquet             main vs the workspace
    gitml data diff main exp-3 data/train.parquet --key user_id
    gitml data diff v1:data/a.csv data/a.csv
    """
    _tune_memory()
    from gitml.tabular.io import Opener
    from gitml.tabular.tablediff import diff as run

    (spec_a, rev_a), (spec_b, rev_b) = _diff_specs(args)
    with Opener(need_repo=rev_a is not None or rev_b is not None) as op:
        result = run(op.open(spec_a, rev_a), op.open(spec_b, rev_b), _keys(key), samples)
    d = result.to_dict()
    if as_json:
        emit_json(d)
    elif as_md:
        click.echo(_diff_md(d, stats))
    else:
        click.echo(_diff_text(d, stats))
    if exit_code and result.changed:
        raise CheckFailed("the tables differ")


def _schema_lines(d: dict[str, Any]) -> list[str]:
    s = d["schema"]
    out = [f"+ {c['name']} ({c['type']})" for c in s["added"]]
    out += [f"- {c['name']} ({c['type']})" for c in s["removed"]]
    key = d.get("key") or []
    out += [f"~ {c['name']}: {c['old']} -> {c['new']} "
            f"({'key: matched as ' + c['old'] if c['name'] in key else 'not compared'})"
            for c in s["retyped"]]
    return out


def _rows_line(d: dict[str, Any]) -> str:
    ro, rn = d["rows"]["old"], d["rows"]["new"]
    delta = rn - ro
    line = f"rows: {ro:,} -> {rn:,} ({delta:+,})"
    if d["key"]:
        line += (f"; by key {'+'.join(d['key'])}: {d['rows_added']:,} added, "
                 f"{d['rows_removed']:,} removed, {d['rows_modified']:,} modified, "
                 f"{d['rows_unchanged']:,} unchanged")
    else:
        line += (f"; whole rows: {d['rows_added']:,} added, {d['rows_removed']:,} removed, "
                 f"{d['rows_unchanged']:,} unchanged")
    return line


def _stat_rows(d: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in d["columns"]:
        o, n = c["old"] or {}, c["new"] or {}

        def pair(k: str, o: dict[str, Any] = o, n: dict[str, Any] = n) -> str:
            a, b = o.get(k), n.get(k)
            return fmt(a, 14) if a == b else f"{fmt(a, 14)} -> {fmt(b, 14)}"

        rows.append([c["name"], pair("nulls"), pair("min"), pair("max"), pair("mean"),
                     pair("std")])
    return rows


def _sample_lines(d: dict[str, Any]) -> list[str]:
    out = []
    s = d["samples"]
    for m in s.get("modified", []):
        k = ", ".join(f"{a}={val(b, 30)}" for a, b in m["key"].items())
        ch = "; ".join(f"{c}: {val(v['old'])} -> {val(v['new'])}"
                       for c, v in m["changes"].items())
        out.append(f"  ~ {k}: {ch}")
    for kind, mark in (("added", "+"), ("removed", "-")):
        for r in s.get(kind, []):
            out.append(f"  {mark} " + ", ".join(f"{a}={val(b)}" for a, b in r.items()))
    return out


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda x: (-x[1], x[0]))


def _diff_text(d: dict[str, Any], stats: bool) -> str:
    lines = [style(f"{d['old']} -> {d['new']}", bold=True)]
    schema = _schema_lines(d)
    lines.append("schema: " + ("unchanged" if not schema else plural(len(schema), "change")))
    lines += [f"  {x}" for x in schema]
    lines.append(_rows_line(d))
    if d["changed_columns"]:
        lines.append("changed columns: " + ", ".join(
            f"{c} ({n:,})" for c, n in _by_count(d["changed_columns"])))
    if stats:
        lines += ["", table(["column", "nulls", "min", "max", "mean", "std"], _stat_rows(d))]
    samples = _sample_lines(d)
    if samples:
        lines += ["", "sample rows:"] + samples
    return "\n".join(lines)


def _diff_md(d: dict[str, Any], stats: bool) -> str:
    out = [f"### `{d['old']}` → `{d['new']}`", ""]
    schema = _schema_lines(d)
    out.append("**Schema:** " + ("unchanged" if not schema else ", ".join(
        f"`{x}`" for x in schema)))
    out += ["", "**" + _rows_line(d).replace("rows:", "Rows:", 1) + "**"]
    if d["changed_columns"]:
        out += ["", markdown(["changed column", "rows"],
                             [[c, f"{n:,}"] for c, n in _by_count(d["changed_columns"])])]
    if stats:
        out += ["", markdown(["column", "nulls", "min", "max", "mean", "std"], _stat_rows(d))]
    samples = _sample_lines(d)
    if samples:
        out += ["", "<details><summary>Sample rows</summary>", "", "```"]
        out += [s.strip() for s in samples] + ["```", "</details>"]
    return "\n".join(out)


# -- drift ------------------------------------------------------------------------------
@monitor.command()
@click.argument("reference")
@click.argument("current")
@click.option("--psi", type=click.FloatRange(min=0), default=None,
              help="PSI threshold (default from gitml.yaml drift:, else 0.2).")
@click.option("--ks", type=click.FloatRange(min=0), default=None,
              help="KS statistic threshold (default 0.1).")
@click.option("--frequency", type=click.FloatRange(min=0), default=None,
              help="Category frequency drift threshold (default 0.1).")
@report_options
@md_option
def drift(reference: str, current: str, psi: float | None, ks: float | None,
          frequency: float | None, as_json: bool, as_md: bool) -> None:
    """Per-column drift of CURRENT against REFERENCE; exit 1 above a threshold.

    Example: gitml monitor drift v1.0:data/train.parquet prod/batch-2026-11.parquet
    """
    _tune_memory()
    from gitml.tabular.drift import drift as run
    from gitml.tabular.drift import parse_config
    from gitml.tabular.io import Opener

    with Opener() as op:
        section = None
        if op.repo is not None:
            from gitml import project

            section = project.load(op.repo).get("drift")
        cfg = parse_config(section, {"psi": psi, "ks": ks, "frequency": frequency})
        report = run(op.open(reference), op.open(current), cfg)
    d = report.to_dict()
    if as_json:
        emit_json(d)
    else:
        headers = ["column", "kind", "psi", "ks", "frequency", "nulls", "status"]
        rows = [[c["name"], c["kind"], fmt(_r(c["psi"])), fmt(_r(c["ks"])),
                 fmt(_r(c["frequency"])),
                 "-" if c["null_ref"] is None else
                 f"{_pct(c['null_ref'])} -> {_pct(c['null_cur'])}",
                 c["status"] if c["status"] != "drift" else "DRIFT: " + "; ".join(c["reasons"])]
                for c in d["columns"]]
        th = d["thresholds"]
        summary = (f"{len(d['drifted'])} of {len(d['columns'])} columns drifted (thresholds: "
                   f"psi {th['psi']:g}, ks {th['ks']:g}, frequency {th['frequency']:g})")
        head = (f"{d['reference']} ({d['rows']['reference']:,} rows) -> "
                f"{d['current']} ({d['rows']['current']:,} rows)")
        if as_md:
            click.echo(f"**{head}**\n\n{markdown(headers, rows)}\n\n{summary}")
        else:
            click.echo(head + "\n")
            click.echo(table(headers, rows, "llrrrll"))
            click.echo("\n" + summary)
    if report.drifted:
        raise CheckFailed(f"drift above threshold in {', '.join(report.drifted)}")


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
