"""Where experiments live in Git, and how they are named.

* ``refs/heads/<name>`` — the experiment's branch: ``git log exp-3`` tells its story.
* ``refs/gitml/exps/<name>`` — the commit the run made: the index ``exp show`` reads, in
  the same single ``git for-each-ref`` as the branches, so nothing is scanned.
* ``refs/gitml/queue/<name>`` — a queued run: a commit holding the workspace as it was
  when queued (on top of its base), with the overrides and options in its message.

Commit messages end with trailers: ``Gitml-Experiment: <name>``, ``Gitml-Override:
<key=value>`` per override, ``Gitml-Status: failed`` for a run kept with --keep-failed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gitml import gitio
from gitml.errors import BadInputError
from gitml.repo import Repo

HEADS = "refs/heads/"
EXPS = "refs/gitml/exps/"
QUEUE = "refs/gitml/queue/"
ZERO = "0" * 40
TRAILER = "Gitml-Experiment"
STATUS = "Gitml-Status"
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
    status: str = "done"  # done | failed
    base: str = ""
    overrides: list[str] = field(default_factory=list)
    subject: str = ""

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
    """Every experiment, queued run and branch, from one ``git for-each-ref``."""
    rows = gitio.for_each_ref(repo.root, [EXPS, QUEUE, HEADS], [
        "%(refname)", "%(objectname)", "%(tree)", "%(committerdate:unix)", "%(parent)",
        "%(contents)"])
    branches: dict[str, tuple[str, str]] = {}
    exps: list[Experiment] = []
    queued: list[Queued] = []
    for ref, sha, tree, date, parent, contents in rows:
        if ref.startswith(HEADS):
            branches[ref[len(HEADS):]] = (sha, tree)
            continue
        tr = trailers(contents)
        created = int(date or 0)
        if ref.startswith(EXPS):
            name = ref[len(EXPS):]
            status = next((v for k, v in tr if k == STATUS), "done")
            exps.append(Experiment(name, sha, None, tree, created, status,
                                   parent.split(" ")[0], [v for k, v in tr if k == OVERRIDE],
                                   contents.split("\n", 1)[0]))
        elif ref.startswith(QUEUE):
            name = ref[len(QUEUE):]
            raw = next((v for k, v in tr if k == QUEUED), "{}")
            try:
                spec = json.loads(raw)
            except ValueError:
                spec = {}
            queued.append(Queued(name, sha, parent.split(" ")[0], created,
                                 spec if isinstance(spec, dict) else {}))
    for e in exps:
        tip = branches.get(e.name)
        if tip is not None:
            e.commit, e.tree = tip
    exps.sort(key=lambda e: (e.created, _natural(e.name)))
    queued.sort(key=lambda q: (q.spec.get("seq", 0), q.created, _natural(q.name)))
    return Listing(exps, queued, branches)


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
    used = set(taken.branches) | {e.name for e in taken.experiments} \
        | {q.name for q in taken.queued} | (busy or set())
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
