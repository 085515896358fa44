"""What ``exp run`` settles before any stage runs: that a commit can be made (Git knows who
you are), and the workspace's changed tracked data, stored so that it travels into the
experiment by its pointer the way code edits travel by their blobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitml import gitio, pointer
from gitml.errors import BadInputError, GitmlError

if TYPE_CHECKING:
    from gitml.repo import Repo


def check_identity(repo: Repo) -> None:
    """The experiment is a commit: fail now, not after the pipeline ran, when Git cannot
    name its author or committer."""
    for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        out = gitio.run(repo.root, "var", who, check=False)
        if not out.strip() or b"<" not in out:
            raise BadInputError(
                "Git does not know who you are, and an experiment is a commit: set it with "
                "git config user.name 'Your Name' && git config user.email you@example.com")


def changed_data(repo: Repo) -> dict[str, str]:
    """Store the tracked paths whose data differs from their pointer; returns
    ``{pointer path: blob}`` of their new pointers, written into Git's object database
    only (the workspace's own pointers stay as they are)."""
    changed = [s.path for s in repo.status() if s.state == "modified"]
    if not changed:
        return {}
    from gitml.workspace import store_target

    with repo.lock(), repo.store.lock():
        repo.statcache.begin()
        staged = [store_target(repo, rel, _is_dir(repo, rel), True) for rel in changed]
        repo.store.flush()  # objects durable before a commit names them
        repo.statcache.commit()
    blobs = {}
    for s in staged:
        text = pointer.dumps(s.ptr).encode()
        sha = gitio.run(repo.root, "hash-object", "-w", "--stdin", input=text)
        blobs[s.rel + pointer.SUFFIX] = sha.decode().strip()
    return blobs


def _is_dir(repo: Repo, rel: str) -> bool:
    try:
        return pointer.load(repo.abspath(rel + pointer.SUFFIX)).is_dir
    except GitmlError:
        return False
