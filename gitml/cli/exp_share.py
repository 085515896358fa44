"""``gitml exp push`` and ``gitml exp pull``: experiments between clones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitml.cli.output import emit_json, plural, report_options

F = TypeVar("F", bound=Callable[..., Any])


def _options(f: F) -> F:
    f = report_options(f)
    f = click.option("-j", "--jobs", type=int, help="Parallel data transfers.")(f)
    f = click.option("-f", "--force", is_flag=True, help="push: replace the Git remote's "
                     "branch; pull: replace your branch.")(f)
    f = click.option("-r", "--remote", "data_remote", metavar="NAME",
                     help="Data remote (default: the default gitml remote).")(f)
    f = click.option("-A", "--all", "all_", is_flag=True, help="Every experiment.")(f)
    f = click.argument("names", nargs=-1)(f)
    return click.argument("git_remote", metavar="REMOTE")(f)


def _say(res: Any, as_json: bool, quiet: bool) -> None:
    if as_json:
        emit_json(res.to_dict())
        return
    if quiet:
        return
    verb, where = ("Pushed", "to") if res.action == "push" else ("Pulled", "from")
    if res.names:
        click.echo(f"{verb} {plural(len(res.names), 'experiment')} {where} {res.remote}: "
                   + ", ".join(res.names))
    if res.unchanged:
        click.echo(f"Already the same on {res.remote}: " + ", ".join(res.unchanged)
                   if res.action == "push" else
                   "Already here: " + ", ".join(res.unchanged))
    if res.data_remote is None:
        click.echo("No data remote: the experiments' data stayed where it was "
                   "(gitml remote add NAME URL --default)")
        return
    d, r = res.data, res.runs
    verb, have = (("pushed", "already there") if res.action == "push"
                  else ("fetched", "already in the store"))
    if d is not None:
        click.echo(f"data: {verb} {plural(d.transferred, 'object')} {where} {d.remote}; "
                   f"{d.present} {have}")
    if r is not None and (r.transferred or r.present):
        click.echo(f"run cache: {verb} {plural(r.transferred, 'entry', 'entries')}; "
                   f"{r.present} {have}")


@click.command()
@_options
def push_cmd(git_remote: str, names: tuple[str, ...], all_: bool, data_remote: str | None,
             force: bool, jobs: int | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Share experiments: their data and run-cache entries go to the data remote, then
    their branches to the Git remote REMOTE.

    A branch the Git remote has in another version is refused unless --force.

    \b
    gitml exp push origin exp-3 exp-4
    gitml exp push origin --all -r storage
    """
    from gitml.experiments import sharing
    from gitml.repo import Repo

    with Repo() as repo:
        res = sharing.push(repo, git_remote, list(names), all_=all_, data_remote=data_remote,
                           force=force, jobs=jobs)
    _say(res, as_json, quiet)


@click.command()
@_options
def pull_cmd(git_remote: str, names: tuple[str, ...], all_: bool, data_remote: str | None,
             force: bool, jobs: int | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Bring a teammate's experiments from the Git remote REMOTE: their branches, and
    their data and run-cache entries from the data remote.

    A local branch that differs and is not behind REMOTE's is refused unless --force.

    \b
    gitml exp pull origin exp-3
    gitml exp pull origin --all
    """
    from gitml.experiments import sharing
    from gitml.remotes.base import TransferIncomplete
    from gitml.repo import Repo

    with Repo() as repo:
        try:
            res = sharing.pull(repo, git_remote, list(names), all_=all_,
                               data_remote=data_remote, force=force, jobs=jobs)
        except TransferIncomplete as e:
            _say(e.result, as_json, quiet)
            raise
    _say(res, as_json, quiet)
