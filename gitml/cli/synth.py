"""``gitml data synth``: a synthetic twin of a table, its report, and ``--verify``."""

from __future__ import annotations

import os
from typing import Any

import click

from gitml.cli.output import emit_json, git_add_hint, report_options
from gitml.errors import BadInputError, CheckFailed


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x.strip() for v in values for x in v.split(",") if x.strip()))


@click.command()
@click.argument("src", required=False)
@click.option("-o", "--output", "out", metavar="OUT",
              help="Where to write (.parquet or .csv; default SRC's stem + .synth.parquet).")
@click.option("--rows", type=click.IntRange(min=1), default=None,
              help="Rows to make (default: as many as SRC).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Same seed and source: the same file, byte for byte.")
@click.option("--key", "-k", multiple=True, metavar="COL[,COL]",
              help="Key columns: regenerated unique, never copied.")
@click.option("--exclude", multiple=True, metavar="COL[,COL]",
              help="Columns left out of the output.")
@click.option("--replace", multiple=True, metavar="COL=RULE",
              help="Keep a text column: COL=null, COL=category or COL=template:TEXT{n}.")
@click.option("--min-count", type=click.IntRange(min=1), default=10, show_default=True,
              help="Category values seen fewer times are pooled as (other).")
@click.option("--target", metavar="COL",
              help="Column the model check predicts (default: last categorical column).")
@click.option("--report", "report_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the report to FILE (.json or .md).")
@click.option("--fail-under", multiple=True, metavar="NAME=VALUE",
              help="Exit 1 and write nothing when fidelity, correlation, utility or privacy "
                   "is below VALUE.")
@click.option("--verify", "verify_path", metavar="OUT",
              help="Regenerate OUT from its pointer's lineage and check it is identical.")
@click.option("--md", "as_md", is_flag=True, help="Print the report as Markdown.")
@report_options
def synth(src: str | None, out: str | None, rows: int | None, seed: int, key: tuple[str, ...],
          exclude: tuple[str, ...], replace: tuple[str, ...], min_count: int,
          target: str | None, report_file: str | None, fail_under: tuple[str, ...],
          verify_path: str | None, as_md: bool, as_json: bool, quiet: bool,
          verbose: bool) -> None:
    """Make a synthetic twin of a table: same schema, no source row, a privacy report.

    A Gaussian copula keeps each column's distribution and the correlations; rare
    category values are pooled, keys regenerated, free text dropped. The output is
    tracked like `gitml add` with its lineage in the pointer (meta.synth).

    \b
    gitml data synth data/customers.parquet --key user_id --seed 7
    gitml data synth main:data/customers.parquet -o data/twin.parquet --fail-under privacy=0.9
    gitml data synth --verify data/twin.parquet
    """
    from gitml.cli.data import _tune_memory

    _tune_memory()
    # One BLAS thread per matrix product: the DCR runs its blocks on all cores itself, and
    # BLAS threads spinning beside them on a busy machine cost more than they bring.
    # Only effective before numpy is first imported; an explicit setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if verify_path is not None:
        if src is not None or out or rows or key or exclude or replace or fail_under:
            raise BadInputError("--verify OUT takes no SRC and no synthesis options: "
                                "they come from OUT's lineage")
        _verify(verify_path, as_json, quiet)
        return
    if src is None:
        raise BadInputError("missing SRC: gitml data synth SRC [-o OUT] (or --verify OUT)")
    from gitml.tabular.synth.columns import SynthOptions, parse_rules
    from gitml.tabular.synth.report import parse_thresholds
    from gitml.tabular.synth.run import synthesize

    if report_file and not report_file.lower().endswith((".json", ".md")):
        raise BadInputError(f"--report {report_file}: expected a .json or .md file")
    if report_file and not os.path.isdir(os.path.dirname(os.path.abspath(report_file))):
        raise BadInputError(f"--report {report_file}: the directory "
                            f"{os.path.dirname(report_file)} does not exist")
    opts = SynthOptions(rows=rows, seed=seed, key=_names(key), exclude=_names(exclude),
                        replace=parse_rules(replace), min_count=min_count, target=target)
    res = synthesize(src, out, opts, thresholds=parse_thresholds(fail_under), quiet=quiet)
    if report_file:
        _write_report(report_file, res.to_dict())
    _show(res, as_json, as_md, quiet, verbose)
    if not res.ok:
        raise CheckFailed(f"{res.output} not written: " + "; ".join(res.report["failed"]))


def _write_report(path: str, d: dict[str, Any]) -> None:
    import json

    from gitml.fsutil import atomic_write
    from gitml.tabular.synth.report import to_markdown

    text = to_markdown(d) if path.lower().endswith(".md") else \
        json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode())


def _show(res: Any, as_json: bool, as_md: bool, quiet: bool, verbose: bool) -> None:
    from gitml.tabular.synth.report import to_markdown, to_text

    d = res.to_dict()
    if as_json:
        emit_json(d)
        return
    if quiet:
        return
    click.echo(to_markdown(d) if as_md else to_text(d))
    corr = d["fidelity"].get("correlation")
    if verbose and corr:
        for which in ("source", "synthetic"):
            click.echo(f"\nSpearman correlation, {which}:")
            for name, row in zip(corr["columns"], corr[which], strict=True):
                click.echo(f"  {name:<20} " + " ".join(f"{v:6.3f}" for v in row))
    if res.written and not as_md:
        where = f", tracked by {res.pointer}" if res.pointer else \
            " (not tracked: not inside a gitml repository)"
        click.echo(f"\nwrote {res.output} ({d['output']['rows']:,} rows){where}")
        if res.root and res.to_git:
            click.echo("\nTo track the changes with Git, run:\n    "
                       + git_add_hint(res.root, res.to_git))


def _verify(path: str, as_json: bool, quiet: bool) -> None:
    from gitml.tabular.synth.run import verify

    res = verify(path)
    if as_json:
        emit_json(res.to_dict())
    elif not quiet and res.ok:
        click.echo(res.message)
    if not res.ok:
        raise CheckFailed(res.message)
