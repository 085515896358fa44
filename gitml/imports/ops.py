"""``gitml import``, ``gitml update`` and the import check of ``gitml status``.

An import is tracked data like any other (its objects go to this repository's store and
remote, ``checkout``/``push``/``pull`` treat it as usual); its pointer records where it
came from (``meta.import``, docs/formats.md) so that ``update`` can move it to a newer
commit of the source and ``status`` can say when the source moved.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitml import gitio, manifest, pointer, tracked
from gitml.errors import BadInputError, GitmlError
from gitml.fsutil import check_relpath
from gitml.imports import record as rec_mod
from gitml.imports import tree
from gitml.imports.download import output_path
from gitml.imports.source import Source
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class ImportResult:
    path: str  # repository path of the imported data
    url: str
    source_path: str
    rev: str | None
    commit: str
    kind: str
    oid: str
    size: int
    files: int | None
    fetched: int
    state: str = "imported"  # imported | updated | up to date
    previous: str | None = None  # the commit before an update
    git: list[str] = field(default_factory=list)  # files to commit (pointer, .gitignore)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_(repo: Repo, url: str, path: str, output: str | None = None, *,
            rev: str | None = None, force: bool = False,
            jobs: int | None = None) -> ImportResult:
    """Download ``path`` of the repository at ``url`` (at ``rev``) and track it here, at
    ``output`` (default: its name, in the current directory), recording its source."""
    src = Source(url, store=repo.store, lend=repo)
    commit = src.resolve(rev)
    target = tree.resolve(src, path)
    name = target.path.rpartition("/")[2] or os.path.basename(src.url.rstrip("/"))
    dest = output_path(output, name, target.kind)
    rel = tracked.to_rel(repo.root, dest)
    if rel in ("", "."):
        raise BadInputError("cannot import onto the repository root; name an output")
    check_relpath(rel, source="output")
    _check_free(repo, rel, force)
    record = rec_mod.Record(src.url, target.path, rev, commit)
    ptr, fetched = _build(repo, src, target, os.path.basename(rel), record, jobs)
    git = _write(repo, rel, ptr, force)
    return ImportResult(rel, src.url, target.path, rev, commit, ptr.kind, ptr.oid, ptr.size,
                        ptr.files, fetched, git=git)


def _check_free(repo: Repo, rel: str, force: bool) -> None:
    """The output must be a free place for tracked data (``force``: replace what is
    there, tracked or not, but never Git's files)."""
    full = repo.abspath(rel)
    tracked.check_not_git_tracked(repo.root, [rel])
    parent = rel.rpartition("/")[0]
    while parent:
        if os.path.exists(repo.abspath(parent) + pointer.SUFFIX):
            raise BadInputError(f"{rel} is inside the tracked directory {parent}")
        parent = parent.rpartition("/")[0]
    if force:
        return
    if os.path.exists(full + pointer.SUFFIX):
        raise BadInputError(f"{rel} is tracked already; 'gitml update {rel}' moves an import, "
                            "--force replaces it")
    if os.path.lexists(full):
        raise BadInputError(f"{rel} already exists; use --force to replace it")


def _build(repo: Repo, src: Source, target: tree.Target, name: str,
           record: rec_mod.Record, jobs: int | None) -> tuple[Pointer, int]:
    """Objects into this repository's store (the source's remote; Git files from its
    history), then the pointer naming them with the import record. Returns (pointer,
    objects fetched)."""
    store = repo.store
    fetched = tree.fetch(src, target, jobs)
    meta = {rec_mod.KEY: record.to_dict()}
    one = target.pointer
    with store.lock():
        if one is not None:  # the source's own object and meta: the same hash as there
            ptr = replace(one, path=name, meta={**one.meta, **meta})
        else:
            items = _stored(src, target)
            if target.kind == "file":
                it = items[0]
                ptr = Pointer(name, "file", it.oid, it.size, None, meta,  # type: ignore[arg-type]
                              exec=it.exec)
            else:
                entries = [manifest.Entry(it.rel, it.oid, it.size, it.exec)  # type: ignore[arg-type]
                           for it in items]
                moid, data = manifest.oid_of(entries, tree.empty_dirs(src, target))
                store.put_bytes(data)
                ptr = Pointer(name, "dir", moid, sum(e.size for e in entries), len(entries),
                              meta)
        store.flush()  # objects durable before the pointer names them
    return ptr, fetched.transferred if fetched else 0


def _stored(src: Source, target: tree.Target) -> list[tree.Item]:
    """The target's files, Git-kept ones stored as objects too (their bytes from the
    source's history), all with an object id."""
    out = []
    with gitio.BatchReader(src.root) as reader:
        for it in tree.items(src, target):
            if it.blob is not None:
                data = reader.read(it.blob)
                if data is None:
                    raise GitmlError(f"cannot read {it.rel or target.path} from {src.url}")
                it = replace(it, oid=src.store.put_bytes(data), blob=None)
            out.append(it)
    return out


def _write(repo: Repo, rel: str, ptr: Pointer, force: bool) -> list[str]:
    """Write the pointer (and .gitignore line), then check the data out; returns the files
    for Git."""
    from gitml.workspace import Staged, write_pointer

    with repo.lock():
        old = None
        if os.path.exists(repo.abspath(rel) + pointer.SUFFIX):
            try:
                old = pointer.load(repo.abspath(rel) + pointer.SUFFIX)
            except GitmlError:
                old = None
        added = write_pointer(repo, Staged(rel, ptr, old))
    repo.checkout([repo.abspath(rel)], force=force)
    return [added.pointer] + ([added.gitignore] if added.gitignore else [])


# -- update -----------------------------------------------------------------------------------
def imports(repo: Repo, targets: list[str] | None = None
            ) -> list[tuple[tracked.Tracked, rec_mod.Record]]:
    """The imports among the tracked paths (all, or ``targets``); a target that is not an
    import, or a malformed record, is an error."""
    out = []
    for t in tracked.workspace_tracked(repo.root, targets):
        r = rec_mod.of(t.ptr, t.pointer_rel)
        if r is not None:
            out.append((t, r))
        elif targets:
            raise BadInputError(f"{t.rel} is not an import (see gitml import --help)")
    return out


def update(repo: Repo, targets: list[str] | None = None, *, rev: str | None = None,
           force: bool = False, jobs: int | None = None) -> list[ImportResult]:
    """Move imports to the commit their revision names now (or to ``rev``). Data changed
    here since it was imported is not replaced unless ``force``."""
    chosen = imports(repo, targets)
    if not chosen and targets is None:
        raise BadInputError("no imports here (gitml import URL PATH makes one)")
    results = []
    for t, r in chosen:
        src = Source(r.url, store=repo.store, lend=repo)
        want = rev if rev is not None else r.rev
        commit = src.resolve(want)
        base = dict(url=src.url, source_path=r.path, rev=want, commit=commit,
                    kind=t.ptr.kind, previous=r.commit)
        if commit == r.commit and want == r.rev:
            results.append(ImportResult(t.rel, **base, oid=t.ptr.oid, size=t.ptr.size,
                                        files=t.ptr.files, fetched=0, state="up to date"))
            continue
        if not force:
            changed = [s.path for s in repo.status([repo.abspath(t.rel)])
                       if s.state == "modified"]
            if changed:
                raise BadInputError(f"{t.rel} changed here since it was imported; "
                                    "'gitml add' it to keep it as your own, or --force")
        target = tree.resolve(src, r.path)
        ptr, fetched = _build(repo, src, target, os.path.basename(t.rel),
                              rec_mod.Record(src.url, r.path, want, commit), jobs)
        git = _write(repo, t.rel, ptr, True)
        base["kind"] = ptr.kind
        results.append(ImportResult(t.rel, **base, oid=ptr.oid, size=ptr.size,
                                    files=ptr.files, fetched=fetched, state="updated",
                                    git=git))
    return results


# -- status -----------------------------------------------------------------------------------
def moved(repo: Repo, targets: list[str] | None = None) -> list[dict[str, Any]]:
    """Imports whose source revision now names another commit (one ``git ls-remote`` per
    source and revision, in parallel), and those that could not be checked. Imports pinned
    to a commit are never asked about."""
    found: list[tuple[str, rec_mod.Record]] = []
    bad: list[dict[str, Any]] = []
    for t in tracked.workspace_tracked(repo.root, targets):
        if rec_mod.KEY not in t.ptr.meta:
            continue
        try:
            r = rec_mod.of(t.ptr, t.pointer_rel)
        except GitmlError as e:
            bad.append({"path": t.rel, "state": "import unreadable", "error": str(e)})
            continue
        if r is not None and not (r.rev and r.commit.startswith(r.rev.lower())
                                  and len(r.rev) >= 7):
            found.append((t.rel, r))
    asks = sorted({(r.url, r.rev) for _, r in found}, key=str)
    if not asks:
        return bad

    def ask(key: tuple[str, str | None]) -> str | Exception | None:
        url, rev = key
        patterns = ["HEAD"] if rev is None else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
        try:
            pairs = gitio.ls_remote(repo.root, url, patterns)
        except GitmlError as e:
            return e
        return pairs[0][0] if pairs else None

    with ThreadPoolExecutor(max_workers=min(8, len(asks))) as pool:
        now = dict(zip(asks, pool.map(ask, asks), strict=True))
    out = bad
    for rel, r in found:
        sha = now[(r.url, r.rev)]
        row = {"path": rel, "url": r.url, "rev": r.rev, "commit": r.commit}
        if isinstance(sha, Exception):
            out.append({**row, "state": "import unchecked", "error": str(sha)})
        elif sha is not None and sha != r.commit:
            out.append({**row, "state": "import moved", "now": sha})
    return out
