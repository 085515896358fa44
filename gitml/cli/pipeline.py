"""Pipeline commands: repro, dag, stage add/list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from gitml.cli.output import (
    emit_json,
    git_add_hint,
    json_option,
    quiet_option,
    report_options,
    table,
)

if TYPE_CHECKING:
    from gitml.pipeline.reproduce import Event, ReproResult


def _repo():  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo()


_VERB = {"would-run": "would run", "would-restore": "would restore from the run cache",
         "may-run": "may run", "unchanged": "up to date", "frozen": "frozen, skipped"}


def _printer(verbose: bool, dry: bool):  # type: ignore[no-untyped-def]
    def show(ev: Event) -> None:
        why = f" ({'; '.join(str(r) for r in ev.reasons)})" if ev.reasons else ""
        if dry:
            click.echo(f"{ev.stage}: {_VERB[ev.kind]}{why}")
        elif ev.kind == "start":
            click.echo(f"Running stage {ev.stage!r}{why}:\n> {ev.cmd}")
        elif ev.kind == "restored":
            click.echo(f"Restored stage {ev.stage!r} from the run cache{why}; "
                       f"did not run: {ev.cmd}")
        elif ev.kind == "unchanged":
            click.echo(f"Stage {ev.stage!r} is up to date")
        elif ev.kind == "frozen":
            click.echo(f"Stage {ev.stage!r} is frozen, skipping")
        elif ev.kind in ("skipped", "not-run"):
            click.echo(f"Stage {ev.stage!r} not run: {ev.detail}")
        elif ev.kind == "done" and verbose:
            click.echo(f"Stage {ev.stage!r} done")
    return show


def _summary(root: str, result: ReproResult) -> None:
    if result.dry:
        return
    if not result.stages:
        click.echo("No stages. Add one with: gitml stage add -n NAME -d DEP -o OUT CMD")
    elif not result.ran and not result.restored and not result.failed:
        click.echo("Pipeline is up to date: nothing to reproduce.")
    if result.changed:
        click.echo("\nTo track the changes with Git, run:\n    "
                   + git_add_hint(root, result.changed))


@click.command()
@click.argument("targets", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Run the stages even if nothing changed.")
@click.option("-s", "--single-item", is_flag=True,
              help="Run only the named stages, not what they depend on.")
@click.option("--downstream", is_flag=True,
              help="Run the named stages and every stage after them (not what they depend on).")
@click.option("--force-downstream", is_flag=True,
              help="Run every stage after one that ran, even if its own inputs did not change.")
@click.option("--pull", is_flag=True,
              help="First fetch missing inputs and stored outputs from the default remote.")
@click.option("-k", "--keep-going", is_flag=True,
              help="After a failure, go on with stages that do not depend on it.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run up to N independent stages at once.")
@click.option("--dry", is_flag=True, help="Only say which stages would run, and why.")
@click.option("--no-run-cache", is_flag=True,
              help="Always run commands; never restore outputs from the run cache.")
@json_option
@quiet_option
def repro(targets: tuple[str, ...], force: bool, single_item: bool, downstream: bool,
          force_downstream: bool, pull: bool, keep_going: bool, jobs: int, dry: bool,
          no_run_cache: bool, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Run the stale stages of gitml.yaml in order and record gitml.lock.

    \b
    gitml repro                 everything that is stale
    gitml repro train           train and the stages it depends on
    gitml repro train -s        train only
    gitml repro --dry           what would run, and why
    gitml repro --downstream prepare   prepare and every stage after it
    gitml repro --pull          in a fresh clone: fetch inputs and outputs first
    """
    from gitml.pipeline import repro as run
    from gitml.pipeline.reproduce import ReproInterrupted, StageFailed

    if single_item and downstream:
        raise click.UsageError("choose one of --single-item and --downstream")
    if downstream and not targets:
        raise click.UsageError("--downstream needs the stage to start from")
    on_event = None if (as_json or quiet) else _printer(verbose, dry)
    with _repo() as repo:
        try:
            result = run(repo, list(targets) or None, force=force, single_item=single_item,
                         downstream=downstream, force_downstream=force_downstream,
                         keep_going=keep_going, jobs=jobs, dry=dry, run_cache=not no_run_cache,
                         pull=pull, stream_fd=2 if as_json else None, on_event=on_event)
            error: Exception | None = None
        except (StageFailed, ReproInterrupted) as e:
            result, error = e.result, e
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        _summary(repo.root, result)
    if error:
        raise error


@click.command()
@click.argument("targets", nargs=-1)
@click.option("--mermaid", "fmt", flag_value="mermaid", help="Mermaid flowchart.")
@click.option("--dot", "fmt", flag_value="dot", help="Graphviz DOT.")
@click.option("--md", "fmt", flag_value="md", help="Mermaid in a Markdown code block.")
@report_options
def dag(targets: tuple[str, ...], fmt: str | None, as_json: bool) -> None:
    """Show the stage graph (of TARGETS and what they depend on).

    Example: gitml dag --mermaid > pipeline.mmd
    """
    from gitml.pipeline import load

    with _repo() as repo:
        pipe = load(repo)
    names = pipe.select(list(targets) or None)
    if as_json:
        emit_json(pipe.to_dict(names))
    elif not names:
        click.echo("No stages. Add one with: gitml stage add -n NAME -d DEP -o OUT CMD")
    elif fmt == "mermaid":
        click.echo(pipe.mermaid(names))
    elif fmt == "md":
        click.echo("```mermaid\n" + pipe.mermaid(names) + "\n```")
    elif fmt == "dot":
        click.echo(pipe.dot(names))
    else:
        click.echo(pipe.text(names))


@click.group()
def stage() -> None:
    """Add and list pipeline stages (gitml.yaml)."""


@stage.command("add", context_settings={"allow_interspersed_args": False})
@click.option("-n", "--name", required=True, help="Stage name.")
@click.option("-d", "--deps", multiple=True, help="A file or directory the stage reads.")
@click.option("-o", "--outs", multiple=True, help="An output to store (a .gitml pointer).")
@click.option("-O", "--outs-no-cache", multiple=True, help="An output Git keeps.")
@click.option("-M", "--metrics", multiple=True, help="A metrics file (kept by Git).")
@click.option("--plots", multiple=True, help="A plots file (kept by Git).")
@click.option("-p", "--params", multiple=True,
              help="Keys of params.yaml the stage reads (train.lr or a,b or file.yaml:k1,k2).")
@click.option("-w", "--wdir", help="Directory to run in; paths are relative to it.")
@click.option("--always-changed", is_flag=True, help="Always run this stage.")
@click.option("--desc", help="A description.")
@click.option("-f", "--force", is_flag=True, help="Replace a stage of that name.")
@report_options
@click.argument("command", nargs=-1, required=True)
def stage_add(name: str, deps: tuple[str, ...], outs: tuple[str, ...],
              outs_no_cache: tuple[str, ...], metrics: tuple[str, ...], plots: tuple[str, ...],
              params: tuple[str, ...], wdir: str | None, always_changed: bool,
              desc: str | None, force: bool, as_json: bool, command: tuple[str, ...]) -> None:
    """Add a stage to gitml.yaml; the command comes last.

    Example: gitml stage add -n eval -d models/model.pkl -M eval.json python eval.py
    """
    import shlex

    from gitml.pipeline import stage_add as add

    cmd = command[0] if len(command) == 1 else shlex.join(command)
    with _repo() as repo:
        s = add(repo, name, cmd=cmd, deps=list(deps), outs=list(outs),
                outs_no_cache=list(outs_no_cache), metrics=list(metrics), plots=list(plots),
                params=list(params), wdir=wdir, always_changed=always_changed, desc=desc,
                force=force)
    if as_json:
        emit_json(s.to_dict())
    else:
        click.echo(f"Added stage {s.name!r} to gitml.yaml. Run it with: gitml repro {s.name}")


@stage.command("list")
@report_options
def stage_list(as_json: bool) -> None:
    """List the stages with their commands, deps and outputs.

    Example: gitml stage list --json
    """
    from gitml.pipeline import load

    with _repo() as repo:
        pipe = load(repo)
    names = pipe.order()
    if as_json:
        emit_json([pipe.stages[n].to_dict() for n in names])
        return
    rows: list[tuple[Any, ...]] = []
    for n in names:
        s = pipe.stages[n]
        rows.append((n, s.cmd_text, ", ".join(s.deps), ", ".join(o.path for o in s.outs)))
    click.echo(table(("stage", "cmd", "deps", "outs"), rows) if rows else "No stages.")


@click.command("commit")
@click.argument("targets", nargs=-1)
@report_options
def commit(targets: tuple[str, ...], as_json: bool, quiet: bool, verbose: bool) -> None:
    """Record the workspace as it is, without running anything: store the outputs of the
    named stages (or of the stages that write the named paths) and write their gitml.lock
    entries, so they are up to date; store tracked paths like 'gitml add'. No targets:
    every stage that is not up to date and every modified tracked path.

    Example: gitml commit train        (after fixing model/ by hand)
    """
    from gitml.pipeline.reproduce import commit as run_commit

    with _repo() as repo:
        result = run_commit(repo, list(targets) or None)
        root = repo.root
    if as_json:
        emit_json(result.to_dict())
        return
    if quiet:
        return
    for name in result.stages:
        click.echo(f"committed stage {name!r}: its outputs are stored and gitml.lock says so")
    for path in result.data:
        click.echo(f"stored {path}")
    if not result.stages and not result.data:
        click.echo("Nothing to commit: every stage and tracked path is up to date.")
    if result.changed:
        click.echo("\nTo track the changes with Git, run:\n    "
                   + git_add_hint(root, result.changed))
