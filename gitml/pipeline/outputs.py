"""Stage outputs in the workspace: cleared before a run, stored after it like ``gitml add``.

Stored outputs get an ordinary ``<out>.gitml`` pointer and ``.gitignore`` line written
through the core's add steps, so checkout, diff, gc, remotes and hooks treat them like
any tracked path. Git-committed outputs (``cache: false``: metrics, plots) get no
pointer; their bytes are stored too, for the run cache only.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from gitml import gitio, tracked, workspace
from gitml.errors import BadInputError
from gitml.fsutil import SafeDirs
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.pipeline.schema import Stage
    from gitml.repo import Repo


def check_not_in_git(repo: Repo, stages: list[Stage]) -> None:
    """A stored output must not be a file Git tracks (one ``git ls-files`` for all)."""
    owner = {o.path: s.name for s in stages for o in s.outs if o.cache}
    hits = gitio.tracked(repo.root, list(owner))
    for hit in hits:
        out = next(p for p in owner if hit == p or hit.startswith(p + "/"))
        raise BadInputError(
            f"output {out} of stage {owner[out]!r} is tracked by Git; untrack it with "
            f"'git rm -r --cached {out}' (or declare it with cache: false)")


def clear(repo: Repo, stage: Stage) -> None:
    """Remove outputs before the stage runs, so it never writes through a link into the
    store; ``persist: true`` outputs stay, as private copies."""
    safe = SafeDirs(repo.root)
    for o in stage.outs:
        full = repo.abspath(o.path)
        safe.check(os.path.dirname(full))  # never delete through a link
        if o.persist:
            workspace.unshare(repo, full)
        elif os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)


def missing(repo: Repo, stage: Stage) -> list[str]:
    return [o.path for o in stage.outs if not os.path.lexists(repo.abspath(o.path))]


def store(repo: Repo, stage: Stage) -> tuple[list[tuple[str, bool, Pointer]], list[str]]:
    """Store every output; write pointers of the cached ones.

    Returns ((path, cache, pointer) per output, files to ``git add``). The caller holds
    the workspace lock and the store lock.
    """
    kinds = [tracked.check_addable(repo.root, o.path, o.path) for o in stage.outs]
    repo.statcache.begin()
    staged = [workspace.store_target(repo, o.path, is_dir, True)
              for o, is_dir in zip(stage.outs, kinds, strict=True)]
    repo.store.flush()  # objects durable before any pointer names them
    outs: list[tuple[str, bool, Pointer]] = []
    changed: list[str] = []
    for o, st in zip(stage.outs, staged, strict=True):
        rel, ptr = st.rel, st.ptr
        if o.cache:
            r = workspace.write_pointer(repo, st)
            if r.changed:
                changed.append(r.pointer)
            if r.gitignore:
                changed.append(r.gitignore)
        else:
            changed.append(rel)
        outs.append((rel, o.cache, ptr))
    return outs, changed
