"""``gitml model``: the model registry (versions and stages as Git tags)."""

from __future__ import annotations

from typing import Any

import click

from gitml.cli.output import emit_json, human_size, report_options, table


def _repo():  # type: ignore[no-untyped-def]
    from gitml.repo import Repo

    return Repo()


@click.group()
def model() -> None:
    """Register model versions, promote them to stages, get them back (Git tags).

    \b
    gitml model register churn --path models/model.pkl --version v1.0.0
    gitml model promote churn v1.0.0 --stage prod
    gitml model get churn@prod -o serving/model.pkl
    git push --tags            # the registry travels with the repository
    """


def _pushed(tag: str) -> str:
    return f"Share it with:  git push origin '{tag}'"


@model.command()
@click.argument("name")
@click.option("--path", "path", metavar="PATH", help="The tracked model file or directory "
              "(default: models.NAME.path in gitml.yaml).")
@click.option("--version", "version", metavar="vX.Y.Z", help="The version to register.")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]),
              help="Take the next version after the last one (default: patch).")
@click.option("--rev", metavar="REV", help="The commit to register (default: HEAD).")
@click.option("-m", "--message", help="Why: kept in the tag's message.")
@report_options
def register(name: str, path: str | None, version: str | None, bump: str | None,
             rev: str | None, message: str | None, as_json: bool) -> None:
    """Register a version of model NAME: an annotated tag NAME@vX.Y.Z at the commit.

    \b
    gitml model register churn --path models/model.pkl --version v1.0.0 -m "first"
    gitml model register churn --bump minor --rev exp-3
    """
    from gitml import registry

    with _repo() as repo:
        a = registry.register(repo, name, version=version, bump=bump, path=path, rev=rev,
                              message=message)
    if as_json:
        emit_json(a.to_dict())
        return
    click.echo(f"Registered {name} {a.version} at {a.commit[:7]} ({a.path}, tag {a.tag})")
    click.echo(_pushed(a.tag or ""))


@model.command()
@click.argument("name")
@click.argument("version")
@click.option("--stage", "-s", required=True, help="The stage, e.g. staging or prod.")
@click.option("-m", "--message", help="Why: kept in the tag's message.")
@report_options
def promote(name: str, version: str, stage: str, message: str | None, as_json: bool) -> None:
    """Put VERSION of model NAME in a stage: an annotated tag NAME#STAGE#N.

    Promoting an older version again is a rollback. Example:
    gitml model promote churn v1.0.0 --stage prod -m "A/B test won"
    """
    from gitml import registry

    with _repo() as repo:
        a = registry.promote(repo, name, version, stage, message)
    if as_json:
        emit_json(a.to_dict())
    elif not a.created:
        click.echo(f"{name} {a.version} is already in {stage}; nothing to do")
    else:
        click.echo(f"Promoted {name} {a.version} to {stage} (tag {a.tag})")
        click.echo(_pushed(a.tag or ""))


@model.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option("--stage", "-s", help="Only take VERSION (default: the holder) out of this stage.")
@click.option("-m", "--message", help="Why: kept in the tag's message.")
@report_options
def deprecate(name: str, version: str | None, stage: str | None, message: str | None,
              as_json: bool) -> None:
    """Deprecate a version, take a version out of a stage, or deprecate the whole model.

    \b
    gitml model deprecate churn v0.9.0              tag churn@v0.9.0!
    gitml model deprecate churn v1.0.0 --stage prod tag churn#prod!#N
    gitml model deprecate churn                     tag churn@deprecated#N
    """
    from gitml import registry

    with _repo() as repo:
        a = registry.deprecate(repo, name, version, stage, message)
    if as_json:
        emit_json(a.to_dict())
        return
    if a.stage:
        click.echo(f"Removed {name} {a.version} from {a.stage} (tag {a.tag})")
    elif a.version:
        click.echo(f"Deprecated {name} {a.version} (tag {a.tag})")
    else:
        click.echo(f"Deprecated model {name} (tag {a.tag})")
    click.echo(_pushed(a.tag or ""))


@model.command(name="list")
@click.option("-a", "--all", "show_all", is_flag=True, help="Include deprecated models.")
@report_options
def list_(show_all: bool, as_json: bool) -> None:
    """Every model: path, latest version, and the version in each stage.

    Example: gitml model list --json
    """
    from gitml import registry

    with _repo() as repo:
        everything = registry.models(repo)
        items = [i for i in everything if show_all or not i.deprecated]
        order = registry.declared_stages(repo) or ()
    if as_json:
        emit_json([i.to_dict() for i in items])
        return
    if not items:
        hidden = len(everything) - len(items)
        click.echo(f"No active models ({hidden} deprecated: see them with --all)." if hidden
                   else "No models yet. Register one with: "
                        "gitml model register NAME --path PATH --version v1.0.0")
        return
    stages = list(order) + sorted({s for i in items for s in i.stages} - set(order))
    rows = [(i.name + (" (deprecated)" if i.deprecated else ""), i.latest or "-",
             *[i.stages.get(s, "-") for s in stages], i.path or "-") for i in items]
    click.echo(table(("model", "latest", *stages, "path"), rows))


@model.command()
@click.argument("name")
@report_options
def show(name: str, as_json: bool) -> None:
    """A model's versions (with their commit's metrics, params and data hashes), stages,
    and its history: who did what, when, and why.

    Example: gitml model show churn
    """
    from gitml import registry

    with _repo() as repo:
        info = registry.show(name, repo)
    if as_json:
        emit_json(info)
        return
    _print_show(info)


def _print_show(info: dict[str, Any]) -> None:
    head = info["name"] + (" (deprecated)" if info["deprecated"] else "")
    facts = [x for x in (info.get("path"), info.get("type")) if x]
    click.echo(head + (f"  {'  '.join(facts)}" if facts else ""))
    if info.get("description"):
        click.echo(info["description"])
    stages = ", ".join(f"{s}: {v}" for s, v in info["stages"].items()) or "no stages"
    click.echo(f"latest: {info['latest'] or '-'}; {stages}\n")
    vers = info["versions"]
    if not vers:
        click.echo("No versions registered.")
        return
    rows = []
    for v in vers:
        when = (v["registered_at"] or "")[:16].replace("T", " ")
        state = ",".join(v["stages"]) if v["active"] else "deprecated"
        rows.append((v["version"], v["commit"][:7], when, v["registered_by"] or "-",
                     state or "-", (v["hash"] or "-")[5:13] or "-", human_size(v["size"]),
                     _one_line(v["message"])))
    click.echo(table(("version", "commit", "registered", "by", "stages", "hash", "size",
                      "message"), rows))
    _print_values(vers)
    data = [(v["version"], d["stage"], d["kind"], d["path"], _short_hash(d["hash"]))
            for v in vers for d in v["data"]]
    if data:
        click.echo("\nData (gitml.lock):")
        click.echo(table(("version", "stage", "kind", "path", "hash"), data))
    click.echo("\nHistory:")
    rows = [(e["when"][:19].replace("T", " "), e["who"], e["action"], e["version"] or "-",
             e["stage"] or "-", _one_line(e["message"])) for e in info["history"]]
    click.echo(table(("when", "who", "action", "version", "stage", "message"), rows))


def _print_values(vers: list[dict[str, Any]]) -> None:
    for kind in ("metrics", "params"):
        keys = sorted({k for v in vers for k in v[kind]})
        if not keys:
            continue
        click.echo(f"\n{kind.capitalize()}:")
        rows = [(v["version"], *[_fmt(v[kind].get(k)) for k in keys]) for v in vers]
        click.echo(table(("version", *keys), rows, "l" + "r" * len(keys)))


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _short_hash(h: str) -> str:
    return h.partition(":")[2][:8] if ":" in h else h[:8]


def _one_line(text: str | None) -> str:
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 60 else first[:57] + "..."


@model.command()
@click.argument("ref", metavar="NAME@STAGE|NAME@VERSION|NAME@latest")
@click.option("-o", "--out", "out", type=click.Path(), help="Where to write it "
              "(default: the model's file name, here).")
@click.option("-f", "--force", is_flag=True, help="Replace a different existing file.")
@click.option("--repo", "url", metavar="URL", help="Another repository's registry (any Git "
              "URL); its objects come from its own remote.")
@report_options
def get(ref: str, out: str | None, force: bool, url: str | None, as_json: bool) -> None:
    """Copy a model version out of the registry (from the store, or the default remote).

    \b
    gitml model get churn@prod -o serving/model.pkl
    gitml model get churn@v1.0.0
    gitml model get churn@latest
    gitml model get --repo https://git.example.com/org/models.git churn@prod
    """
    from gitml import registry

    if url is not None:
        from gitml.imports.download import lender
        from gitml.imports.source import Source

        src = Source(url, lend=lender())
        src.resolve(None)
        src.check_remote()
        r = registry.get(src, ref, out, force=force)
    else:
        with _repo() as repo:
            r = registry.get(repo, ref, out, force=force)
    if as_json:
        emit_json(r.to_dict())
        return
    verb = "wrote" if r.changed else "unchanged"
    click.echo(f"{verb}: {r.output} ({r.name} {r.version}, {r.path} at {r.commit[:7]})")
