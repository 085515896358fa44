"""The pre-push hook: the data of the commits being pushed goes to the default gitml remote.

Git says on standard input which commits it is about to send (``<local ref> <local sha>
<remote ref> <remote sha>`` per line). One ``rev-list --objects`` lists the pointer
versions those commits introduce (what the remote already has is excluded: the old
remote tips and this remote's tracking refs); their objects are pushed, file objects
before directory manifests. If that fails, the ``git push`` is stopped, so a pushed
commit never points at data that only this machine has.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitml import gitio, manifest, pointer
from gitml.errors import GitmlError
from gitml.githooks import say, strict
from gitml.hooks import human

if TYPE_CHECKING:
    from gitml.repo import Repo


def _null(sha: str) -> bool:
    return not sha.strip("0")


def _refs(stdin: bytes) -> list[tuple[str, str, str, str]]:
    out = []
    for line in stdin.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    env = os.environ.get
    # The pre-commit framework passes one range instead (no FROM/TO when the whole
    # history goes out: then the local branch, less what the remote has, is the range).
    to = env("PRE_COMMIT_TO_REF") or env("PRE_COMMIT_LOCAL_BRANCH")
    if not out and env("PRE_COMMIT_REMOTE_NAME") and to:
        out.append((env("PRE_COMMIT_LOCAL_BRANCH") or "", to,
                    env("PRE_COMMIT_REMOTE_BRANCH") or "", env("PRE_COMMIT_FROM_REF") or "0"))
    return out


def run(root: str, args: list[str], stdin: bytes, only: set[str],
        options: dict[str, str]) -> int:
    remote = args[0] if args else ""
    refs = _refs(stdin)
    include = list(dict.fromkeys(local for _, local, _, _ in refs if not _null(local)))
    if not include:  # only deletions
        return 0
    theirs = [r for _, _, _, r in refs if not _null(r)]
    known = gitio.object_sizes(root, theirs)  # remote tips we do not have cannot be excluded
    exclude = [r for r in theirs if r in known]
    if remote and "/" not in remote and ":" not in remote:  # a named Git remote, not a URL
        exclude.append(f"--remotes={remote}")
    blobs = gitio.new_pointer_blobs(root, include, exclude)
    if not blobs:
        return 0
    from gitml.remotes import transfer
    from gitml.repo import Repo

    with Repo(root) as repo:
        name = transfer.default_remote(repo)
        if name is None:
            say("no default gitml remote, so the data of these commits was not pushed "
                "(set one with: gitml remote add NAME URL --default)")
            return 1 if strict(root) else 0
        files, manifests = _objects(repo, blobs)
        return _push(repo, name, files, manifests)


def _objects(repo: Repo, blobs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(file objects, directory manifests) that the pointer blobs name."""
    files: dict[str, None] = {}
    manifests: dict[str, None] = {}
    store = repo.store
    with gitio.BatchReader(repo.root) as reader:
        for path, sha in blobs:
            try:
                ptr = pointer.load_at(reader.read(sha) or b"", path)
            except GitmlError:
                continue  # not a pointer gitml wrote: it names no object
            if not ptr.is_dir:
                files[ptr.oid] = None
                continue
            manifests[ptr.oid] = None
            if store.has(ptr.oid):  # otherwise the remote must have it, and its files
                rel = path[: -len(pointer.SUFFIX)]
                try:
                    entries = manifest.loads(store.read_bytes(ptr.oid, what=rel),
                                             f"manifest of {rel}")
                except GitmlError:
                    continue  # the push reports the corrupt manifest
                files.update((e.oid, None) for e in entries)
    return list(files), list(manifests)


def _push(repo: Repo, name: str, files: list[str], manifests: list[str]) -> int:
    from gitml.remotes import transfer

    sent = size = 0
    try:
        for batch in (files, manifests):  # a manifest on a remote means its files are there
            if batch:
                r = transfer.push_objects(repo, batch, name)
                sent += r.transferred
                size += r.bytes
    except (GitmlError, OSError) as e:  # whatever the reason, the data did not get there
        say(f"could not push the data of these commits to remote {name}: {e}")
        say("git push stopped, so the commits do not point at data others cannot fetch "
            "(fix it and push again, or skip this check once with: git push --no-verify)")
        return 1
    if sent:
        say(f"pushed {sent} object{'s' * (sent != 1)} ({human(size)}) to remote {name}")
    return 0
