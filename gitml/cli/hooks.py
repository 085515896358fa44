"""``gitml hooks``: install, status, uninstall and run the Git hooks; the pointer drivers."""

from __future__ import annotations

import click

from gitml.cli.output import emit_json, report_options, table

_CHECKS = ("pointers", "large-files", "tracked-paths", "data-checks", "secrets")


def _root() -> str:
    from gitml import gitio

    return gitio.find_root()


@click.group()
def hooks() -> None:
    """Git hooks that keep data in step with Git, and pointer merge/diff drivers.

    \b
    gitml hooks install      pre-commit, post-checkout, post-merge, post-rewrite, pre-push
    gitml hooks status
    gitml hooks uninstall    restores any hook gitml chained
    """


def _emit(hooks_dir: str, states: list, as_json: bool, drivers: dict | None = None) -> None:
    import os

    if as_json:
        out: dict = {"hooks_dir": hooks_dir, "hooks": [s.to_dict() for s in states]}
        if drivers is not None:
            out["drivers"] = drivers
        emit_json(out)
        return
    rows = []
    for s in states:
        chained = os.path.basename(s.chained) if s.chained else ""
        rows.append((s.name, s.action or s.state, chained))
    click.echo(table(("hook", "state" if not states or not states[0].action else "action",
                      "chained"), rows))
    click.echo(f"\nhooks directory: {hooks_dir}")
    if drivers is not None:
        yes = {True: "registered", False: "not registered"}
        click.echo(f"merge driver: {yes[drivers['merge']]}; diff driver: {yes[drivers['diff']]}; "
                   f".gitattributes line: {'present' if drivers['gitattributes'] else 'missing'}")


@hooks.command()
@click.argument("names", nargs=-1)
@report_options
def install(names: tuple[str, ...], as_json: bool) -> None:
    """Install the hooks (all, or the NAMES given) and register the pointer drivers.

    Respects core.hooksPath. A hook already there is kept and run first; running this
    again is safe. Example: gitml hooks install && git add .gitattributes
    """
    from gitml import githooks

    hooks_dir, states = githooks.install(_root(), list(names) or None)
    _emit(hooks_dir, states, as_json)
    if not as_json:
        click.echo("merge and diff drivers registered for *.gitml (commit .gitattributes)")


@hooks.command()
@click.argument("names", nargs=-1)
@click.option("--drivers", is_flag=True, help="Also remove the drivers from .git/config.")
@report_options
def uninstall(names: tuple[str, ...], drivers: bool, as_json: bool) -> None:
    """Remove gitml's hooks, putting back any hook they had chained, byte for byte.

    Example: gitml hooks uninstall pre-push
    """
    from gitml import githooks

    hooks_dir, states = githooks.uninstall(_root(), list(names) or None, drivers=drivers)
    _emit(hooks_dir, states, as_json)


@hooks.command()
@report_options
def status(as_json: bool) -> None:
    """Show which hooks are installed, chained or someone else's, and the drivers.

    Example: gitml hooks status --json
    """
    from gitml import githooks

    hooks_dir, states, drivers = githooks.status(_root())
    _emit(hooks_dir, states, as_json, drivers)


@hooks.command(context_settings={"ignore_unknown_options": True})
@click.option("--only", metavar="CHECKS",
              help=f"pre-commit: run only these checks (comma-separated: {', '.join(_CHECKS)}).")
@click.option("--max-file-size", metavar="SIZE",
              help="pre-commit: the largest file Git may take (5MiB, 10MB; 0: no limit).")
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(name: str, args: tuple[str, ...], only: str | None, max_file_size: str | None) -> None:
    """Run hook NAME as Git does, with Git's ARGS (the installed shims call this).

    Example: gitml hooks run pre-commit --only large-files
    """
    from gitml import githooks
    from gitml.errors import BadInputError

    checks = {c.strip() for c in (only or "").split(",") if c.strip()}
    bad = checks - set(_CHECKS)
    if bad:
        raise BadInputError(f"unknown check {sorted(bad)[0]!r} (known: {', '.join(_CHECKS)})")
    options = {"max_file_size": max_file_size} if max_file_size is not None else {}
    if max_file_size is not None:
        from gitml.hooks.settings import parse_size

        parse_size(max_file_size)  # a typo is an error now, not at the first large file
    code = githooks.run(name, list(args), only=checks, options=options)
    raise click.exceptions.Exit(code)


@hooks.command("merge-driver", hidden=True)
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> None:
    """Git merge driver for pointers: merge.gitml.driver = gitml hooks merge-driver %O %A %B %P"""
    from gitml import mergedriver

    raise click.exceptions.Exit(mergedriver.merge(base, ours, theirs, path))


@hooks.command("diff-driver", hidden=True)
@click.argument("file")
def diff_driver(file: str) -> None:
    """Git textconv for pointers: diff.gitml.textconv = gitml hooks diff-driver"""
    from gitml import mergedriver

    click.echo(mergedriver.textconv(file), nl=False)
