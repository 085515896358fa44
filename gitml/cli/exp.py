"""``gitml exp``: experiments as branches (run, show, diff, best, apply, remove, clean)."""

from __future__ import annotations

import csv
import io
import time
from typing import TYPE_CHECKING, Any

import click

from gitml.cli.output import emit_json, markdown, plural, report_options, style, table
from gitml.errors import CheckFailed

if TYPE_CHECKING:
    from gitml.experiments.runner import ExpResult
    from gitml.experiments.table import Table
    from gitml.pipeline.reproduce import Event


def _repo():  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo()


@click.group()
def exp() -> None:
    """Run experiments on their own branches and compare them.

    \b
    gitml exp run -n exp-3 -S train.lr=0.01
    gitml exp show --sort-by val.acc
    gitml exp best --metric val.acc --max
    """


# -- run --------------------------------------------------------------------------------------

def _printer(err: bool):  # type: ignore[no-untyped-def]
    def show(ev: Event) -> None:
        why = f" ({'; '.join(str(r) for r in ev.reasons)})" if ev.reasons else ""
        if ev.kind == "start":
            click.echo(f"Running stage {ev.stage!r}{why}:\n> {ev.cmd}", err=err)
        elif ev.kind == "restored":
            click.echo(f"Restored stage {ev.stage!r} from the run cache{why}", err=err)
        elif ev.kind == "unchanged":
            click.echo(f"Stage {ev.stage!r} is up to date", err=err)
        elif ev.kind in ("skipped", "not-run"):
            click.echo(f"Stage {ev.stage!r} not run: {ev.detail}", err=err)
        elif ev.kind == "failed":
            click.echo(f"Stage {ev.stage!r} failed: {ev.detail}", err=True)
    return show


def _report(r: ExpResult, quiet: bool, single: bool) -> None:
    from gitml.experiments.runner import headline

    if r.status == "skipped" or quiet:
        return
    if r.status == "done":
        scores = headline(r.metrics) or "no metrics"
        click.echo(f"Experiment {r.name} done in {r.seconds:.1f} s: {scores}")
        click.echo(f"  branch {r.name} ({(r.commit or '')[:7]}); compare: "
                   f"gitml exp diff {r.name}; use it: gitml exp apply {r.name}")
        return
    if r.status == "empty":
        if r.commit:
            click.echo(f"Experiment {r.name}: no stage ran; kept as branch {r.name} "
                       f"({r.commit[:7]}), marked empty (its metrics are not its own)")
        else:
            click.echo(f"Experiment {r.name}: no stage ran (every stage is up to date with "
                       "these params), so it has no metrics of its own; no branch made "
                       "(--allow-empty records it anyway)")
        return
    if r.log:
        click.echo(r.log.rstrip("\n"), err=True)
    if r.events:  # a run elsewhere: its stages' failures, as a local run prints them
        from gitml.pipeline.reproduce import Event

        show = _printer(True)
        for ev in r.events:
            show(Event(ev["kind"], ev["stage"], detail=ev.get("detail", "")))
    kept = f"kept as branch {r.name}, marked failed" if r.commit else "no branch made"
    if r.failed_outputs and r.commit:
        kept += f"; {', '.join(r.failed_outputs)} written by the failed stage, marked so"
    # a single run's error is the command's last line; in a batch each says its own
    click.echo(f"Experiment {r.name} failed ({kept})" + ("" if single else f": {r.error}"),
               err=True)


def _finish(results: list[ExpResult]) -> None:
    failed = [r.name for r in results if r.status == "failed"]
    if failed:
        n = len(failed)
        if len(results) == 1:
            raise CheckFailed(results[0].error or f"experiment {failed[0]} failed")
        raise CheckFailed(f"{n} of {plural(len(results), 'experiment')} "
                          f"failed: {', '.join(failed)}")


@exp.command("run", context_settings={"show_default": True})
@click.argument("targets", nargs=-1)
@click.option("-S", "--set-param", "set_", multiple=True, metavar="[FILE:]KEY=VALUE",
              help="Change a param (repeatable). Sweep with a,b,c; quote a value with a "
                   "comma. Default file: params.yaml.")
@click.option("-n", "--name", help="Branch name (default: exp-N).")
@click.option("--add", is_flag=True, help="Allow keys the params file does not have yet.")
@click.option("--queue", "to_queue", is_flag=True, help="Queue the runs; run them later with "
              "--run-all.")
@click.option("--run-all", is_flag=True, help="Run every queued experiment.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1,
              help="With --run-all or a sweep: run N experiments at once.")
@click.option("-f", "--force", is_flag=True, help="Run every stage even if nothing changed.")
@click.option("--no-run-cache", is_flag=True, help="Never restore outputs from the run cache.")
@click.option("--keep-failed", is_flag=True,
              help="Keep a failed run as a branch marked failed.")
@click.option("--pull", is_flag=True,
              help="Fetch missing inputs and stored outputs from the default remote first.")
@click.option("--allow-empty", is_flag=True,
              help="Record the run even when no stage ran (its metrics are then not its own).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              help="Where the runs happen: here, or one Ray task each on a cluster.")
@click.option("--address", metavar="HOST:PORT",
              help="The Ray cluster (default: config exp.ray.address, else RAY_ADDRESS).")
@click.option("--resources", metavar="cpu=N,gpu=N,...",
              help="What each run asks the cluster for (default: the most any stage's "
                   "'resources:' asks, else cpu=1).")
@click.option("--detach", is_flag=True,
              help="Submit and return; follow with 'gitml exp status' or 'gitml exp wait'.")
@click.option("--run-queued", metavar="NAME", hidden=True)
@report_options
def run_cmd(targets: tuple[str, ...], set_: tuple[str, ...], name: str | None, add: bool,
            to_queue: bool, run_all: bool, jobs: int, force: bool, no_run_cache: bool,
            keep_failed: bool, pull: bool, allow_empty: bool, executor: str,
            address: str | None, resources: str | None, detach: bool,
            run_queued: str | None, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Run the pipeline with changed params on a new branch.

    The run happens in its own worktree under .gitml/worktrees/: your workspace, index
    and HEAD are not touched; your uncommitted edits to Git-tracked files are carried
    into the experiment. TARGETS: stages to run (default: all).

    \b
    gitml exp run -n exp-3 -S train.lr=0.01
    gitml exp run -S train.lr=0.1,0.01 -S train.depth=3,5 --queue
    gitml exp run --run-all --jobs 2
    gitml exp run --run-all --executor ray --address head:6379 --resources cpu=2
    """
    from gitml.experiments import api, queuing
    from gitml.experiments.executors.base import parse_resources

    if run_all and (set_ or to_queue or name or targets):
        raise click.UsageError("--run-all runs the queue as it is; queue first, then run")
    if executor == "local" and (address or resources or detach):
        given = "--address" if address else "--resources" if resources else "--detach"
        raise click.UsageError(f"{given} goes with --executor ray")
    if to_queue and executor != "local":
        raise click.UsageError("--queue only queues; submit the queue with --run-all "
                               "--executor ray")
    remote_opts = {"address": address, "resources": parse_resources(resources)} \
        if executor != "local" else {}
    say = (lambda m: None) if (quiet or as_json) else (lambda m: click.echo(m, err=as_json))
    on_event = None if (quiet or as_json) else _printer(False)
    stream_fd = 2 if as_json else None
    with _repo() as repo:
        if to_queue:
            names = api.queue(set=set_, name=name, add=add, targets=list(targets), force=force,
                              run_cache=not no_run_cache, keep_failed=keep_failed, pull=pull,
                              allow_empty=allow_empty, repo=repo)
            if as_json:
                emit_json({"queued": names})
            elif not quiet:
                click.echo(f"Queued {plural(len(names), 'experiment')}: "
                           f"{', '.join(names)}. Run them with: gitml exp run --run-all")
            return
        if run_queued:
            results = [queuing.run_one_queued(repo, run_queued, stream=not quiet,
                                            stream_fd=stream_fd, on_event=on_event, say=say)]
        elif run_all:
            if executor != "local" and not queuing.entries(repo):
                results = []
            else:
                results = api.run_all(jobs=jobs, stream=not quiet, stream_fd=stream_fd,
                                      on_event=on_event, say=say, executor=executor,
                                      detach=detach, repo=repo, **remote_opts)
            if not results and not detach and not as_json and not quiet:
                click.echo("The queue is empty. Queue runs with: gitml exp run -S ... --queue")
        else:
            results = api.run(set=set_, name=name, add=add, targets=list(targets), force=force,
                              run_cache=not no_run_cache, keep_failed=keep_failed, jobs=jobs,
                              pull=pull, allow_empty=allow_empty, stream=not quiet,
                              stream_fd=stream_fd, on_event=on_event, say=say,
                              executor=executor, detach=detach, repo=repo, **remote_opts)
    if detach:
        if as_json:
            emit_json({"submitted": True})
        elif not quiet:
            click.echo("Follow them with: gitml exp status --executor ray; bring them home "
                       "with: gitml exp wait")
        return
    if as_json:
        emit_json([r.to_dict() for r in results])
    else:
        for r in results:
            if r.seconds or r.status in ("failed", "empty"):
                _report(r, quiet, len(results) == 1)
        if len(results) > 1 and not quiet:
            done = [r.name for r in results if r.status == "done"]
            click.echo(f"{len(done)} of {len(results)} experiments done. "
                       "Compare them with: gitml exp show")
    _finish(results)


# -- show -------------------------------------------------------------------------------------

def _fmt(as_json: bool, as_md: bool, as_csv: bool) -> str:
    chosen = [n for n, on in (("json", as_json), ("md", as_md), ("csv", as_csv)) if on]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --json, --md, --csv")
    return chosen[0] if chosen else "table"


def _when(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


@exp.command("show")
@click.option("--sort-by", metavar="KEY", help="Sort experiments by a metric or param.")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]),
              help="Default: best first for a metric with a declared direction, else asc.")
@click.option("--only-changed", is_flag=True,
              help="Only columns whose value differs between rows.")
@click.option("--precision", type=click.IntRange(1, 17), default=5, show_default=True,
              metavar="N", help="Significant digits of numbers.")
@click.option("--md", "as_md", is_flag=True, help="Print a Markdown table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--remote", "git_remote", metavar="NAME",
              help="The experiments on this Git remote's branches (fetches only their "
                   "commits, no data).")
@report_options
def show_cmd(sort_by: str | None, sort_order: str | None, only_changed: bool, precision: int,
             as_md: bool, as_csv: bool, git_remote: str | None, as_json: bool) -> None:
    """HEAD and every experiment, one row each: metrics, then params.

    Experiments are branches whose commit gitml made: local ones, and remote-tracking
    ones (origin/exp-3) that a clone or git fetch brought.

    \b
    gitml exp show
    gitml exp show --sort-by val.acc --only-changed --md
    gitml exp show --remote origin
    """
    from gitml.experiments.table import changed_only, collect, sort_rows
    from gitml.experiments.worktrees import running

    fmt = _fmt(as_json, as_md, as_csv)
    with _repo() as repo:
        if git_remote is not None:
            from gitml.experiments.sharing import remote_experiments

            tbl = collect(repo, experiments=remote_experiments(repo, git_remote))
            busy = []
        else:
            tbl = collect(repo)
            busy = running(repo)
    if sort_by:
        sort_rows(tbl, sort_by, sort_order)
    for row in tbl.rows:
        for err in row.errors:
            click.echo(f"warning: {err}", err=True)
    if fmt == "json":
        emit_json([r.to_dict() for r in tbl.rows])
        return
    cols = changed_only(tbl) if only_changed else tbl.columns
    click.echo(_render(tbl, cols, fmt, precision))
    if fmt == "csv":
        return
    if tbl.queued:
        click.echo(f"\nQueued ({len(tbl.queued)}), run with 'gitml exp run --run-all':")
        click.echo(table(["", ""], [[q.name, ", ".join(q.overrides) or "-"]
                                    for q in tbl.queued]).split("\n", 1)[1])
    if busy:
        click.echo(f"\nRunning now: {', '.join(busy)}")
    if not tbl.experiments and not tbl.queued and fmt == "table":
        click.echo(f"\nNo experiments on {git_remote}." if git_remote else
                   "\nNo experiments yet. Start one with: gitml exp run -S KEY=VALUE")


def _render(tbl: Table, cols: list[Any], fmt: str, precision: int) -> str:
    from gitml.compare import fmt_value
    from gitml.experiments.table import _ABSENT

    rows = [r for r in tbl.rows if r.type != "queued"]
    heads = [tbl.labels[c] for c in cols]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["experiment", "type", "state", "created", "rev", *heads])
        for r in rows:
            vals = ["" if (v := r.get(c)) is _ABSENT else v for c in cols]
            w.writerow([r.name, r.type, r.status, _when(r.created), r.rev or "", *vals])
        return buf.getvalue().rstrip("\n")
    out_rows = []
    for r in rows:
        label = r.name + (f" ({r.status})" if r.status in ("failed", "empty") else "")
        if fmt == "table" and r.type == "baseline":
            label = style(label, bold=True)
        out_rows.append([label, _when(r.created) if r.type != "baseline" else "HEAD",
                         *[fmt_value(r.get(c), precision) for c in cols]])
    headers = ["Experiment", "Created", *heads]
    if fmt == "md":
        return markdown(headers, out_rows)
    return table(headers, out_rows, "ll" + "r" * len(cols))


# -- diff / best ------------------------------------------------------------------------------

@exp.command("diff")
@click.argument("a")
@click.argument("b", required=False)
@click.option("--all", "show_all", is_flag=True, help="Include unchanged params and metrics.")
@click.option("--precision", type=click.IntRange(1, 17), default=5, show_default=True,
              metavar="N", help="Significant digits of numbers.")
@click.option("--md", "as_md", is_flag=True, help="Print Markdown tables.")
@report_options
def diff_cmd(a: str, b: str | None, show_all: bool, precision: int, as_md: bool,
             as_json: bool) -> None:
    """Params and metrics of two revisions side by side (one experiment: it and its base).

    \b
    gitml exp diff main exp-3
    gitml exp diff exp-3            # exp-3 against the commit it branched from
    """
    from gitml.compare import cell, change_text
    from gitml.experiments.table import diff

    fmt = _fmt(as_json, as_md, False)
    with _repo() as repo:
        reports = diff(repo, a, b, all=show_all)
    if fmt == "json":
        emit_json({k: r.to_dict() for k, r in reports.items()})
        return
    first = True
    for kind in ("params", "metrics"):
        rep = reports[kind]
        for w in rep.warnings:
            click.echo(f"warning: {w}", err=True)
        title = f"{kind.title()} ({rep.a} -> {rep.b})"
        if not first:
            click.echo("")
        first = False
        click.echo(f"## {title}\n" if fmt == "md" else title)
        if not rep.changes:
            click.echo(f"No {kind} changed.")
            continue
        verdicts = rep.has_verdicts
        headers = ["Path", "Param" if kind == "params" else "Metric", rep.a, rep.b, "Change"]
        headers += ["Verdict"] if verdicts else []
        rows = [[c.path, c.key, cell(c, "old", precision), cell(c, "new", precision),
                 change_text(c, precision)] + ([c.verdict or ""] if verdicts else [])
                for c in rep.changes]
        click.echo(markdown(headers, rows) if fmt == "md"
                   else table(headers, rows, "llrrr" + "l" * verdicts))


@exp.command("best")
@click.option("-m", "--metric", required=True, help="The metric to judge by (key or "
              "path:key).")
@click.option("--max", "direction", flag_value="max", help="Higher is better.")
@click.option("--min", "direction", flag_value="min", help="Lower is better.")
@report_options
def best_cmd(metric: str, direction: str | None, as_json: bool, quiet: bool,
             verbose: bool) -> None:
    """Print the name of the finished experiment with the best value of a metric.

    Without --max/--min the direction declared in gitml.yaml is used. Failed and empty
    runs never win; when HEAD beats every experiment, a note on stderr says so.

    \b
    gitml exp best --metric val.acc --max
    git checkout $(gitml exp best -m val.loss --min)
    """
    from gitml.experiments.table import best

    maximize = None if direction is None else direction == "max"
    from gitml.compare import fmt_value

    with _repo() as repo:
        b = best(repo, metric, maximize=maximize)
    row, col = b.row, b.column
    if as_json:
        d = {"name": row.name, "rev": row.rev, "metric": f"{col[1]}:{col[2]}",
             "value": b.value, "baseline_wins": b.baseline is not None}
        if b.baseline is not None:
            d["baseline"] = {"name": b.baseline.name, "rev": b.baseline.rev,
                             "value": b.baseline_value}
        emit_json(d)
        return
    if quiet:
        return
    click.echo(row.name)
    if b.baseline is not None:
        click.echo(f"note: the baseline {b.baseline.name} ({col[2]}="
                   f"{fmt_value(b.baseline_value, 5)}) beats every experiment; the best "
                   f"experiment is {row.name} ({fmt_value(b.value, 5)})", err=True)


# -- apply / remove / clean -------------------------------------------------------------------

@exp.command("apply")
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted changes.")
@report_options
def apply_cmd(name: str, force: bool, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Bring an experiment's params, metrics and outputs into the workspace, uncommitted.

    HEAD and the index stay as they are; review with git diff, then commit.

    Example: gitml exp apply exp-3 && git commit -am "Use exp-3"
    """
    from gitml.experiments.manage import apply

    with _repo() as repo:
        res = apply(repo, name, force=force)
    if as_json:
        emit_json(res.to_dict())
    elif not quiet:
        if not res.files:
            click.echo(f"{name} changes nothing in the workspace.")
            return
        click.echo(f"Applied {name}: {plural(len(res.files), 'file')} "
                   f"({', '.join(res.files[:6])}{' ...' if len(res.files) > 6 else ''})"
                   + (f", {plural(len(res.data), 'output')} checked out" if res.data else "")
                   + ". Not committed: review with 'git diff', then commit.")


@exp.command("remove")
@click.argument("names", nargs=-1)
@click.option("--failed", is_flag=True, help="Every experiment that failed.")
@click.option("--older-than", metavar="AGE", help="Every experiment older than AGE (30d, "
              "12h, 2w).")
@click.option("--queued", is_flag=True, help="Every queued run.")
@click.option("--all", "all_", is_flag=True, help="Every experiment.")
@click.option("-f", "--force", is_flag=True,
              help="Also delete branches that have commits beyond the experiment.")
@report_options
def remove_cmd(names: tuple[str, ...], failed: bool, older_than: str | None, queued: bool,
               all_: bool, force: bool, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Delete experiments (their branches) and queued runs. Alias: rm.

    Outputs stay in the store until 'gitml gc'.

    \b
    gitml exp remove exp-3 exp-4
    gitml exp rm --failed --older-than 30d
    """
    from gitml.experiments import api

    with _repo() as repo:
        gone = api.remove(names, failed=failed, older_than=older_than, queued=queued, all=all_,
                          force=force, repo=repo)
    if as_json:
        emit_json({"removed": gone})
    elif not quiet:
        click.echo(f"Removed {len(gone)}: {', '.join(gone)}" if gone
                   else "Nothing to remove.")


exp.add_command(remove_cmd, "rm")


@exp.command("clean")
@report_options
def clean_cmd(as_json: bool) -> None:
    """Remove what interrupted runs left behind (worktrees, stale entries).

    Runs still in progress are left alone. 'gitml exp run' also does this by itself.

    Example: gitml exp clean
    """
    from gitml.experiments.manage import clean

    with _repo() as repo:
        res = clean(repo)
    if as_json:
        emit_json(res.to_dict())
        return
    if res.worktrees:
        click.echo(f"Removed {plural(len(res.worktrees), 'worktree')} left by killed runs: "
                   + ", ".join(res.worktrees))
    if res.stale:
        click.echo(f"Forgot {plural(len(res.stale), 'experiment')} whose branch was deleted: "
                   + ", ".join(res.stale))
    if res.running:
        click.echo(f"Left {plural(len(res.running), 'running experiment')} alone: "
                   + ", ".join(res.running))
    if not (res.worktrees or res.stale or res.running):
        click.echo("Nothing to clean.")


from gitml.cli.exp_share import pull_cmd, push_cmd  # noqa: E402 - registered on the group

exp.add_command(push_cmd, "push")
exp.add_command(pull_cmd, "pull")

from gitml.cli.exp_status import status_cmd, wait_cmd  # noqa: E402 - registered on the group

exp.add_command(status_cmd, "status")
exp.add_command(wait_cmd, "wait")
