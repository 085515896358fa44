"""post-checkout, post-merge, post-rewrite: tracked data follows the commit Git moved to.

One ``git diff --name-only OLD NEW -- '*.gitml'`` finds the pointers that changed; only
their data is checked out, so a switch between branches with the same data costs one
git call. A pointer that is gone in the new commit takes its data with it when that
data is exactly what the old pointer named and the store keeps a copy (as Git deletes
a tracked file); anything else is kept and reported.

These hooks cannot undo what Git did, so problems are reported and the exit code is 0
unless strict mode is on.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

from gitml import gitio
from gitml.errors import BadInputError, GitmlError, WorkspaceConflictError
from gitml.githooks import say, strict

if TYPE_CHECKING:
    from gitml.checkout import CheckoutResult
    from gitml.pointer import Pointer
    from gitml.repo import Repo

# Literal, not SUFFIX: a switch with no data changed must not import pointer.py
# (dataclasses, YAML) only to learn there is nothing to do.
SUFFIX = ".gitml"
PATHSPEC = "*" + SUFFIX


def _null(sha: str) -> bool:
    return not sha.strip("0")


def post_checkout(root: str, args: list[str], stdin: bytes, only: set[str],
                  options: dict[str, str]) -> int:
    if len(args) < 3:
        raise BadInputError("post-checkout expects three arguments: OLD NEW FLAG")
    old, new, flag = args[:3]
    if flag == "0" or old == new:  # a file checkout, or a new branch at the same commit
        return 0
    return follow(root, old, new, skip_in_rebase=True)


def post_merge(root: str, args: list[str], stdin: bytes, only: set[str],
               options: dict[str, str]) -> int:
    if args and args[0] == "1":  # a squash merge changes the index, not HEAD
        return follow(root, "HEAD", None)
    return follow(root, _orig_head(root), "HEAD")


def post_rewrite(root: str, args: list[str], stdin: bytes, only: set[str],
                 options: dict[str, str]) -> int:
    if not args or args[0] != "rebase":  # an amend leaves the work tree as it was
        return 0
    return follow(root, _orig_head(root), "HEAD")


def _orig_head(root: str) -> str:
    out = gitio.run(root, "rev-parse", "--verify", "--quiet", "ORIG_HEAD^{commit}", check=False)
    return out.decode().strip() or "0" * 40


def _rebasing(root: str) -> bool:
    """A rebase in progress: its post-rewrite hook syncs the data once, at the end."""
    dotgit = os.path.join(root, ".git")
    gitdir = dotgit
    if os.path.isfile(dotgit):
        with open(dotgit) as f:
            gitdir = os.path.join(root, f.read().strip().removeprefix("gitdir:").strip())
    return any(os.path.isdir(os.path.join(gitdir, d)) for d in ("rebase-merge", "rebase-apply"))


def follow(root: str, old: str, new: str | None, *, skip_in_rebase: bool = False) -> int:
    """Check out the data of pointers that differ between ``old`` and ``new`` (None: index)."""
    changed = None if _null(old) else gitio.diff_names(root, old, new, PATHSPEC)
    if changed == []:
        return 0
    if skip_in_rebase and _rebasing(root):
        return 0
    from gitml.repo import Repo

    with Repo(root) as repo:
        present = [p for p in changed or [] if os.path.isfile(repo.abspath(p))]
        gone = [p for p in changed or [] if p not in present]
        targets = None if changed is None else [p[: -len(SUFFIX)] for p in present]
        problems = 0
        if targets is None or targets:
            problems += _checkout(repo, targets)
        if gone:
            problems += _drop(repo, old, gone)
    return 1 if problems and strict(root) else 0


def _checkout(repo: Repo, targets: list[str] | None) -> int:
    """Check out ``targets`` (None: all); keeps unstored changes, reports what it could not do."""
    from gitml import tracked
    from gitml.checkout import CheckoutIncomplete

    rels = targets
    kept: list[str] = []
    result: CheckoutResult | None = None
    error = ""
    while result is None and rels != []:
        try:
            result = repo.checkout(None if rels is None else [repo.abspath(r) for r in rels])
        except WorkspaceConflictError as e:
            if rels is None:
                rels = [t.rel for t in tracked.workspace_tracked(repo.root)]
            hit = [r for r in rels if any(c == r or c.startswith((r + "/", r + " "))
                                          for c in e.paths)]
            if not hit:  # cannot map the conflict back: report it as it is
                error = str(e)
                break
            kept += hit
            rels = [r for r in rels if r not in hit]
        except CheckoutIncomplete as e:
            result = e.result
        except GitmlError as e:
            error = str(e)
            break
    problems = len(kept) + bool(error)
    if result is not None:
        done = [(len(v), k) for k, v in (("created", result.created),
                                          ("modified", result.modified),
                                          ("deleted", result.deleted)) if v]
        if done:
            n, k = done[0]
            say(f"tracked data updated: {n} file{'s' * (n != 1)} {k}"
                + "".join(f", {n} {k}" for n, k in done[1:]))
        bad = result.missing + result.corrupt
        if bad:
            problems += len(bad)
            n = len(result.missing)
            say(f"{n} file{'s' * (n != 1)} missing from the store and {len(result.corrupt)}"
                f" corrupt, not checked out (first: {bad[0]}); get them with: gitml pull")
    for r in kept:
        q = shlex.quote(r)
        say(f"kept {r}: it has changes that are not stored; keep them with: gitml add {q} "
            f"(or take this commit's data with: gitml checkout --force {q})")
    if error:
        say(f"could not check out data: {error}")
    return problems


def _drop(repo: Repo, old: str, gone: list[str]) -> int:
    """Remove data whose pointer is gone, when it is unchanged and kept in the store."""
    from gitml import pointer

    rels = [p[: -len(SUFFIX)] for p in gone]
    in_git = set(gitio.tracked(repo.root, rels))  # now Git's own files: not ours to delete
    removed, kept = 0, []
    with gitio.BatchReader(repo.root) as reader, repo.lock():
        for p, rel in zip(gone, rels, strict=True):
            if rel in in_git or any(x.startswith(rel + "/") for x in in_git):
                continue
            data = reader.read(f"{old}:{p}")
            try:
                ptr = pointer.load_at(data or b"", p, f"{old}:{p}")
            except GitmlError:
                continue
            n, left = _drop_one(repo, rel, ptr)
            removed += n
            if left:
                kept.append(rel)
        repo.statcache.commit()
    if removed:
        say(f"removed {removed} file{'s' * (removed != 1)} no longer tracked in this commit "
            "(the store keeps them)")
    for rel in kept:
        say(f"kept {rel}: no longer tracked in this commit, but it has changes that are not "
            "stored")
    return len(kept)


def _drop_one(repo: Repo, rel: str, ptr: Pointer) -> tuple[int, bool]:
    """(files removed, whether anything was left) for one tracked path."""
    from gitml import manifest
    from gitml.fsutil import SafeDirs, remove_empty_dirs
    from gitml.manifest import Entry
    from gitml.workspace import Hasher

    full = repo.abspath(rel)
    if not os.path.lexists(full):
        return 0, False
    safe = SafeDirs(repo.root)
    try:  # nothing is deleted through a link
        safe.check(os.path.dirname(full))
        if ptr.is_dir:
            safe.check(full)
    except GitmlError:
        return 0, True
    store = repo.store
    if ptr.is_dir:
        if not os.path.isdir(full) or not store.has(ptr.oid):
            return 0, True
        try:
            entries = manifest.loads(store.read_bytes(ptr.oid, what=rel), f"manifest of {rel}")
        except GitmlError:
            return 0, True
    elif os.path.isdir(full):
        return 0, True
    else:
        entries = [Entry("", ptr.oid, ptr.size)]
    hasher = Hasher(repo, rel)
    removed = 0
    for e in entries:
        path = os.path.join(full, *e.path.split("/")) if e.path else full
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        frel = f"{rel}/{e.path}" if e.path else rel
        try:
            safe.check(os.path.dirname(path))
        except GitmlError:
            continue
        if not os.path.isdir(path) and store.has(e.oid) and hasher.oid(frel, path, st) == e.oid:
            os.unlink(path)
            removed += 1
    repo.statcache.forget(rel)  # no entry may outlive the files just removed
    if ptr.is_dir:
        remove_empty_dirs(full)
        try:
            os.rmdir(full)
        except OSError:
            pass
    return removed, os.path.lexists(full)
