"""Core commands: init, add, status, checkout, diff, remove, gc, fsck, config."""

from __future__ import annotations

import os
from typing import Any

import click

from gitml.cli.output import (
    emit_json,
    git_add_hint,
    human_size,
    json_option,
    plural,
    quiet_option,
    report_options,
    table,
)
from gitml.errors import CheckFailed


def _repo():  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo()


_INIT_FILES = (".gitml/config.yaml", ".gitml/.gitignore", ".gitattributes")


@click.command()
@json_option
@quiet_option
def init(as_json: bool, quiet: bool, verbose: bool) -> None:
    """Set up gitml in the current Git repository (safe to run again).

    Example: gitml init && git add .gitml && git commit -m "gitml init"
    """
    from gitml.gitio import find_root
    from gitml.repo import GITML_DIR, Repo

    existed = os.path.exists(os.path.join(find_root(None), GITML_DIR, "config.yaml"))
    repo = Repo.init()
    if as_json:
        emit_json({"gitml_dir": repo.gitml_dir, "created": not existed,
                   "files": list(_INIT_FILES)})
        return
    if quiet:
        return
    if existed:
        click.echo(f"gitml is already set up in {repo.gitml_dir} (checked; drivers registered)")
        return
    click.echo(f"Initialised gitml in {repo.gitml_dir}")
    click.echo(f"Stage it with:  {git_add_hint(repo.root, _INIT_FILES)}")


@click.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@click.option("--no-chunk", is_flag=True,
              help="Store big files whole, not as content-defined chunks.")
@json_option
@quiet_option
def add(targets: tuple[str, ...], no_chunk: bool, as_json: bool, quiet: bool,
        verbose: bool) -> None:
    """Store files or directories and write their .gitml pointers. Files of
    core.chunk_threshold (64 MiB) or more are stored as chunks, so a new version costs
    what changed; -v says when a Parquet file was written in a way that defeats that.

    Example: gitml add data/train.parquet data/images/ 'models/*.pkl'
    """
    with _repo() as repo:
        results = repo.add(list(targets), quiet=quiet or as_json, chunk=not no_chunk,
                           advise=verbose)
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    if quiet:
        return
    for r in results:
        what = f"{r.files} files, " if r.files is not None else ""
        verb = "added" if r.changed else "unchanged"
        click.echo(f"{verb}: {r.path} ({what}stored {human_size(r.new_bytes)} new of "
                   f"{human_size(r.size)})")
        for skipped in r.skipped:
            click.echo(f"warning: skipped {skipped}", err=True)
        for note in r.notes:
            click.echo(f"note: {note}", err=True)
    to_git = sorted({r.pointer for r in results} | {r.gitignore for r in results if r.gitignore})
    if any(r.changed or r.gitignore for r in results):
        click.echo("\nTo track the changes with Git, run:\n    "
                   + git_add_hint(repo.root, to_git))


_STATE_ORDER = {"corrupt": -1, "modified": 0, "missing": 1, "not in store": 2, "ok": 3}


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--remote", is_flag=False, flag_value="", default=None, metavar="[NAME]",
              help="Compare with a remote (default: the default remote): what is not pushed "
                   "or not fetched.")
@json_option
@quiet_option
def status(targets: tuple[str, ...], remote: str | None, as_json: bool, quiet: bool,
           verbose: bool) -> None:
    """Show which tracked paths differ from their pointers (--remote: from a remote).

    Exit 0 either way, but with -q: 1 when anything differs; exit 1 when a file linked into
    the store was edited in place (its stored object is damaged). Example: gitml status data/
    """
    if remote is not None:
        from gitml.cli.remote import show_remote_status

        return show_remote_status(list(targets), remote or None, as_json, quiet, verbose)
    with _repo() as repo:
        items = repo.status(list(targets) or None)
        from gitml.pipeline import project_status  # stale stages (issue 4)

        stages = None if targets else project_status(repo)
        moved = _imports_moved(repo, items)
    corrupt = [p for s in items for p in s.corrupt]
    if as_json:
        emit_json([s.to_dict() for s in items] + (stages.json_items() if stages else [])
                  + [{"kind": "import", **m} for m in moved])
    elif not quiet:
        _print_status(items, stages, verbose, moved)
    if corrupt:
        raise CheckFailed(
            f"{len(corrupt)} file(s) linked into the store were edited in place, so their "
            f"stored objects no longer match their hash: {', '.join(corrupt[:5])}"
            f"{' ...' if len(corrupt) > 5 else ''}. Keep the edited content with 'gitml add' "
            "(it becomes a new object); 'gitml fsck' lists the damaged objects")
    if quiet and (any(s.state != "ok" for s in items) or (stages and stages.stale)):
        click.get_current_context().exit(1)  # -q: scripts test it, as with 'dvc status -q'


def _print_status(items: list[Any], stages: Any, verbose: bool,
                  moved: list[dict[str, Any]]) -> None:
    if stages and stages.stale:
        click.echo("\n".join(["Stale stages (gitml repro runs them):", *stages.lines(), ""]))
    for m in moved:
        if m["state"] == "import moved":
            click.echo(f"Import {m['path']}: its source moved ({m['rev'] or 'default branch'} "
                       f"{m['commit'][:7]} -> {m['now'][:7]} at {m['url']}); "
                       f"run 'gitml update {m['path']}'")
        else:
            click.echo(f"warning: import {m['path']}: {m['error']}", err=True)
    if not items:
        click.echo("No tracked data. Track some with: gitml add PATH")
        return
    changed = [s for s in items if s.state != "ok"]
    if not changed and not verbose:
        click.echo(f"Data up to date ({len(items)} tracked path{'s' * (len(items) != 1)}).")
        return
    rows = []
    for s in sorted(items if verbose else changed, key=lambda s: (_STATE_ORDER[s.state], s.path)):
        detail = ""
        if s.state == "corrupt":
            detail = "edited through a link: the stored copy is damaged"
        elif s.kind == "dir" and s.state == "modified":
            detail = f"+{s.added} ~{s.modified} -{s.deleted}"
        elif s.schema_changed:
            detail = "schema changed"
        if s.state != "not in store" and not s.in_store:
            detail = (detail + " (not in store)").strip()
        rows.append((s.state, s.path + ("/" if s.kind == "dir" else ""), detail))
    click.echo(table(("state", "path", "changes"), rows))


def _imports_moved(repo: Any, items: list[Any]) -> list[dict[str, Any]]:
    """Imports among ``items`` whose source moved (issue 18). Only pointers that mention
    an import are parsed again, and only then is the network asked."""
    hits = []
    for s in items:
        try:
            with open(repo.abspath(s.path) + ".gitml", "rb") as f:
                if b"import:" in f.read(1 << 20):
                    hits.append(repo.abspath(s.path))
        except OSError:
            continue
    if not hits:
        return []
    from gitml.imports.ops import moved

    return moved(repo, hits)


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Overwrite modified files that are not stored.")
@json_option
@quiet_option
def checkout(targets: tuple[str, ...], force: bool, as_json: bool, quiet: bool,
             verbose: bool) -> None:
    """Make tracked data match the pointers; only what differs is touched.

    Example: git switch other-branch && gitml checkout
    """
    from gitml.checkout import CheckoutIncomplete

    with _repo() as repo:
        try:
            result = repo.checkout(list(targets) or None, force=force)
            error = None
        except CheckoutIncomplete as e:
            result, error = e.result, e
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        for label, paths in (("added", result.created), ("modified", result.modified),
                             ("deleted", result.deleted)):
            if verbose:
                for p in paths:
                    click.echo(f"{label}: {p}")
            elif paths:
                click.echo(f"{label}: {plural(len(paths), 'file')}")
        for p in result.discarded:  # --force: say what it threw away
            click.echo(f"replaced {p}: its changes were not stored")
        for p in result.kept:
            click.echo(f"kept {p}: no pointer names it now, but it changed since gitml wrote "
                       "it (gitml checkout --force removes it)")
        if not (result.created or result.modified or result.deleted or result.kept or error):
            click.echo("Nothing to do: data matches the pointers.")
    if error:
        raise error


class _PathsAfterDashes(click.Command):
    """Arguments after ``--`` are paths, as with ``git diff A B -- PATHS``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta["gitml.paths"] = args[i + 1:]
            args = args[:i]
        return super().parse_args(ctx, args)


@click.command(cls=_PathsAfterDashes)
@click.argument("revs", nargs=-1)
@click.option("--targets", "-t", multiple=True, type=click.Path(),
              help="Only changes at or below this path (repeatable; or list paths after --).")
@report_options
@click.option("--md", is_flag=True, help="Print a Markdown table.")
def diff(revs: tuple[str, ...], targets: tuple[str, ...], as_json: bool, md: bool) -> None:
    """Tracked data that changed between revisions, every file inside directories.

    \b
    gitml diff                             HEAD against the workspace
    gitml diff main                        main against the workspace
    gitml diff main exp-3                  two revisions
    gitml diff main exp-3 -- data/images   only what changed below data/images
    """
    from gitml.cli.output import markdown
    from gitml.tracked import to_rel

    if len(revs) > 2:
        raise click.UsageError("give at most two revisions (paths go after --)")
    paths = [*targets, *click.get_current_context().meta.get("gitml.paths", [])]
    with _repo() as repo:
        rels = [to_rel(repo.root, p) for p in paths]
        changes = repo.diff(revs[0] if revs else None, revs[1] if len(revs) > 1 else None,
                            targets=rels or None)
    if as_json:
        emit_json([c.to_dict() for c in changes])
        return
    rows = [(c.kind, f"{c.old_path} -> {c.path}" if c.old_path else c.path, _short(c.old),
             _short(c.new), _size_change(c.old_size, c.new_size), c.note) for c in changes]
    headers = ("change", "path", "old", "new", "size", "note")
    if md:
        click.echo(markdown(headers, rows))
    elif not rows:
        click.echo("No tracked data changed.")
    else:
        click.echo(table(headers, rows))
        counts = {k: sum(c.kind == k for c in changes)
                  for k in ("added", "modified", "deleted", "renamed")}
        click.echo("\n" + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k != "renamed"))


def _short(oid: str | None) -> str:
    return oid[5:13] if oid else "-"


def _size_change(a: int | None, b: int | None) -> str:
    if a is None or b is None or a == b:
        return human_size(b if b is not None else a)
    return f"{human_size(a)} -> {human_size(b)}"


@click.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@report_options
def remove(targets: tuple[str, ...], as_json: bool, quiet: bool, verbose: bool) -> None:
    """Stop tracking paths: the pointer and .gitignore line go, the data stays.

    Example: gitml remove data/train.parquet   (alias: gitml rm)
    """
    with _repo() as repo:
        removed = repo.remove(list(targets))
    if as_json:
        emit_json({"removed": removed})
    elif not quiet:
        for r in removed:
            click.echo(f"removed: {r}.gitml (data kept at {r})")


@click.command()
@click.option("-n", "--dry-run", is_flag=True, help="Report what would be deleted.")
@click.option("-w", "--workspace-only", is_flag=True,
              help="Keep only what the work trees reference now (needs --force).")
@click.option("-f", "--force", is_flag=True, help="Confirm a narrowing or a shared store.")
@click.option("--remote", is_flag=False, flag_value="", default=None, metavar="[NAME]",
              help="Collect on a remote (default: the default remote) instead of the store.")
@json_option
@quiet_option
def gc(dry_run: bool, workspace_only: bool, force: bool, remote: str | None, as_json: bool,
       quiet: bool, verbose: bool) -> None:
    """Delete objects that no branch, tag, stash, worktree or workspace references.

    Example: gitml gc --dry-run;  gitml gc --remote storage --dry-run
    """
    if remote is not None:
        from gitml.cli.remote import run_remote_gc

        return run_remote_gc(remote or None, dry_run, workspace_only, force, as_json, quiet)
    with _repo() as repo:
        result = repo.gc(dry_run=dry_run, workspace_only=workspace_only, force=force)
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {plural(result.removed, 'object')}, "
                   f"{human_size(result.bytes_freed)}; kept {result.kept}")
    for m in result.missing_manifests:  # --force went on without them: say what it could not see
        click.echo(f"warning: {m}: its files were not kept", err=True)


@click.command()
@click.option("--repair", is_flag=True, help="Move corrupt objects aside and fetch them, and "
              "missing ones, from the default remote (verified).")
@json_option
@quiet_option
def fsck(repair: bool, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Re-hash every stored object and report corrupt or missing ones (exit 1).

    With --repair, exit 0 when every one was repaired from the default remote.

    \b
    gitml fsck --json
    gitml fsck --repair
    """
    if repair:
        return _repair(as_json, quiet)
    with _repo() as repo:
        result = repo.fsck()
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        for c in result.corrupt:
            click.echo(f"corrupt: {c['oid']} (content hashes to {c['actual']}) at {c['path']}")
        for m in result.missing:
            click.echo(f"missing: {m['oid']} for {m['path']}")
        click.echo(f"checked {result.checked} objects: "
                   + ("ok" if result.ok else
                      f"{len(result.corrupt)} corrupt, {len(result.missing)} missing"))
    if not result.ok:
        raise CheckFailed("fsck found problems")


def _repair(as_json: bool, quiet: bool) -> None:
    from gitml.heal import repair

    with _repo() as repo:
        r = repair(repo)
    if as_json:
        emit_json(r.to_dict())
    elif not quiet:
        healed = set(r.heal.healed)
        for c in r.corrupt:
            click.echo(f"corrupt: {c['oid']} at {c['path']}: "
                       + ("repaired" if c["oid"] in healed else "NOT repaired"))
        for m in r.missing:
            click.echo(f"missing: {m['oid']} for {m['path']}: "
                       + ("fetched" if m["oid"] in healed else "NOT fetched"))
        n = len(r.corrupt) + len(r.missing)
        click.echo(f"checked {r.checked} objects: " + (
            "ok" if not n else f"{len(healed)} of {n} repaired from remote {r.heal.remote}"
            if r.heal.remote else f"{n} problems, no default remote to repair them from"))
        if r.heal.quarantined:
            click.echo(f"bad copies moved to {os.path.dirname(r.heal.quarantined[0])}")
    if not r.ok:
        first = r.heal.failed[0]
        raise CheckFailed(f"{len(r.heal.failed)} object(s) could not be repaired: "
                          f"{first['oid']} ({first['why']})"
                          + (" and more" if len(r.heal.failed) > 1 else ""))


@click.command()
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--local", is_flag=True, help="Use .gitml/config.local.yaml (not committed).")
@click.option("--unset", is_flag=True, help="Remove KEY.")
@click.option("-l", "--list", "list_", is_flag=True, help="List every setting.")
@report_options
def config(key: str | None, value: str | None, local: bool, unset: bool, list_: bool,
           as_json: bool, quiet: bool, verbose: bool) -> None:
    """Get or set a setting.

    \b
    gitml config core.link hardlink     reflink | hardlink | symlink | copy (or a list)
    gitml config core.cache_dir /mnt/shared/gitml-cache
    gitml config --list
    """
    import gitml.hooks.settings  # noqa: F401 - registers hooks.* keys
    from gitml.remotes.config import is_secret_key  # registers remote.* keys

    with _repo() as repo:
        conf = repo.config
        if list_ or key is None:  # credentials are never printed
            items = [(k, "****" if is_secret_key(k) else v, f) for k, v, f in conf.items()]
            if as_json:
                emit_json([{"key": k, "value": v, "file": f} for k, v, f in items])
            elif not quiet:
                for k, v, f in items:
                    click.echo(f"{k}={v}" + ("  (local)" if f == "local" else ""))
            return
        if unset:
            if not conf.unset(key, local=local):
                raise click.UsageError(f"{key} is not set")
            return
        if value is None:
            _show_setting(conf, key, as_json, quiet)
            return
        conf.set(key, value, local=local)


def _show_setting(conf: Any, key: str, as_json: bool, quiet: bool = False) -> None:
    """One setting's value; an unset one prints its default and says so (on stderr)."""
    from gitml.config import default, known
    from gitml.errors import BadInputError
    from gitml.remotes.config import is_secret_key

    if not known(key):
        raise BadInputError(f"unknown config key {key!r} (see: gitml config --list)")
    v = conf.get(key)
    is_set = v is not None
    note = ""
    if not is_set:
        d = default(key)
        if d is None:
            raise CheckFailed(f"{key} is not set, and it has no default")
        v, how = d
        note = f"{key} is not set; gitml uses the default {v} ({how})"
    v = "****" if is_set and is_secret_key(key) else v
    if as_json:
        emit_json({"key": key, "value": v, "set": is_set})
        return
    if quiet:
        return
    click.echo(v)
    if note:
        click.echo(note, err=True)


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--rev", default=None, metavar="REV",
              help="The tracked paths at this revision (default: the workspace's).")
@json_option
@quiet_option
def du(targets: tuple[str, ...], rev: str | None, as_json: bool, quiet: bool,
       verbose: bool) -> None:
    """Show what tracked data weighs against what it takes in the store, per tracked path
    and for the store (big files share chunks between versions).

    Example: gitml du --rev v1.0 data/
    """
    from gitml.du import usage

    with _repo() as repo:
        u = usage(repo, list(targets) or None, rev)
    if as_json:
        emit_json(u.to_dict())
        return
    if quiet:
        return
    rows = [(p.path + ("/" if p.kind == "dir" else ""), human_size(p.size),
             human_size(p.stored), f"{p.chunked}" if p.chunked else "",
             f"{p.missing} not fetched" if p.missing else "") for p in u.paths]
    if rows:
        click.echo(table(("path", "size", "stored", "chunked", ""), rows, align="lrrrl"))
        click.echo(f"together: {human_size(sum(p.size for p in u.paths))} in "
                   f"{human_size(u.stored)} (chunks shared between files counted once)")
    click.echo(f"store: {u.store_files} files of {human_size(u.store_size)} (every version) "
               f"in {human_size(u.store_bytes)} ({u.store_objects} objects)")
