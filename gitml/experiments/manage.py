"""``gitml exp apply / diff / remove / clean``."""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from gitml import gitio, pointer
from gitml.errors import BadInputError, GitmlError
from gitml.experiments import refs
from gitml.experiments.worktrees import recover, running
from gitml.fsutil import SafeDirs, atomic_write, check_relpath
from gitml.repo import Repo


def _experiment(listing: refs.Listing, name: str) -> refs.Experiment:
    e = refs.find(listing, name)
    if e is None or e.commit is None:
        if any(q.name == name for q in listing.queued):
            raise BadInputError(f"{name!r} is queued, not run yet (gitml exp run --run-all)")
        raise BadInputError(f"{name!r} is not an experiment (see gitml exp show)")
    return e


# -- apply ------------------------------------------------------------------------------------

@dataclass
class ApplyResult:
    name: str
    commit: str
    files: list[str] = field(default_factory=list)  # Git files written or deleted
    data: list[str] = field(default_factory=list)  # tracked data checked out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "commit": self.commit, "files": self.files,
                "data": self.data}


def apply(repo: Repo | None, name: str, *, force: bool = False) -> ApplyResult:
    """Bring an experiment's changes (params, metrics, lock, pointers, code) into the
    workspace, uncommitted, and check its outputs out of the store. HEAD and the index
    stay as they are. Refuses to overwrite uncommitted edits unless ``force``."""
    repo = repo or Repo()
    e = _experiment(refs.listing(repo), name)
    commit = e.commit or e.exp_commit
    base = gitio.run(repo.root, "merge-base", "HEAD", commit, check=False).decode().strip() \
        or e.base
    raw = gitio.run(repo.root, "diff", "--raw", "-z", "--no-abbrev", "--no-renames",
                    "--no-ext-diff", base, commit)
    parts = raw.decode(errors="surrogateescape").split("\0")
    changes: list[tuple[str, str, str, str]] = []  # (status, mode, sha, path)
    for i in range(0, len(parts) - 1, 2):
        meta = parts[i].split()
        if len(meta) >= 5:
            path = parts[i + 1]
            check_relpath(path, source=f"{name}:{path}")
            changes.append((meta[4][0], meta[1], meta[3], path))
    paths = [c[3] for c in changes]
    result = ApplyResult(name, commit)
    if not paths:
        return result
    if not force:
        _check_clean(repo, paths)
    ptrs = [p for _s, _m, _sha, p in changes if p.endswith(pointer.SUFFIX)]
    if not force and ptrs:
        _check_data(repo, ptrs)
    safe = SafeDirs(repo.root)  # the experiment may be a teammate's: no write through links
    for _status, _mode, _sha, path in changes:
        safe.check(os.path.dirname(repo.abspath(path)))
    with gitio.BatchReader(repo.root) as reader:
        for status, mode, sha, path in changes:
            full = repo.abspath(path)
            if status == "D":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(full)
                result.files.append(path)
                continue
            data = reader.read(sha)
            if data is None:
                raise GitmlError(f"cannot read {path} at {name}")
            safe.make(os.path.dirname(full))
            if mode == "120000":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(full)
                os.symlink(data.decode(errors="surrogateescape"), full)
            else:
                atomic_write(full, data, durable=False,
                             mode=0o755 if mode == "100755" else 0o644)
            result.files.append(path)
    live = [p for p in ptrs if os.path.exists(repo.abspath(p))]
    if live:
        from gitml.experiments.sharing import ensure_data

        ensure_data(repo, commit, e.name, [p[:-len(pointer.SUFFIX)] for p in live])
        targets = [repo.abspath(p[:-len(pointer.SUFFIX)]) for p in live]
        repo.checkout(targets, force=force)
        result.data = [p[:-len(pointer.SUFFIX)] for p in live]
    return result


def _check_clean(repo: Repo, paths: list[str]) -> None:
    out = gitio.run(repo.root, "status", "--porcelain", "-z", "--untracked-files=all",
                    "--", *[":(literal)" + p for p in paths])
    dirty = [rec[3:] for rec in out.decode(errors="surrogateescape").split("\0")
             if len(rec) > 3 and rec[2] == " "]
    if dirty:
        more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
        raise BadInputError(f"uncommitted changes to {', '.join(dirty[:5])}{more} would be "
                            "overwritten; commit them first, or use --force")


def _check_data(repo: Repo, ptrs: list[str]) -> None:
    have = [repo.abspath(p[:-len(pointer.SUFFIX)]) for p in ptrs
            if os.path.exists(repo.abspath(p))]
    if not have:
        return
    modified = [s.path for s in repo.status(have) if s.state == "modified"]
    if modified:
        raise BadInputError(f"{', '.join(modified[:5])} changed since it was added and is "
                            "not stored; 'gitml add' it first, or use --force")


# -- remove -----------------------------------------------------------------------------------

_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> int:
    """``30d``, ``12h``, ``2w`` ... as seconds."""
    m = _AGE.match(text.strip().lower())
    if not m:
        raise BadInputError(f"--older-than {text!r}: expected a number and a unit "
                            "(s, m, h, d or w), e.g. 30d")
    return int(m.group(1)) * _UNIT[m.group(2)]


def remove(repo: Repo | None, names: list[str], *, failed: bool = False,
           older_than: int | None = None, queued: bool = False,
           all_: bool = False, force: bool = False) -> list[str]:
    """Delete experiments (their branch and index entry) and queued runs; returns names.

    ``failed``: every failed one; ``older_than`` (seconds): every one created before that;
    ``queued``: every queued run; ``all_``: every experiment. A branch that has commits
    beyond the experiment's is kept unless ``force``.
    """
    repo = repo or Repo()
    listing = refs.listing(repo)
    by_name = {e.name: e for e in listing.experiments if e.remote is None}
    theirs = {e.name: e for e in listing.experiments if e.remote is not None}
    queue = {q.name: q for q in listing.queued}
    chosen: dict[str, refs.Experiment] = {}
    drop_queue: list[refs.Queued] = []
    for n in names:
        if n in queue:
            drop_queue.append(queue[n])
        elif n in by_name:
            chosen[n] = by_name[n]
        elif n in theirs:
            e = theirs[n]
            raise BadInputError(f"{n} is a branch of remote {e.remote}: delete it there with "
                                f"'git push {e.remote} --delete {e.branch}'")
        else:
            raise BadInputError(f"{n!r} is not an experiment (see gitml exp show)")
    now = time.time()
    for e in by_name.values():
        if (all_ or (failed and e.status == "failed")
                or (older_than is not None and e.created and now - e.created > older_than)):
            chosen.setdefault(e.name, e)
    if queued:
        drop_queue += [q for q in listing.queued if q not in drop_queue]
    if not names and not (failed or older_than is not None or queued or all_):
        raise BadInputError("name the experiments to remove, or use --failed, "
                            "--older-than, --queued or --all")
    lines = []
    for e in chosen.values():
        if e.commit is not None:
            if e.moved and not force:
                raise BadInputError(f"branch {e.name!r} has commits beyond the experiment; "
                                    "delete it with git, or use --force")
            lines.append(f"delete {refs.HEADS}{e.name} {e.commit}")
        if e.indexed:
            lines.append(f"delete {refs.EXPS}{e.name} {e.exp_commit}")
    lines += [f"delete {refs.QUEUE}{q.name} {q.commit}" for q in drop_queue]
    busy = checked_out(repo)
    for e in chosen.values():
        if e.name in busy:
            raise BadInputError(f"{e.name!r} is checked out in {busy[e.name]}; "
                                "switch to another branch first")
    if lines:
        refs.update(repo, lines)
    return sorted([*chosen, *(q.name for q in drop_queue)])


def checked_out(repo: Repo) -> dict[str, str]:
    out = gitio.run(repo.root, "worktree", "list", "--porcelain", "-z").decode()
    found: dict[str, str] = {}
    path = ""
    for rec in out.split("\0"):
        if rec.startswith("worktree "):
            path = rec[len("worktree "):]
        elif rec.startswith("branch refs/heads/"):
            found[rec[len("branch refs/heads/"):]] = path
    return found


# -- clean ------------------------------------------------------------------------------------

@dataclass
class CleanResult:
    worktrees: list[str] = field(default_factory=list)  # left by killed runs, removed
    stale: list[str] = field(default_factory=list)  # index entries whose branch is gone
    running: list[str] = field(default_factory=list)  # live runs, left alone

    def to_dict(self) -> dict[str, Any]:
        return {"worktrees": self.worktrees, "stale": self.stale, "running": self.running}


def clean(repo: Repo | None = None) -> CleanResult:
    """Remove what interrupted runs left: worktrees whose process died, Git's records of
    them, and experiment index entries whose branch was deleted with git."""
    repo = repo or Repo()
    result = CleanResult(worktrees=recover(repo))
    gitio.run(repo.root, "worktree", "prune", check=False)
    result.running = running(repo)
    listing = refs.listing(repo)
    stale = [e for e in listing.experiments if e.commit is None]
    if stale:
        refs.update(repo, [f"delete {refs.EXPS}{e.name} {e.exp_commit}" for e in stale])
    result.stale = [e.name for e in stale]
    return result
