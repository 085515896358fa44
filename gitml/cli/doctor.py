"""``gitml doctor``: versions, store, remotes and hooks, for a bug report."""

from __future__ import annotations

from typing import Any

import click

from gitml.cli.output import emit_json, human_size, report_options, table
from gitml.errors import CheckFailed


@click.command()
@report_options
def doctor(as_json: bool, quiet: bool, verbose: bool) -> None:
    """Versions of gitml, Git, Python and key libraries; the store's path, file system,
    free space and which link types work there; each remote and whether it answers (no
    secret is printed); the Git hooks. Paste it into a bug report. Exit 1 when something
    needs attention (a remote that does not answer, a store that is not writable).

    Example: gitml doctor --json > doctor.json
    """
    from gitml import doctor as doc
    from gitml.errors import NotARepoError
    from gitml.repo import Repo

    try:
        repo: Any = Repo()
    except NotARepoError:
        repo = None
    try:
        info = doc.report(repo)
    finally:
        if repo is not None:
            repo.close()
    if as_json:
        emit_json(info)
    elif not quiet:
        click.echo(render(info, verbose))
    if info["problems"]:
        raise CheckFailed("; ".join(info["problems"]))


def render(info: dict[str, Any], verbose: bool = False) -> str:
    v = info["versions"]
    libs = ", ".join(f"{k} {x or 'not installed'}" for k, x in v.items()
                     if k not in ("gitml", "git", "python"))
    rows: list[tuple[str, str]] = [("gitml", v["gitml"]), ("git", v["git"] or "not found"),
                                   ("python", v["python"]), ("libraries", libs),
                                   ("platform", info["platform"])]
    if info["repository"] is None:
        rows.append(("repository", "none here (not in a Git repository set up with gitml)"))
        return table(["", ""], rows).split("\n", 1)[1]
    rows.append(("repository", info["repository"]))
    s = info["store"]
    where = s["path"] + ("" if s["exists"] else " (not made yet)")
    rows.append(("store", f"{where}; {s['filesystem']}, {human_size(s['free'])} free of "
                          f"{human_size(s['total'])}"
                          + ("" if s["writable"] else "; NOT WRITABLE")))
    works = ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in s["links"].items())
    rows.append(("links", f"{works}; configured {s['configured_link']}, so "
                          f"{s['link_used'] or 'none'} is used"))
    for r in info["remotes"] or [{"name": None}]:
        if r["name"] is None:
            rows.append(("remotes", "none (gitml remote add NAME URL)"))
            continue
        state = "answers" if r["answers"] else f"DOES NOT ANSWER: {r['error']}"
        rows.append((f"remote {r['name']}", f"{r['url'] or '?'}"
                     + (" (default)" if r["default"] else "") + f"; {state}"))
    h = info["hooks"]
    states = ", ".join(f"{n} {st}" for n, st in h["hooks"].items())
    drivers = ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in h["drivers"].items())
    rows.append(("hooks", f"{states}; drivers: {drivers}"))
    if verbose:
        rows.append(("hooks dir", h["dir"]))
    return table(["", ""], rows).split("\n", 1)[1]
