"""Remote commands: remote add/list/modify/remove/default, push, fetch, pull; and the
printing of ``status --remote`` and ``gc --remote`` (called from gitml.cli.core)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitml.cli.output import (
    emit_json,
    human_size,
    json_option,
    quiet_option,
    report_options,
    table,
)
from gitml.errors import BadInputError

F = TypeVar("F", bound=Callable[..., Any])


def _repo():  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo()


# -- gitml remote ... ---------------------------------------------------------------------
@click.group()
def remote() -> None:
    """Configure where objects are pushed to and fetched from.

    \b
    gitml remote add storage s3://ml-bucket/projects/churn --default
    gitml remote modify storage endpoint_url http://127.0.0.1:8333
    gitml remote modify --local storage access_key_id AKIA...
    gitml remote add nas /mnt/shared/gitml-store
    gitml remote list
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("-d", "--default", "make_default", is_flag=True,
              help="Make it the default remote for push, fetch and pull.")
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
@report_options
def remote_add(name: str, url: str, make_default: bool, force: bool, as_json: bool,
               quiet: bool, verbose: bool) -> None:
    """Add a remote: s3://bucket/prefix, or a directory (absolute, or relative to the repo).

    The first remote added becomes the default. Example: gitml remote add nas /mnt/gitml
    """
    from gitml.remotes import config as rconfig

    rconfig.check_name(name)
    with _repo() as repo:
        conf = repo.config
        if name in rconfig.names(repo):
            if not force:
                raise BadInputError(f"remote {name!r} exists; use --force to replace it")
            conf.unset(f"remote.{name}")
        if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
            # a relative directory is given from the cwd, kept relative to the repo root
            url = os.path.relpath(os.path.abspath(url), repo.root)
        conf.set(f"remote.{name}.url", url)
        first = rconfig.default_remote(repo) is None
        if make_default or first:
            conf.set("core.remote", name)
    if as_json:
        emit_json({"name": name, "url": url, "default": make_default or first})
    elif not quiet:
        click.echo(f"Added remote {name} ({url})" + (" as the default" if make_default
                                                       or first else ""))
        if url.startswith("s3://"):
            click.echo(f"Credentials: the AWS chain, or 'gitml remote modify --local {name} "
                       "access_key_id ...' (never committed)")


@remote.command("list")
@report_options
def remote_list(as_json: bool) -> None:
    """List remotes (credentials are never shown).

    Example: gitml remote list --json
    """
    from gitml.remotes import config as rconfig

    with _repo() as repo:
        default = rconfig.default_remote(repo)
        rows = []
        for name in rconfig.names(repo):
            sec = repo.config.section(f"remote.{name}")
            local = repo.config.local.get("remote", {}).get(name, {})
            creds = "config.local.yaml" if any(k in local for k in rconfig.SECRETS) else (
                "AWS chain" if str(sec.get("url", "")).startswith("s3://") else "-")
            opts = {k: v for k, v in sec.items() if k != "url" and not rconfig.is_secret_key(
                f"remote.{name}.{k}")}
            rows.append({"name": name, "url": sec.get("url"), "default": name == default,
                         "credentials": creds, "options": opts})
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No remotes. Add one with: gitml remote add NAME URL")
        return
    click.echo(table(("name", "url", "options", "credentials"),
                     [(r["name"] + (" (default)" if r["default"] else ""), r["url"],
                       " ".join(f"{k}={v}" for k, v in sorted(r["options"].items())),
                       r["credentials"]) for r in rows]))


@remote.command("modify")
@click.argument("name")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--local", is_flag=True,
              help="Write to .gitml/config.local.yaml (not committed); required for secrets.")
@click.option("--unset", is_flag=True, help="Remove the option.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the value from standard input (for credentials: not in argv).")
@report_options
def remote_modify(name: str, key: str, value: str | None, local: bool, unset: bool,
                  from_stdin: bool, as_json: bool) -> None:
    """Set an option of a remote.

    \b
    Options: url, endpoint_url, region, profile, jobs, retries, addressing_style,
             and (with --local only) access_key_id, secret_access_key, session_token.
    A credential given without VALUE is asked for (hidden) or read with --stdin.
    Example: gitml remote modify storage endpoint_url https://minio.example.com:9000
             gitml remote modify --local storage secret_access_key      # prompts
    """
    from gitml.remotes import config as rconfig

    options = ("url", "endpoint_url", "region", "profile", "jobs", "retries",
               "addressing_style", *rconfig.SECRETS)
    if key not in options:
        raise BadInputError(f"unknown remote option {key!r}: use one of {', '.join(options)}")
    full = f"remote.{name}.{key}"
    secret = rconfig.is_secret_key(full)
    if secret and not local:
        raise BadInputError(f"{key} is a credential: it goes only to .gitml/config.local.yaml;"
                            f" run 'gitml remote modify --local {name} {key} ...'")
    with _repo() as repo:
        if name not in rconfig.names(repo):
            raise BadInputError(f"unknown remote {name!r}")
        conf = repo.config
        where = ".gitml/config.local.yaml" if local else ".gitml/config.yaml"
        if unset:
            if key == "url" and not local:
                raise BadInputError(f"a remote needs its url: to forget remote {name!r}, run "
                                    f"'gitml remote remove {name}'")
            if not conf.unset(full, local=local):
                raise BadInputError(f"{full} is not set" + (" locally" if local else ""))
            _said({"key": full, "file": where, "unset": True}, f"Unset {full} in {where}",
                  as_json)
            return
        value = _value(value, from_stdin, secret, key)
        if secret:
            _check_ignored(repo.root, where)
            with rconfig.allow_secrets():
                conf.set(full, value, local=True)
        else:
            conf.set(full, value, local=local)
    _said({"key": full, "file": where, "value": "****" if secret else value},
          f"Set {full} in {where}" + ("" if secret else f" to {value}"), as_json)


def _value(value: str | None, from_stdin: bool, secret: bool, key: str) -> str:
    """VALUE from argv, stdin (--stdin) or, for a credential on a terminal, a hidden prompt."""
    if from_stdin:
        if value is not None:
            raise click.UsageError("give VALUE or --stdin, not both")
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise BadInputError(f"no value for {key} on standard input")
        return value
    if value is not None:
        if secret:
            click.echo("warning: a credential on the command line is visible to other users "
                       "(ps) and kept in shell history; next time give none and be asked, "
                       "or use --stdin", err=True)
        return value
    if secret and sys.stdin.isatty():
        return str(click.prompt(key, hide_input=True, err=True))
    raise click.UsageError("give a VALUE, or --stdin, or --unset"
                           + (" (or run on a terminal to be asked)" if secret else ""))


def _check_ignored(root: str, where: str) -> None:
    """Refuse to write a credential into a file Git would commit (its ignore rule lost)."""
    import subprocess

    from gitml import gitio

    p = subprocess.run(["git", "check-ignore", "-q", where], cwd=root, env=gitio.git_env(),
                       capture_output=True)
    if p.returncode != 0:
        raise BadInputError(f"{where} is not ignored by Git (the rule 'config.local.yaml' is "
                            f"missing from .gitml/.gitignore, or the file is committed): a "
                            f"credential written there could be committed; restore the rule "
                            f"(gitml init does), then run this again")


def _said(obj: Any, text: str, as_json: bool) -> None:
    """A one-line confirmation, or its JSON form."""
    if as_json:
        emit_json(obj)
    else:
        click.echo(text)


@remote.command("remove")
@click.argument("name")
@report_options
def remote_remove(name: str, as_json: bool) -> None:
    """Forget a remote (its data is not touched).

    Example: gitml remote remove old-nas
    """
    from gitml.remotes import config as rconfig

    with _repo() as repo:
        if name not in rconfig.names(repo):
            raise BadInputError(f"unknown remote {name!r}")
        repo.config.unset(f"remote.{name}")
        repo.config.unset(f"remote.{name}", local=True)
        if rconfig.default_remote(repo) == name:
            repo.config.unset("core.remote")
    _said({"removed": name}, f"Removed remote {name}", as_json)


@remote.command("default")
@click.argument("name", required=False)
@report_options
def remote_default(name: str | None, as_json: bool) -> None:
    """Show or set the default remote.

    Example: gitml remote default storage
    """
    from gitml.remotes import config as rconfig

    with _repo() as repo:
        if name is None:
            current = rconfig.default_remote(repo)
            if current is None:
                raise BadInputError("no default remote: gitml remote default NAME")
            _said({"default": current}, current, as_json)
            return
        if name not in rconfig.names(repo):
            raise BadInputError(f"unknown remote {name!r}")
        repo.config.set("core.remote", name)
    _said({"default": name}, f"The default remote is now {name}", as_json)


# -- push / fetch / pull ------------------------------------------------------------------
def _transfer_options(f: F) -> F:
    f = quiet_option(f)
    f = json_option(f)
    f = click.option("--run-cache", is_flag=True, help="Also the run cache: every entry and "
                     "its outputs, so 'repro' restores what others ran.")(f)
    f = click.option("-j", "--jobs", type=int, help="Parallel transfers (default: 16 for S3, "
                     "2 x cores for a directory; or remote option 'jobs').")(f)
    f = click.option("--all-tags", is_flag=True, help="Every tag's tracked data.")(f)
    f = click.option("--all-branches", is_flag=True, help="Every branch's tracked data.")(f)
    f = click.option("--rev", "revs", multiple=True, metavar="REV",
                     help="Tracked data at REV instead of the workspace (repeatable).")(f)
    f = click.option("-r", "--remote", "remote_name", metavar="NAME",
                     help="Remote to use (default: the default remote).")(f)
    return click.argument("targets", nargs=-1, type=click.Path())(f)


def _kw(targets: tuple[str, ...], remote_name: str | None, revs: tuple[str, ...],
        all_branches: bool, all_tags: bool, jobs: int | None) -> dict[str, Any]:
    return {"targets": list(targets) or None, "remote": remote_name,
            "revs": list(revs) or None, "all_branches": all_branches, "all_tags": all_tags,
            "jobs": jobs}


def _summary(r: Any) -> str:
    if r.action == "push":
        if not r.transferred and not r.missing and not r.corrupt:
            return f"Everything is on {r.remote} already ({r.objects} objects)."
        return (f"pushed {r.transferred} object{'s' * (r.transferred != 1)} "
                f"({human_size(r.bytes)} new of {human_size(r.size)}) to {r.remote}; "
                f"{r.present} already there")
    if not r.transferred and not r.missing and not r.corrupt:
        return f"Everything is in the store already ({r.objects} objects)."
    fixed = (f" ({r.replaced} corrupt cop{'ies' if r.replaced != 1 else 'y'} replaced; "
             "the bad ones are in the store's quarantine/)" if r.replaced else "")
    return (f"fetched {r.transferred} object{'s' * (r.transferred != 1)} "
            f"({human_size(r.bytes)} new of {human_size(r.size)}) from {r.remote}; "
            f"{r.present} already in the store" + fixed)


def _runs_summary(r: Any) -> str:
    n, objs = r.transferred, (r.objects.transferred if r.objects else 0)
    verb, where, have = (("pushed", "to", "already there") if r.action == "push"
                         else ("fetched", "from", "already in the store"))
    text = (f"run cache: {verb} {n} entr{'y' if n == 1 else 'ies'} ({objs} "
            f"object{'s' * (objs != 1)}) {where} {r.remote}; {r.present} {have}")
    return text


def _runs_problems(r: Any) -> None:
    """Skipped entries: a warning for a push (they stay local), exit 1 for a fetch."""
    if not r or not r.skipped:
        return
    n = len(r.skipped)
    text = (f"run cache: {n} entr{'y' if n == 1 else 'ies'} skipped: "
            + ", ".join(f"{d['key']} ({d['why']})" for d in r.skipped[:3])
            + (f" and {n - 3} more" if n > 3 else ""))
    if r.action == "push":
        click.echo(f"warning: {text}", err=True)
        return
    from gitml.errors import CheckFailed

    raise CheckFailed(text)


def _with_runs(action: str, repo: Any, run_cache: bool, remote_name: str | None,
               jobs: int | None) -> Any:
    """The run-cache half of ``push/fetch/pull --run-cache`` (None without the flag)."""
    if not run_cache:
        return None
    from gitml.remotes import runs

    fn = runs.push_runs if action == "push" else runs.fetch_runs
    return fn(repo, remote=remote_name, jobs=jobs)


def _run(action: str, kw: dict[str, Any], as_json: bool, quiet: bool,
         run_cache: bool = False) -> None:
    from gitml.remotes import transfer
    from gitml.remotes.base import TransferIncomplete

    with _repo() as repo:
        try:
            result = getattr(transfer, action)(repo, **kw)
            error = None
        except TransferIncomplete as e:
            result, error = e.result, e
        runs = _with_runs(action, repo, run_cache, kw["remote"], kw["jobs"])
    if as_json:
        emit_json({**result.to_dict(), **({"run_cache": runs.to_dict()} if runs else {})})
    elif not quiet:
        click.echo(_summary(result))
        if runs:
            click.echo(_runs_summary(runs))
    if error:
        raise error
    _runs_problems(runs)


@click.command()
@_transfer_options
@click.option("-f", "--force", is_flag=True,
              help="Send every object again, even those the remote has (repairs a damaged "
                   "remote object).")
def push(targets: tuple[str, ...], remote_name: str | None, revs: tuple[str, ...],
         all_branches: bool, all_tags: bool, jobs: int | None, run_cache: bool,
         as_json: bool, quiet: bool, verbose: bool, force: bool) -> None:
    """Send tracked data the remote lacks (the workspace's, or --rev / --all-branches).

    \b
    gitml push -r storage --all-branches -j 32
    gitml push --run-cache          # and every run-cache entry with its outputs
    """
    kw = _kw(targets, remote_name, revs, all_branches, all_tags, jobs)
    _run("push", {**kw, "force": force}, as_json, quiet, run_cache)


@click.command()
@_transfer_options
def fetch(targets: tuple[str, ...], remote_name: str | None, revs: tuple[str, ...],
          all_branches: bool, all_tags: bool, jobs: int | None, run_cache: bool,
          as_json: bool, quiet: bool, verbose: bool) -> None:
    """Download tracked data the store lacks into the store (each object verified).

    \b
    gitml fetch --rev main data/train.parquet
    gitml fetch --run-cache         # and the remote's run cache with its outputs
    """
    _run("fetch", _kw(targets, remote_name, revs, all_branches, all_tags, jobs), as_json, quiet,
         run_cache)


@click.command()
@_transfer_options
@click.option("-f", "--force", is_flag=True, help="Overwrite modified files that are not stored.")
def pull(targets: tuple[str, ...], remote_name: str | None, revs: tuple[str, ...],
         all_branches: bool, all_tags: bool, jobs: int | None, run_cache: bool,
         as_json: bool, quiet: bool, verbose: bool, force: bool) -> None:
    """fetch, then check out. A target inside a tracked directory pulls just that part.

    \b
    gitml pull data/images/cats
    gitml pull --run-cache          # then 'gitml repro' restores stages others ran
    """
    from gitml.remotes import transfer
    from gitml.remotes.base import TransferIncomplete

    kw = _kw(targets, remote_name, revs, all_branches, all_tags, jobs)
    error = None
    with _repo() as repo:
        try:
            result = transfer.pull(repo, force=force, **kw)
        except TransferIncomplete as e:
            if not isinstance(e.result, transfer.PullResult):
                raise
            result, error = e.result, e
        runs = _with_runs("fetch", repo, run_cache, remote_name, jobs)
    _show_pull(result, as_json, quiet, runs)
    if error:
        raise error
    _runs_problems(runs)


def _show_pull(result: Any, as_json: bool, quiet: bool, runs: Any = None) -> None:
    if as_json:
        emit_json({**result.to_dict(), **({"run_cache": runs.to_dict()} if runs else {})})
        return
    if quiet:
        return
    click.echo(_summary(result.fetch))
    co = result.checkout
    parts = [f"{len(v)} {k}" for k, v in (("created", co.created), ("modified", co.modified),
                                            ("deleted", co.deleted)) if v]
    click.echo("checkout: " + (", ".join(parts) if parts else "data matches the pointers"))
    if runs:
        click.echo(_runs_summary(runs))


# -- called from gitml.cli.core -----------------------------------------------------------
def show_remote_status(targets: list[str], remote_name: str | None, as_json: bool,
                       quiet: bool, verbose: bool) -> None:
    """``gitml status --remote [NAME]``."""
    from gitml.remotes import config as rconfig
    from gitml.remotes.status import remote_status

    with _repo() as repo:
        if remote_name and remote_name not in rconfig.names(repo) \
                and os.path.exists(remote_name):
            targets, remote_name = [remote_name, *targets], None  # `status --remote data/`
        st = remote_status(repo, targets or None, remote_name)
    if as_json:
        emit_json(st.to_dict())
        return
    if quiet:
        return
    if not st.paths:
        click.echo("No tracked data. Track some with: gitml add PATH")
        return
    shown = [p for p in st.paths if verbose or p.state != "in sync"]
    if not shown:
        click.echo(f"In sync with {st.remote}: {len(st.paths)} tracked "
                   f"path{'s' * (len(st.paths) != 1)}, nothing to push or fetch.")
        return
    click.echo(f"remote {st.remote} ({st.url})")
    rows = []
    for p in shown:
        detail = []
        if p.not_pushed:
            detail.append(f"{p.not_pushed} to push ({human_size(p.bytes_not_pushed)})")
        if p.not_fetched:
            detail.append(f"{p.not_fetched} to fetch ({human_size(p.bytes_not_fetched)})")
        if p.missing:
            detail.append(f"{p.missing} in neither")
        rows.append((p.state, p.path + ("/" if p.kind == "dir" else ""),
                     f"{p.objects}", ", ".join(detail)))
    click.echo(table(("state", "path", "objects", "detail"), rows, align="llrl"))


def run_remote_gc(remote_name: str | None, dry_run: bool, workspace_only: bool, force: bool,
                  as_json: bool, quiet: bool) -> None:
    """``gitml gc --remote [NAME]``."""
    from gitml.remotes.gc import gc_remote

    with _repo() as repo:
        r = gc_remote(repo, remote_name, dry_run=dry_run, workspace_only=workspace_only,
                      force=force)
    if as_json:
        emit_json(r.to_dict())
    elif not quiet:
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{r.remote}: {verb} {r.removed} object{'s' * (r.removed != 1)}, "
                   f"{human_size(r.bytes_freed)}; kept {r.kept}")
    for m in r.missing_manifests:  # --force went on without them: say what it could not see
        click.echo(f"warning: {m}: its files were not kept", err=True)
