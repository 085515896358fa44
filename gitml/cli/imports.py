"""``gitml ls``, ``gitml get``, ``gitml import``, ``gitml update``: other repositories."""

from __future__ import annotations

import click

from gitml.cli.output import emit_json, human_size, plural, report_options, table

_URL = "URL is any Git URL: a path, file://, ssh://, https:// or git://."


@click.command("ls")
@click.argument("url")
@click.argument("path", required=False, default="")
@click.option("--rev", metavar="REV", help="A branch, tag or commit (default: its default "
              "branch).")
@click.option("-R", "--recursive", is_flag=True, help="Every file below, inside tracked "
              "directories too.")
@report_options
def ls(url: str, path: str, rev: str | None, recursive: bool, as_json: bool, quiet: bool,
       verbose: bool) -> None:
    """List what another repository holds at PATH: tracked data and Git's files.

    Nothing is downloaded but its history (kept in ~/.cache/gitml/repos) and, with -R or a
    PATH inside a tracked directory, that directory's list of files.

    \b
    gitml ls https://git.example.com/org/registry.git data
    gitml ls ../registry data/images --rev v2 --json
    """
    from gitml import imports

    rows = imports.ls(url, path, rev=rev, recursive=recursive)
    if as_json:
        emit_json(rows)
        return
    if quiet:
        return
    if not rows:
        click.echo("Nothing there.")
        return
    click.echo(table(("path", "type", "tracked", "size"),
                     [(r["path"] + ("/" if r["type"] == "dir" else ""), r["type"], r["tracked"],
                       human_size(r["size"]) if r["size"] is not None else "-")
                      for r in rows], align="lllr"))


@click.command("get")
@click.argument("url")
@click.argument("path")
@click.option("-o", "--out", "output", type=click.Path(), help="Where to write it (default: "
              "its name, here).")
@click.option("--rev", metavar="REV", help="A branch, tag or commit (default: its default "
              "branch).")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output.")
@click.option("-j", "--jobs", type=int, help="Parallel downloads.")
@report_options
def get(url: str, path: str, output: str | None, rev: str | None, force: bool,
        jobs: int | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Download a file or directory of another repository (not tracked here).

    Tracked data comes from that repository's own remote, every object verified; Git's
    files from its history.

    \b
    gitml get https://git.example.com/org/registry.git data/train.parquet
    gitml get ../registry models/churn -o model --rev v1.2
    """
    from gitml import imports

    r = imports.get(url, path, output, rev=rev, force=force, jobs=jobs)
    if as_json:
        emit_json(r.to_dict())
    elif not quiet:
        click.echo(f"Downloaded {r.path} ({plural(r.files, 'file')}, {human_size(r.bytes)}) "
                   f"from {r.url} at {r.commit[:7]} to {r.output}")
    if r.skipped:
        click.echo(f"warning: skipped {plural(len(r.skipped), 'symbolic link or submodule')}"
                   f": {', '.join(r.skipped[:5])}", err=True)


@click.command("import")
@click.argument("url")
@click.argument("path")
@click.option("-o", "--out", "output", type=click.Path(), help="Where to put it (default: "
              "its name, here).")
@click.option("--rev", metavar="REV", help="A branch, tag or commit (default: its default "
              "branch); recorded, so 'gitml update' follows it.")
@click.option("-f", "--force", is_flag=True, help="Replace what is at the output.")
@click.option("-j", "--jobs", type=int, help="Parallel downloads.")
@report_options
def import_(url: str, path: str, output: str | None, rev: str | None, force: bool,
            jobs: int | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Download a file or directory of another repository and track it here.

    Its pointer records the URL, the revision asked for and the commit it resolved to;
    'gitml update' moves it on, 'gitml status' says when its source moved. The data is
    ordinary tracked data otherwise (push, pull, checkout).

    \b
    gitml import https://git.example.com/org/registry.git data/train.parquet -o data/
    gitml import ../registry data/images --rev v2
    """
    from gitml import imports
    from gitml.cli.output import git_add_hint

    r = imports.import_(url, path, output, rev=rev, force=force, jobs=jobs)
    if as_json:
        emit_json(r.to_dict())
        return
    if not quiet:
        from gitml.repo import Repo

        click.echo(f"Imported {r.source_path} from {r.url} at {r.commit[:7]} as {r.path} "
                   f"({human_size(r.size)}" + (f", {plural(r.files, 'file')}" if r.files
                                               is not None else "") + ")")
        click.echo("\nTo track the changes with Git, run:\n    "
                   + git_add_hint(Repo().root, r.git))


@click.command("update")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--rev", metavar="REV", help="Move to this revision (recorded) instead of the "
              "newest commit of the one recorded.")
@click.option("-f", "--force", is_flag=True, help="Replace data changed here since it was "
              "imported.")
@click.option("-j", "--jobs", type=int, help="Parallel downloads.")
@report_options
def update(targets: tuple[str, ...], rev: str | None, force: bool, jobs: int | None,
           as_json: bool, quiet: bool, verbose: bool) -> None:
    """Move imports (all, or TARGETS) to the commit their revision names now.

    \b
    gitml update                       # every import
    gitml update data/train.parquet --rev v3
    """
    from gitml import imports

    results = imports.update(list(targets) or None, rev=rev, force=force, jobs=jobs)
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    if quiet:
        return
    for r in results:
        if r.state == "up to date":
            click.echo(f"{r.path}: up to date ({r.url} {r.rev or 'default branch'} at "
                       f"{r.commit[:7]})")
        else:
            click.echo(f"{r.path}: updated {(r.previous or '')[:7]} -> {r.commit[:7]} "
                       f"({r.url} {r.rev or 'default branch'}; "
                       f"{plural(r.fetched, 'object')} fetched)")
