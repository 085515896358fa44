"""Checks of a pipeline against the workspace, made before any stage runs.

- an output must not lie inside a path that ``gitml add`` tracks, nor contain one (the
  stage would write into, or clear, data the user versions by hand);
- a dep that no stage writes must be in the workspace; one that is tracked but not checked
  out is named with the command that brings it (``gitml checkout``, ``gitml pull``,
  ``gitml repro --pull``);
- ``--pull`` fetches the inputs (strictly) and the stored outputs (where the remote has
  them, so that their stages need not run again) from the default remote first.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitml import gitio, pointer
from gitml.errors import BadInputError, GitmlError

if TYPE_CHECKING:
    from gitml.pipeline.dag import Pipeline
    from gitml.remotes.transfer import PullResult
    from gitml.repo import Repo


def _exists(root: str, rel: str) -> bool:
    return os.path.lexists(os.path.join(root, *rel.split("/")))


def tracking_pointer(root: str, rel: str) -> str | None:
    """The pointer file that tracks ``rel`` (its own, or a tracked folder's above it)."""
    parts = rel.split("/")
    for i in range(len(parts), 0, -1):
        ptr = "/".join(parts[:i]) + pointer.SUFFIX
        if os.path.isfile(os.path.join(root, *ptr.split("/"))):
            return ptr
    return None


def check_outputs(root: str, pipe: Pipeline) -> None:
    """No output inside, or around, a path tracked by ``gitml add`` (exit 2, naming both)."""
    outs = {o.path: s.name for s in pipe.stages.values() for o in s.outs}
    if not outs:
        return
    for out, stage in outs.items():
        parts = out.split("/")
        for i in range(len(parts) - 1, 0, -1):
            above = "/".join(parts[:i])
            if above in outs:
                break  # an output inside another output: the graph already refuses it
            if os.path.isfile(os.path.join(root, *parts[:i]) + pointer.SUFFIX):
                raise BadInputError(
                    f"gitml.yaml: output {out} of stage {stage!r} is inside {above}, which "
                    f"'gitml add' tracks ({above}{pointer.SUFFIX}); write it elsewhere, or "
                    f"stop tracking it by hand first: gitml remove {above}")
    # pointers below an output (one ls-files for all): data added by hand in its folder
    specs = [f":(glob){o}/**/*{pointer.SUFFIX}" for o in outs]
    listed = gitio.run(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                       "--deduplicate", "--", *specs, check=False)
    for p in sorted(set(listed.decode(errors="surrogateescape").split("\0")) - {""}):
        data = p[:-len(pointer.SUFFIX)]
        if data in outs or not os.path.isfile(os.path.join(root, *p.split("/"))):
            continue
        out = next(o for o in outs if data.startswith(o + "/"))
        raise BadInputError(
            f"gitml.yaml: output {out} of stage {outs[out]!r} contains {data}, which "
            f"'gitml add' tracks ({p}); the stage would delete it before it runs")


def check_inputs(repo: Repo, pipe: Pipeline, names: list[str],
                 command: str = "gitml repro") -> None:
    """Every dep that no stage writes exists; tracked-but-absent ones are named together
    with how to get them (``command --pull``)."""
    gone: dict[str, str] = {}  # dep -> first stage needing it
    for n in names:
        for dep in pipe.stages[n].deps:
            if dep not in gone and not pipe.producers(dep) and not _exists(repo.root, dep):
                gone[dep] = n
    if not gone:
        return
    untracked = [d for d in gone if tracking_pointer(repo.root, d) is None]
    if untracked:
        d = untracked[0]
        raise BadInputError(f"stage {gone[d]!r} depends on {d}, which does not exist and no "
                            "stage writes it")
    local, remote = [], []
    for d in gone:
        (local if _in_store(repo, d) else remote).append(d)
    what = ", ".join(gone)
    if remote:
        raise BadInputError(
            f"{_plural(len(gone), 'input')} tracked by gitml but not in the workspace"
            f"{'' if local else ' nor in the store'}: {what}; get "
            f"{'them' if len(gone) > 1 else 'it'} with 'gitml pull {' '.join(remote)}' "
            f"(or run '{command} --pull')")
    raise BadInputError(
        f"{_plural(len(gone), 'input')} tracked by gitml but not checked out: {what}; "
        f"run 'gitml checkout {' '.join(local)}'")


def check_stored_inputs(repo: Repo, pipe: Pipeline, names: list[str]) -> None:
    """For ``exp run``, whose worktree is checked out of the store: every tracked input
    must be in the store (the workspace's own copy does not travel)."""
    gone = []
    for n in names:
        for dep in pipe.stages[n].deps:
            if (dep not in gone and not pipe.producers(dep)
                    and tracking_pointer(repo.root, dep) and not _in_store(repo, dep)):
                gone.append(dep)
    if gone:
        raise BadInputError(
            f"{_plural(len(gone), 'input')} tracked by gitml but not in the store: "
            f"{', '.join(gone)}; get {'them' if len(gone) > 1 else 'it'} with "
            f"'gitml pull {' '.join(gone)}' (or run 'gitml exp run --pull')")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _in_store(repo: Repo, rel: str) -> bool:
    """Whether the object(s) of a tracked path are in the store (its own pointer's, or the
    manifest of the folder above it: then the file is in the store too, or will be said to be
    missing by checkout)."""
    ptr_rel = tracking_pointer(repo.root, rel)
    if ptr_rel is None:
        return False
    try:
        ptr = pointer.load(repo.abspath(ptr_rel), source=ptr_rel)
    except GitmlError:
        return False
    return repo.store.has(ptr.oid)


def pull(repo: Repo, pipe: Pipeline, names: list[str], remote: str | None = None
         ) -> list[PullResult]:
    """Fetch and check out what the selected stages read (every input must come) and the
    stored outputs they last wrote (where the remote has them)."""
    from gitml.checkout import CheckoutIncomplete
    from gitml.remotes.transfer import TransferIncomplete
    from gitml.remotes.transfer import pull as pull_paths

    inputs: list[str] = []
    outs: list[str] = []
    for n in names:
        stage = pipe.stages[n]
        for dep in stage.deps:
            if not pipe.producers(dep) and tracking_pointer(repo.root, dep) and dep not in inputs:
                inputs.append(dep)
        for o in stage.outs:
            if o.cache and os.path.isfile(repo.abspath(o.path) + pointer.SUFFIX):
                outs.append(o.path)
    results = []
    if inputs:
        try:
            results.append(pull_paths(repo, [repo.abspath(p) for p in inputs], remote))
        except (TransferIncomplete, CheckoutIncomplete) as e:
            raise BadInputError(f"repro --pull: cannot get every input: {e}") from None
    if outs:
        try:  # outputs the remote lacks are made again by their stages
            results.append(pull_paths(repo, [repo.abspath(p) for p in outs], remote))
        except (TransferIncomplete, CheckoutIncomplete):
            pass
    return results
