"""``gitml exp status`` and ``gitml exp wait``: runs in progress, here or on a cluster."""

from __future__ import annotations

import click

from gitml.cli.output import emit_json, plural, report_options, table


@click.command()
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              help="Where to look: this machine, or the Ray cluster.")
@click.option("--address", metavar="HOST:PORT",
              help="The Ray cluster (default: config exp.ray.address, else RAY_ADDRESS).")
@report_options
def status_cmd(executor: str, address: str | None, as_json: bool, quiet: bool,
               verbose: bool) -> None:
    """What this clone's experiments are doing: queued, running (where), done or failed.

    Local: the queue and the runs in progress here. Ray: the runs this clone submitted
    (also with --detach, or from a client that was closed), until 'gitml exp wait' or a
    client following them brings them home.

    \b
    gitml exp status
    gitml exp status --executor ray --address head:6379
    """
    from gitml.experiments import api

    if executor == "local" and address:
        raise click.UsageError("--address goes with --executor ray")
    from gitml.repo import Repo

    with Repo() as repo:
        rows = api.status(executor=executor, address=address, repo=repo)
    if as_json:
        emit_json(rows)
        return
    if quiet:
        return
    if not rows:
        click.echo("Nothing queued or running." if executor == "local" else
                   "Nothing of this clone's is on the cluster.")
        return
    out = []
    for d in rows:
        secs = f"{d['seconds']:.1f} s" if d.get("seconds") else ""
        err = (d.get("result") or {}).get("error", "") if d["state"] == "failed" else ""
        again = f" (attempt {d['attempt']})" if d.get("attempt", 0) > 1 else ""
        out.append([d["name"], d["state"] + again, d.get("where", ""), secs, err])
    click.echo(table(["Experiment", "State", "Where", "Elapsed", "Error"], out))


@click.command()
@click.option("--address", metavar="HOST:PORT",
              help="The Ray cluster (default: config exp.ray.address, else RAY_ADDRESS).")
@report_options
def wait_cmd(address: str | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Wait for the experiments this clone submitted to a Ray cluster, showing their
    progress, and bring their branches home (exit 1 when one failed).

    Example: gitml exp run --run-all --executor ray --detach && gitml exp wait
    """
    from gitml.cli.exp import _finish, _report
    from gitml.experiments import api
    from gitml.repo import Repo

    say = (lambda m: None) if (quiet or as_json) else (lambda m: click.echo(m, err=as_json))
    with Repo() as repo:
        results = api.wait(address=address, say=say, repo=repo)
    if as_json:
        emit_json([r.to_dict() for r in results])
    elif not quiet:
        if not results:
            click.echo("Nothing of this clone's is on the cluster.")
        for r in results:
            if r.seconds or r.status in ("failed", "empty"):
                _report(r, quiet, len(results) == 1)
        if len(results) > 1:
            done = [r.name for r in results if r.status == "done"]
            click.echo(f"{len(done)} of {plural(len(results), 'experiment')} done. "
                       "Compare them with: gitml exp show")
    _finish(results)
