"""Which objects a push, fetch or status concerns: pointers in the workspace or at
revisions, narrowed by targets (a target may be a path inside a tracked directory),
expanded through directory manifests into one :class:`Want` per object."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitml import gitio, manifest, pointer, tracked
from gitml.errors import BadInputError, GitError, GitmlError
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class Want:
    """One object and the first path that needs it (for messages)."""

    oid: str
    size: int | None
    path: str
    is_manifest: bool = False


@dataclass
class Item:
    """A tracked path; ``subs`` narrows a directory to paths inside it (None: all)."""

    rel: str
    ptr: Pointer
    subs: set[str] | None = None


@dataclass
class Selection:
    items: list[Item] = field(default_factory=list)
    targets: list[str] | None = None  # repo-relative, as given
    matched_subs: set[str] = field(default_factory=set)


def _refs(repo: Repo, namespace: str) -> list[str]:
    return [row[0] for row in gitio.for_each_ref(repo.root, namespace, ["%(refname)"])]


def revisions(repo: Repo, revs: list[str] | None, all_branches: bool,
              all_tags: bool) -> list[str] | None:
    """The revisions to read pointers from; None means the workspace.

    Named revisions and every branch/tag are alternatives: both at once is refused rather
    than silently merged (every branch and every tag together is fine)."""
    if revs and (all_branches or all_tags):
        every = " and ".join(f for f, on in (("--all-branches", all_branches),
                                              ("--all-tags", all_tags)) if on)
        raise BadInputError(f"--rev cannot be combined with {every}: give the revisions, "
                            "or every branch/tag, not both")
    if not (revs or all_branches or all_tags):
        return None
    out = list(revs or [])
    if all_branches:
        out += _refs(repo, "refs/heads/")
    if all_tags:
        out += _refs(repo, "refs/tags/")
    return list(dict.fromkeys(out))


def _pointers_at(repo: Repo, revs: list[str] | None) -> list[tuple[str, Pointer]]:
    """(data path, pointer) of every pointer in the workspace, or at each revision."""
    if revs is None:
        return [(t.rel, t.ptr) for t in tracked.workspace_tracked(repo.root)]
    out: list[tuple[str, Pointer]] = []
    seen: set[str] = set()
    with gitio.BatchReader(repo.root) as reader:
        for rev in revs:
            try:
                entries = gitio.tree_pointers(repo.root, rev)
            except GitError:
                if rev.startswith("refs/tags/"):
                    continue  # a tag of a blob or tree: no pointers
                raise
            for path, sha in entries:
                if sha in seen:
                    continue
                seen.add(sha)
                data = reader.read(sha)
                if data is None:
                    continue
                try:
                    out.append((path[: -len(pointer.SUFFIX)],
                                pointer.load_at(data, path, f"{rev}:{path}")))
                except GitmlError:
                    continue  # not a valid pointer: names no object
            out += _dvc_era(repo, rev, reader)
    return out


def _dvc_era(repo: Repo, rev: str, reader: gitio.BatchReader) -> list[tuple[str, Pointer]]:
    """A revision from before ``gitml import-dvc``: the data its DVC files track."""
    from gitml.dvcimport import history

    return list(history.pointers_at(repo, rev, reader).items())


def select(repo: Repo, targets: list[str] | None, revs: list[str] | None) -> Selection:
    """Tracked paths in the workspace (``revs`` None) or at ``revs``, narrowed by targets."""
    wanted = [_target_rel(repo, t) for t in targets] if targets else None
    pairs = _pointers_at(repo, revs)
    sel = Selection(targets=wanted)
    by_oid: dict[tuple[str, str], Item] = {}
    hit: set[str] = set()
    for rel, ptr in pairs:
        whole = wanted is None
        subs: set[str] = set()
        for w in wanted or ():
            if w in ("", ".", rel) or rel.startswith(w + "/"):
                whole = True
                hit.add(w)
            elif ptr.is_dir and w.startswith(rel + "/"):
                subs.add(w[len(rel) + 1:])
                hit.add(w)
        if not whole and not subs:
            continue
        key = (rel, ptr.oid)
        item = by_oid.get(key)
        if item is None:
            item = by_oid[key] = Item(rel, ptr, None if whole else subs)
            sel.items.append(item)
        elif item.subs is not None:
            item.subs = None if whole else item.subs | subs
    for w in wanted or ():
        if w not in hit:
            where = "in the workspace" if revs is None else f"at {', '.join(revs) or 'any ref'}"
            raise BadInputError(f"{w} is not tracked by gitml {where}")
    if wanted is None and revs is None:
        sel.items += _dvc_map(repo)
    return sel


def _dvc_map(repo: Repo) -> list[Item]:
    """The DVC map of an imported project travels with the data: clones read DVC-era
    revisions through it."""
    from gitml.dvcimport import dvcmap

    oid = dvcmap.record_oid(repo)
    if oid is None:
        return []
    size = os.path.getsize(repo.store.path(oid)) if repo.store.has(oid) else 0
    return [Item(dvcmap.RECORD, Pointer(os.path.basename(dvcmap.RECORD), "file", oid, size))]


def _target_rel(repo: Repo, target: str) -> str:
    rel = tracked.to_rel(repo.root, target)
    return rel[: -len(pointer.SUFFIX)] if rel.endswith(pointer.SUFFIX) else rel


def expand(sel: Selection, read_manifest: Callable[[str, str], bytes | None]
           ) -> tuple[dict[str, Want], list[Want]]:
    """Every object of the selection: {oid: Want}. ``read_manifest(oid, rel)`` gives a
    directory's manifest bytes, or None when it cannot be had (its entries are then
    unknown; the manifest itself is still wanted). Also returns the manifests read."""
    wants: dict[str, Want] = {}
    manifests: list[Want] = []
    for item in sel.items:
        ptr = item.ptr
        if not ptr.is_dir:
            wants.setdefault(ptr.oid, Want(ptr.oid, ptr.size, item.rel))
            continue
        mw = wants.setdefault(ptr.oid, Want(ptr.oid, None, item.rel, is_manifest=True))
        manifests.append(mw)
        data = read_manifest(ptr.oid, item.rel)
        if data is None:
            continue
        for e in manifest.loads(data, f"manifest of {item.rel}"):
            if item.subs is not None:
                sub = next((s for s in item.subs
                            if e.path == s or e.path.startswith(s + "/")), None)
                if sub is None:
                    continue
                sel.matched_subs.add(f"{item.rel}/{sub}")
            if e.oid not in wants:
                wants[e.oid] = Want(e.oid, e.size, f"{item.rel}/{e.path}")
    return wants, manifests


def check_subs(sel: Selection, unknown_manifests: bool) -> None:
    """A target inside a tracked directory must name something in it."""
    if unknown_manifests:
        return
    for item in sel.items:
        for s in item.subs or ():
            if f"{item.rel}/{s}" not in sel.matched_subs:
                raise BadInputError(f"{item.rel}/{s} does not exist in the tracked "
                                    f"directory {item.rel}")
