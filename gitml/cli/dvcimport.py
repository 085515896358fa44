"""``gitml import-dvc``: turn a DVC repository into a gitml project."""

from __future__ import annotations

from typing import Any

import click

from gitml.cli.output import emit_json, git_add_hint, plural, report_options
from gitml.errors import CheckFailed


@click.command("import-dvc")
@click.option("--dry-run", is_flag=True, help="List what would change; change nothing.")
@click.option("--fetch", is_flag=True,
              help="Download data DVC's cache lacks from DVC's default remote (no DVC needed).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None,
              help="Parallel downloads with --fetch.")
@report_options
def import_dvc(dry_run: bool, fetch: bool, jobs: int | None, as_json: bool, quiet: bool,
               verbose: bool) -> None:
    """Convert this DVC repository: .dvc files, dvc.yaml, dvc.lock, remotes and cache.

    The result is one uncommitted change to review and commit; what cannot be converted
    is listed with the reason. Example: gitml import-dvc --dry-run && gitml import-dvc
    """
    from gitml.dvcimport import import_dvc as run

    result = run(dry_run=dry_run, fetch=fetch, jobs=jobs, quiet=quiet or as_json)
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        _report(result, dry_run, verbose)
    if result.incomplete:
        raise CheckFailed(f"import incomplete: data of {len(result.incomplete)} item(s) is "
                          "missing or corrupt (listed under 'Not converted'); the rest was "
                          "converted")


def _report(result: Any, dry_run: bool, verbose: bool) -> None:
    would = "would " if dry_run else ""
    lines = [f"{'Would convert' if dry_run else 'Converted'}: "
             f"{plural(len(result.pointers), 'tracked path')}, "
             f"{plural(len(result.stages), 'stage')} ({len(result.locked)} with a lock entry), "
             f"{plural(len(result.remotes), 'remote')}"]
    if not dry_run:
        lines.append(f"Objects: {plural(result.objects, 'object')} stored "
                     f"({result.linked:,} hard-linked, {result.copied:,} copied), "
                     f"{plural(result.directories, 'directory', 'directories')}"
                     + (f", {result.fetched:,} fetched from DVC's remote" if result.fetched
                        else ""))
    elif result.objects:
        lines.append(f"Objects the workspace names: {result.objects:,}")
    if verbose or dry_run:
        lines += [f"  {would}write {p}" for p in result.pointers]
        if result.stages:
            lines.append(f"  {would}write gitml.yaml" + (", gitml.lock" if result.locked else ""))
    if result.removed:
        lines.append(f"{'Would remove' if dry_run else 'Removed'} (converted): "
                     + ", ".join(result.removed))
    if result.skipped:
        lines.append(f"Not converted ({len(result.skipped)}):")
        lines += [f"  {s}" for s in result.skipped]
    if result.modified:
        lines.append("Workspace differs from the imported data (as it did from DVC's): "
                     + ", ".join(result.modified))
    if result.stale:
        lines.append("Stages that would run (DVC saw them changed too): "
                     + ", ".join(result.stale))
    if not dry_run:
        lines.append("\nReview the change, then record it:\n    "
                     + git_add_hint(result.root, result.written)
                     + "\n    git commit -m 'Move from DVC to gitml'\nand upload the data: "
                     "gitml push --all-branches")
    click.echo("\n".join(lines))
