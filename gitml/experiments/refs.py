"""Where experiments live in Git, and how they are named.

* ``refs/heads/<name>`` — the experiment's branch: ``git log exp-3`` tells its story. A
  branch whose tip commit carries the ``Gitml-Experiment`` trailer is an experiment, so a
  clone (or ``git fetch``) knows every experiment it has the branch of: remote-tracking
  branches (``refs/remotes/origin/exp-3``) count too.
* ``refs/gitml/exps/<name>`` — the commit the run made: a local index, so an experiment
  branch someone committed more work on is still known; it does not travel.
* ``refs/gitml/queue/<name>`` — a queued run: a commit holding the workspace as it was
  when queued (on top of its base), with the overrides and options in its message.

Commit messages end with trailers: ``Gitml-Experiment: <name>``, ``Gitml-Override:
<key=value>`` per override, ``Gitml-Status: failed`` for a run kept with --keep-failed.
One ``git for-each-ref`` reads all of it, so nothing is scanned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gitml import gitio, yamlio
from gitml.errors import BadInputError, FormatError
from gitml.repo import Repo

HEADS = "refs/heads/"
REMOTES = "refs/remotes/"
EXPS = "refs/gitml/exps/"
QUEUE = "refs/gitml/queue/"
ZERO = "0" * 40
TRAILER = "Gitml-Experiment"
STATUS = "Gitml-Status"
FAILED_OUTPUT = "Gitml-Failed-Output"  # a Git-kept file a failed stage wrote
OVERRIDE = "Gitml-Override"
QUEUED = "Gitml-Queued"
_RESERVED = {"HEAD", "workspace"}
_GENERATED = re.compile(r"^exp-(\d+)$")


@dataclass
class Experiment:
    """One experiment: its branch tip (``commit``) and the commit its run made."""

    name: str
    exp_commit: str
    commit: str | None = None  # the branch tip; None when the branch was deleted
    tree: str = ""
    created: int = 0
    status: str = "done"  # done | failed | empty
    base: str = ""
    overrides: list[str] = field(default_factory=list)
    subject: str = ""
    remote: str | None = None  # a remote-tracking branch's remote (name is "origin/exp-3")
    indexed: bool = False  # has the local index entry refs/gitml/exps/<name>
    failed_outputs: list[str] = field(default_factory=list)  # not its metrics

    @property
    def branch(self) -> str:
        """The branch name, on its remote for a remote-tracking experiment."""
        return self.name[len(self.remote) + 1:] if self.remote else self.name

    @property
    def moved(self) -> bool:
        """The branch has commits beyond the experiment's own."""
        return self.commit is not None and self.commit != self.exp_commit


@dataclass
class Queued:
    name: str
    commit: str
    base: str
    created: int
    spec: dict[str, Any]


@dataclass
class Listing:
    experiments: list[Experiment]
    queued: list[Queued]
    branches: dict[str, tuple[str, str]]  # name -> (commit, tree)


def trailers(message: str) -> list[tuple[str, str]]:
    """(key, value) of the last paragraph's ``Key: value`` lines."""
    paras = message.strip().split("\n\n")
    out = []
    for line in paras[-1].splitlines() if paras else []:
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z0-9-]+", key):
            out.append((key, value.strip()))
    return out


def listing(repo: Repo) -> Listing:
    """Every experiment (local, or only on a remote-tracking branch), queued run and branch,
    from one ``git for-each-ref``."""
    rows = gitio.for_each_ref(repo.root, [EXPS, QUEUE, HEADS, REMOTES], [
        "%(refname)", "%(objectname)", "%(tree)", "%(committerdate:unix)", "%(parent)",
        "%(contents)"])
    branches: dict[str, tuple[str, str]] = {}
    exps: dict[str, Experiment] = {}
    queued: list[Queued] = []
    tips: list[tuple[str, list[str]]] = []  # branches and remote-tracking ones: trailers
    for row in rows:
        ref, sha, tree, date, parent, contents = row
        if ref.startswith(HEADS):
            branches[ref[len(HEADS):]] = (sha, tree)
            tips.append((ref, row))
        elif ref.startswith(REMOTES):
            tips.append((ref, row))
        elif ref.startswith(EXPS):
            e = from_commit(ref[len(EXPS):], sha, tree, date, parent, contents)
            e.indexed = True
            exps[e.name] = e
        elif ref.startswith(QUEUE):
            tr = trailers(contents)
            raw = next((v for k, v in tr if k == QUEUED), "{}")
            try:
                spec = yamlio.loads(raw, f"queued experiment {ref[len(QUEUE):]}", "record",
                                    "json")
            except FormatError:
                spec = {}
            queued.append(Queued(ref[len(QUEUE):], sha, parent.split(" ")[0], int(date or 0),
                                 spec if isinstance(spec, dict) else {}))
    for e in exps.values():
        tip = branches.get(e.name)
        if tip is not None:
            e.commit, e.tree = tip
    local = {e.commit for e in exps.values()}
    for ref, (_, sha, tree, date, parent, contents) in tips:
        if f"\n{TRAILER}: " not in contents and not contents.startswith(f"{TRAILER}: "):
            continue  # cheap test first: most branches are not experiments
        if ref.startswith(HEADS):
            name, remote = ref[len(HEADS):], None
        else:
            remote, _, branch = ref[len(REMOTES):].partition("/")
            if not branch or branch == "HEAD":
                continue
            name = f"{remote}/{branch}"
            if branches.get(branch, ("",))[0] == sha or sha in local:
                continue  # the same experiment as a local branch: shown once
        if name in exps or not is_experiment(contents):
            continue
        e = from_commit(name, sha, tree, date, parent, contents)
        e.commit, e.remote = sha, remote
        exps[name] = e
        local.add(sha)
    ordered = sorted(exps.values(), key=lambda e: (e.created, _natural(e.branch), _natural(e.name)))
    queued.sort(key=lambda q: (q.spec.get("seq", 0), q.created, _natural(q.name)))
    return Listing(ordered, queued, branches)


def find(listing: Listing, name: str) -> Experiment | None:
    """The experiment ``name`` names: a local one, ``origin/exp-3``, or ``exp-3`` when only
    one remote-tracking branch of that name is an experiment."""
    hits = [e for e in listing.experiments if e.name == name]
    if not hits:
        hits = [e for e in listing.experiments if e.remote and e.branch == name]
        if len(hits) > 1:
            raise BadInputError(f"{name!r} is an experiment on several remotes: "
                                + ", ".join(e.name for e in hits))
    return hits[0] if hits else None


def is_experiment(message: str) -> bool:
    """The commit message ends with a ``Gitml-Experiment`` trailer."""
    return any(k == TRAILER for k, _ in trailers(message))


def from_commit(name: str, sha: str, tree: str, date: str, parent: str, message: str
                ) -> Experiment:
    """The experiment a run's commit records (``commit`` is left for the caller)."""
    tr = trailers(message)
    return Experiment(name, sha, None, tree, int(date or 0),
                      next((v for k, v in tr if k == STATUS), "done"), parent.split(" ")[0],
                      [v for k, v in tr if k == OVERRIDE], message.split("\n", 1)[0],
                      failed_outputs=[v for k, v in tr if k == FAILED_OUTPUT])


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# -- names ------------------------------------------------------------------------------------

def check_name(repo: Repo, name: str, taken: Listing | None = None) -> None:
    """A valid branch name that no branch, experiment or queued run uses."""
    if not name or name.startswith("-") or name in _RESERVED:
        raise BadInputError(f"{name!r} cannot name an experiment")
    out = gitio.run(repo.root, "check-ref-format", "--branch", name, check=False)
    if out.decode().strip() != name:
        raise BadInputError(f"{name!r} is not a valid branch name")
    taken = taken or listing(repo)
    if name in taken.branches:
        is_exp = any(e.name == name for e in taken.experiments)
        hint = f", or 'gitml exp remove {name}'" if is_exp else ""
        raise BadInputError(f"branch {name!r} already exists (choose another -n{hint})")
    if any(q.name == name for q in taken.queued):
        raise BadInputError(f"{name!r} is already queued")
    for other in [*taken.branches, *(q.name for q in taken.queued)]:
        if other.startswith(name + "/") or name.startswith(other + "/"):
            raise BadInputError(f"{name!r} clashes with the branch {other!r}")


def generated_names(taken: Listing, count: int, stem: str | None = None,
                    busy: set[str] | None = None) -> list[str]:
    """``count`` free readable names: ``exp-<n>`` counting up (or ``<stem>-<n>``)."""
    used = set(taken.branches) | {e.branch for e in taken.experiments} \
        | {q.name for q in taken.queued} | (busy or set())  # a teammate's exp-4 too
    pattern = re.compile(rf"^{re.escape(stem or 'exp')}-(\d+)$")
    n = max((int(m.group(1)) for u in used if (m := pattern.match(u))), default=0)
    out = []
    while len(out) < count:
        n += 1
        cand = f"{stem or 'exp'}-{n}"
        if cand not in used:
            out.append(cand)
    return out


# -- writing refs -----------------------------------------------------------------------------

def update(repo: Repo, lines: list[str]) -> None:
    """Apply ``git update-ref --stdin`` commands as one transaction (all or nothing)."""
    gitio.run(repo.root, "update-ref", "--stdin", input="".join(x + "\n" for x in lines).encode())


def commit_tree(repo: Repo, tree: str, parent: str, message: str) -> str:
    return gitio.run(repo.root, "commit-tree", tree, "-p", parent, "-F", "-",
                     input=message.encode()).decode().strip()
