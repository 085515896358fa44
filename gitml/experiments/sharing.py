"""Experiments between clones: ``exp show --remote``, ``exp push``, ``exp pull``.

Git moves the branches; the data remote moves what their pointers name and the run-cache
entries their ``gitml.lock`` records. Order: a push sends data first and the branches
after, so a teammate who sees a branch finds its data; a pull fetches the commits into
remote-tracking branches, then the data, then makes the local branches (one ref
transaction). A remote's experiments are found from its branches' tip commits (the
``Gitml-Experiment`` trailer): ``git ls-remote`` lists them and only tips that are not
here yet are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import gitio
from gitml.errors import BadInputError, GitError, GitmlError
from gitml.experiments import refs
from gitml.progress import notice
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.remotes.runs import RunsResult
    from gitml.remotes.transfer import TransferResult


@dataclass
class ShareResult:
    """What ``exp push`` / ``exp pull`` did."""

    action: str
    remote: str
    names: list[str] = field(default_factory=list)  # experiments moved (refs made or sent)
    unchanged: list[str] = field(default_factory=list)  # already the same on both sides
    data: TransferResult | None = None
    runs: RunsResult | None = None
    data_remote: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "remote": self.remote, "experiments": self.names,
                "unchanged": self.unchanged, "data_remote": self.data_remote,
                "data": self.data.to_dict() if self.data else None,
                "run_cache": self.runs.to_dict() if self.runs else None}


def check_remote(repo: Repo, remote: str) -> str:
    """``remote`` must be a Git remote of this repository (``git remote -v``)."""
    if not remote or remote.startswith("-") or not gitio.is_remote(repo.root, remote):
        raise BadInputError(f"{remote!r} is not a Git remote of this repository "
                            "(see 'git remote -v'; add one with 'git remote add NAME URL')")
    return remote


def _commit_info(repo: Repo, shas: list[str]) -> dict[str, tuple[str, str, str, str]]:
    """{sha: (tree, committer date, parents, message)} of commits in the object store."""
    out = {}
    with gitio.BatchReader(repo.root) as reader:
        for sha in dict.fromkeys(shas):
            obj = reader.read_object(sha)
            if obj is None or obj[1] != "commit" or obj[2] is None:
                continue
            head, _, message = obj[2].decode(errors="replace").partition("\n\n")
            tree, parents, date = "", [], "0"
            for line in head.splitlines():
                key, _, value = line.partition(" ")
                if key == "tree":
                    tree = value
                elif key == "parent":
                    parents.append(value)
                elif key == "committer":
                    date = value.rsplit(" ", 2)[-2] if value.count(" ") >= 2 else "0"
            out[sha] = (tree, date, " ".join(parents), message)
    return out


def _remote_tips(repo: Repo, remote: str) -> dict[str, str]:
    """{branch: sha} of the remote's branches, with every tip present here: the tips this
    repository lacks are fetched into ``refs/remotes/REMOTE/`` (those refs only)."""
    tips = {ref[len(refs.HEADS):]: sha
            for sha, ref in gitio.ls_remote(repo.root, remote, [refs.HEADS + "*"])
            if ref.startswith(refs.HEADS)}
    have = gitio.object_sizes(repo.root, tips.values())
    gitio.fetch_refs(repo.root, remote, [f"+{refs.HEADS}{b}:{refs.REMOTES}{remote}/{b}"
                                         for b, sha in sorted(tips.items()) if sha not in have])
    return tips


def _classify(repo: Repo, tips: dict[str, str]) -> dict[str, refs.Experiment]:
    """The experiments among branch tips, by their commit's trailers."""
    info = _commit_info(repo, list(tips.values()))
    out = {}
    for branch, sha in tips.items():
        c = info.get(sha)
        if c is not None and refs.is_experiment(c[3]):
            e = refs.from_commit(branch, sha, c[0], c[1], c[2], c[3])
            e.commit = sha
            out[branch] = e
    return out


def remote_experiments(repo: Repo, remote: str) -> list[refs.Experiment]:
    """The experiments on a Git remote's branches, named as there (``exp show --remote``)."""
    check_remote(repo, remote)
    exps = _classify(repo, _remote_tips(repo, remote))
    return sorted(exps.values(), key=lambda e: (e.created, refs._natural(e.name)))


def lock_keys(repo: Repo, commits: list[str]) -> list[str]:
    """The run-cache keys of the runs each commit's ``gitml.lock`` records."""
    from gitml.pipeline import lockfile
    from gitml.pipeline.runcache import lock_key

    keys: list[str] = []
    with gitio.BatchReader(repo.root) as reader:
        for sha in dict.fromkeys(commits):
            data = reader.read(f"{sha}:{lockfile.LOCK_FILE}")
            if data is None:
                continue
            try:
                entries = lockfile.loads(data, f"{sha[:7]}:{lockfile.LOCK_FILE}")
            except GitmlError:
                continue  # a lock this gitml cannot read names no entry it could use
            keys += [lock_key(e) for e in entries.values()]
    return list(dict.fromkeys(keys))


def _data_remote(repo: Repo, name: str | None) -> str | None:
    from gitml.remotes import config as rconfig

    if name is not None:
        rconfig.spec(repo, name)  # an unknown name is an error
        return name
    return rconfig.default_remote(repo)


# -- push ---------------------------------------------------------------------------------
def push(repo: Repo, remote: str, names: list[str] | None = None, *, all_: bool = False,
         data_remote: str | None = None, force: bool = False,
         jobs: int | None = None) -> ShareResult:
    """Send experiments' data and run-cache entries to the data remote, then their
    branches to the Git remote ``remote``."""
    from gitml.remotes.base import TransferIncomplete

    check_remote(repo, remote)
    chosen = _choose_local(repo, names, all_)
    result = ShareResult("push", remote, [e.name for e in chosen])
    result.data_remote = _data_remote(repo, data_remote)
    commits = [e.commit for e in chosen if e.commit]
    if result.data_remote is not None:
        # data first: a teammate who sees the branch finds its data; an incomplete push
        # (objects missing or corrupt here) stops before any branch is sent
        try:
            result.data, result.runs = push_data(repo, commits, result.data_remote, jobs)
        except TransferIncomplete as e:
            raise TransferIncomplete(f"{e}; no branch was pushed to {remote}", e.result
                                     ) from None
    there = {ref[len(refs.HEADS):]: sha for sha, ref in gitio.ls_remote(
        repo.root, remote, [refs.HEADS + e.name for e in chosen])}
    todo = [e for e in chosen if there.get(e.name) != e.commit]
    result.unchanged = [e.name for e in chosen if e not in todo]
    try:
        gitio.push_refs(repo.root, remote, [f"{'+' if force else ''}{refs.HEADS}{e.name}:"
                                            f"{refs.HEADS}{e.name}" for e in todo])
    except GitError as err:
        clash = [e.name for e in todo if e.name in there]
        hint = (f"{remote} has another {clash[0]}: 'gitml exp pull {remote} {clash[0]}' "
                "to look at it, or --force to replace it" if clash else str(err))
        raise GitmlError(f"pushing to {remote} failed: {hint}") from None
    result.names = [e.name for e in todo]
    return result


def push_data(repo: Repo, commits: list[str], data_remote: str, jobs: int | None = None
              ) -> tuple[TransferResult, RunsResult]:
    """The objects ``commits`` name, then the run-cache entries their ``gitml.lock`` records,
    to ``data_remote`` (what it has already is not sent). Raises ``TransferIncomplete``
    when some objects are missing or corrupt here."""
    from gitml.remotes import runs, transfer

    data = transfer.push(repo, revs=commits, remote=data_remote, jobs=jobs)
    return data, runs.push_runs(repo, lock_keys(repo, commits), data_remote, jobs)


def _choose_local(repo: Repo, names: list[str] | None, all_: bool) -> list[refs.Experiment]:
    if bool(names) == all_:
        raise BadInputError("name the experiments, or give --all")
    listing = refs.listing(repo)
    local = {e.name: e for e in listing.experiments if e.remote is None and e.commit}
    if all_:
        if not local:
            raise BadInputError("no experiments to push (run 'gitml exp run')")
        return list(local.values())
    out = []
    for n in dict.fromkeys(names or []):
        e = local.get(n)
        if e is None:
            other = refs.find(listing, n)
            if other is not None and other.remote:
                raise BadInputError(f"{n!r} is a branch of remote {other.remote}, not a local "
                                    "experiment")
            raise BadInputError(f"{n!r} is not an experiment (see gitml exp show)")
        out.append(e)
    return out


# -- pull ---------------------------------------------------------------------------------
def pull(repo: Repo, remote: str, names: list[str] | None = None, *, all_: bool = False,
         data_remote: str | None = None, force: bool = False,
         jobs: int | None = None) -> ShareResult:
    """Bring experiments from the Git remote ``remote``: their commits, their data and
    run-cache entries from the data remote, then the local branches (one transaction)."""
    from gitml.remotes import runs, transfer
    from gitml.remotes.base import TransferIncomplete

    check_remote(repo, remote)
    if bool(names) == all_:
        raise BadInputError("name the experiments, or give --all")
    if all_:
        exps = _classify(repo, _remote_tips(repo, remote))
        if not exps:
            raise BadInputError(f"{remote} has no experiments")
    else:
        wanted = list(dict.fromkeys(names or []))
        tips = {ref[len(refs.HEADS):]: sha for sha, ref in gitio.ls_remote(
            repo.root, remote, [refs.HEADS + n for n in wanted])}
        absent = [n for n in wanted if n not in tips]
        if absent:
            raise BadInputError(f"{remote} has no branch {absent[0]!r}"
                                + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""))
        have = gitio.object_sizes(repo.root, tips.values())
        gitio.fetch_refs(repo.root, remote, [f"+{refs.HEADS}{b}:{refs.REMOTES}{remote}/{b}"
                                             for b in wanted if tips[b] not in have])
        exps = _classify(repo, tips)
        plain = [n for n in wanted if n not in exps]
        if plain:
            raise BadInputError(f"{plain[0]!r} on {remote} is not an experiment (its commit "
                                "has no Gitml-Experiment trailer); fetch it with git")
    chosen = list(exps.values())
    lines, result = _ref_updates(repo, remote, chosen, force)
    result.data_remote = _data_remote(repo, data_remote)
    error: TransferIncomplete | None = None
    if result.data_remote is not None:
        commits = [e.exp_commit for e in chosen]
        try:
            result.data = transfer.fetch(repo, revs=commits, remote=result.data_remote,
                                         jobs=jobs)
        except TransferIncomplete as e:  # the branches are still worth having: made below
            error, result.data = e, e.result  # type: ignore[assignment]
        result.runs = runs.fetch_runs(repo, lock_keys(repo, commits), result.data_remote,
                                      jobs)
    if lines:
        refs.update(repo, lines)
    if error is not None:
        error.result = result
        raise error
    return result


def _ref_updates(repo: Repo, remote: str, chosen: list[refs.Experiment], force: bool
                 ) -> tuple[list[str], ShareResult]:
    """The ref transaction that makes the local branches (and index entries), checked
    before anything is fetched: a local branch that differs and is not behind needs
    ``force``; one checked out somewhere is never moved."""
    from gitml.experiments.manage import checked_out

    listing = refs.listing(repo)
    indexed = {e.name: e for e in listing.experiments if e.indexed}
    busy = checked_out(repo)
    result = ShareResult("pull", remote)
    lines: list[str] = []
    for e in chosen:
        sha = e.exp_commit
        mine = listing.branches.get(e.name, (None,))[0]
        if mine == sha:
            result.unchanged.append(e.name)
            continue
        if mine is not None:
            if not force and not gitio.is_ancestor(repo.root, mine, sha):
                raise BadInputError(f"your {e.name} differs from {remote}'s and is not behind "
                                    f"it; rename yours (git branch -m) or use --force to take "
                                    f"{remote}'s")
            if e.name in busy:
                raise BadInputError(f"{e.name!r} is checked out in {busy[e.name]}; switch to "
                                    "another branch first")
            lines.append(f"update {refs.HEADS}{e.name} {sha} {mine}")
        else:
            lines.append(f"create {refs.HEADS}{e.name} {sha}")
        old = indexed.get(e.name)
        lines.append(f"update {refs.EXPS}{e.name} {sha}" + (f" {old.exp_commit}" if old else ""))
        result.names.append(e.name)
    return lines, result


# -- data an experiment needs -------------------------------------------------------------
def ensure_data(repo: Repo, commit: str, label: str, paths: list[str]) -> None:
    """Fetch from the default remote what the tracked ``paths`` (repository paths) need at
    ``commit`` and the store lacks, saying so in one line; nothing without a remote."""
    from gitml.remotes import select, transfer
    from gitml.remotes.base import TransferIncomplete

    if not paths or transfer.default_remote(repo) is None:
        return
    sel = select.select(repo, [repo.abspath(p) for p in paths], [commit])
    store = repo.store
    lacking = any(not store.has(i.ptr.oid) for i in sel.items)
    if not lacking:
        from gitml import manifest

        for i in sel.items:
            if i.ptr.is_dir:
                try:
                    files = manifest.loads(store.read_bytes(i.ptr.oid, what=i.rel), i.rel)
                except GitmlError:
                    lacking = True
                    break
                if not all(store.has(f.oid) for f in files):
                    lacking = True
                    break
    if not lacking:
        return
    try:
        r = transfer.fetch_selection(repo, sel)
    except TransferIncomplete as e:
        r = e.result  # type: ignore[assignment]
        notice(f"fetched {r.transferred} object{'s' * (r.transferred != 1)} of {label} "
               f"from {r.remote}; {len(r.missing) + len(r.corrupt)} could not be had")
        return  # checkout names what is still missing
    notice(f"fetched {r.transferred} object{'s' * (r.transferred != 1)} of {label} "
           f"from {r.remote}")
