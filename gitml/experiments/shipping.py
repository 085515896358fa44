"""The client's half of running experiments elsewhere: ship queued runs to the remotes
before they are submitted, and bring finished ones home after.

A worker shares nothing with this clone but the Git remote and the data remote, so
:func:`ship` first sends the objects the queued commits name (inputs, last outputs) and the
run-cache entries of their ``gitml.lock`` to the data remote, then pushes each queued
commit to the Git remote as its ticket ``refs/gitml/queue/<name>``. It returns one spec
per run: everything a worker needs (:func:`gitml.experiments.worker.run`), no credential.
:func:`adopt` fetches finished branches and makes them local experiments in one ref
transaction that also drops their queue entries, as a local run does.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.errors import BadInputError, GitError, GitmlError
from gitml.experiments import refs

if TYPE_CHECKING:
    from gitml.experiments.refs import Queued
    from gitml.repo import Repo

_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", re.IGNORECASE)


def git_remote(repo: Repo) -> tuple[str, str]:
    """(name, URL) of the Git remote workers use: ``exp.remote``, default ``origin``."""
    name = str(repo.config.get("exp.remote") or "origin")
    if not gitio.is_remote(repo.root, name):
        raise BadInputError(f"experiments run elsewhere go through a Git remote, and this "
                            f"repository has no remote {name!r} (git remote add {name} URL, "
                            "or gitml config exp.remote NAME)")
    url = gitio.run(repo.root, "remote", "get-url", "--", name).decode().strip()
    if _CREDENTIALS.match(url):
        raise BadInputError(f"the URL of Git remote {name!r} holds a password, which would "
                            "travel to every worker: give the workers a credential helper "
                            "or an SSH key instead")
    if "://" not in url and not re.match(r"^[^/]+@[^/:]+:", url):  # a path on this machine
        url = os.path.normpath(os.path.join(repo.root, url))
    return name, url


def data_remote(repo: Repo, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """(name, settings without credentials) of the data remote workers use."""
    from gitml.remotes import config as rconfig

    rs = rconfig.spec(repo, name)
    settings = {k: v for k, v in rs.options.items() if k not in rconfig.SECRETS}
    if not rs.is_s3:  # a directory remote: the same path on every node (a shared mount)
        settings["url"] = rconfig.directory_of(repo, rs.url)
    return rs.name, settings


def identity(repo: Repo) -> dict[str, str]:
    """The name and email Git uses here: the experiment's commit is made with them."""
    out = {}
    for key, var in (("name", "GIT_COMMITTER_IDENT"), ("email", "GIT_COMMITTER_IDENT")):
        ident = gitio.run(repo.root, "var", var).decode().strip()
        who, _, rest = ident.partition(" <")
        out[key] = who if key == "name" else rest.partition(">")[0]
    return out


def ship(repo: Repo, queued: list[Queued], *, data_remote_name: str | None = None,
         say: Any = None) -> list[dict[str, Any]]:
    """Send what the runs need to the remotes (data first, then the tickets); one spec per
    run. Nothing is submitted when a transfer fails."""
    from gitml.experiments.sharing import push_data
    from gitml.remotes.base import RemoteError, TransferIncomplete

    gname, url = git_remote(repo)
    dname, settings = data_remote(repo, data_remote_name)
    commits = [q.commit for q in queued]
    try:
        data, runs = push_data(repo, commits, dname)
    except TransferIncomplete as e:
        raise TransferIncomplete(f"{e}; nothing was submitted", e.result) from None
    except RemoteError as e:
        raise RemoteError(f"{e}; nothing was submitted") from None
    try:
        gitio.push_refs(repo.root, gname, [f"{refs.QUEUE}{q.name}:{refs.QUEUE}{q.name}"
                                           for q in queued])
    except GitError as e:
        there = dict((ref, sha) for sha, ref in gitio.ls_remote(
            repo.root, gname, [refs.QUEUE + q.name for q in queued]))
        clash = [q.name for q in queued if there.get(refs.QUEUE + q.name, q.commit) != q.commit]
        if clash:
            raise GitmlError(f"{gname} already has another queued run named {clash[0]} "
                             "(from another clone, or left by a run that lost the Git remote): "
                             f"rename yours, or remove it there (git push {gname} "
                             f":{refs.QUEUE}{clash[0]})") from None
        raise GitmlError(f"cannot push the queued runs to {gname}: {e}") from None
    if say is not None:
        say(f"Shipped {len(queued)} queued run{'s' * (len(queued) != 1)} to {gname} and "
            f"{dname} (data: {data.transferred} object{'s' * (data.transferred != 1)} sent, "
            f"{data.present} already there; run cache: {runs.transferred} sent)")
    ident = identity(repo)
    return [{"name": q.name, "queued": q.commit, "base": q.base, "git_url": url,
             "git_remote": gname, "overrides": list(_overrides(q)), "identity": ident,
             "data_remote": {"name": dname, "settings": settings}} for q in queued]


def _overrides(q: Queued) -> list[str]:
    from gitml.experiments.overrides import Override

    return [str(Override.from_dict(d)) for d in q.spec.get("overrides", [])]


def adopt(repo: Repo, specs: dict[str, dict[str, Any]], results: dict[str, dict[str, Any]],
          over: list[str] | None = None) -> None:
    """Make finished runs local: fetch the branches workers pushed, then one ref transaction
    creates them (and their ``refs/gitml/exps`` entries) and drops their queue entries; a
    run that failed without a branch only leaves the queue, as a local one does. Then the
    tickets left on the Git remote by these runs and the ``over`` ones (cancelled: they stay
    queued here) are deleted."""
    from gitml.experiments.worker import cleanup_tickets

    if not results and not over:
        return
    listing = refs.listing(repo)
    queue = {q.name: q.commit for q in listing.queued}
    url = next(iter(specs.values()))["git_url"]
    branches = {n: r["commit"] for n, r in results.items() if r.get("commit")}
    if branches:
        gitio.fetch_refs(repo.root, url, [f"+{refs.HEADS}{n}" for n in branches])
    lines = []
    for n in results:
        sha = branches.get(n)
        if sha and n not in listing.branches:
            lines += [f"create {refs.HEADS}{n} {sha}", f"update {refs.EXPS}{n} {sha}"]
        if n in queue and queue[n] == specs[n]["queued"]:
            lines.append(f"delete {refs.QUEUE}{n} {queue[n]}")
    clash = [n for n in branches if n in listing.branches and listing.branches[n][0] !=
             branches[n]]
    if lines:
        refs.update(repo, lines)
    cleanup_tickets(repo.root, url, {n: specs[n]["queued"] for n in [*results, *(over or [])]})
    if clash:
        raise GitmlError(f"branch {clash[0]!r} appeared here while it ran elsewhere; its "
                         f"result is commit {branches[clash[0]]}: git branch <name> "
                         f"{branches[clash[0]][:12]}")
