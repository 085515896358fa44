"""What a path names in another repository at one commit: a tracked file or directory, a
path inside a tracked directory, a Git-kept file, or a Git directory holding both kinds;
and the files it consists of. Every path from there is checked by the path validator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gitml import gitio, manifest, pointer
from gitml.errors import BadInputError, GitmlError
from gitml.fsutil import check_relpath
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.remotes.select import Selection
    from gitml.remotes.transfer import TransferResult
    from gitml.store import Store


class View(Protocol):
    """A repository at one commit: :class:`~gitml.imports.source.Source` (another
    repository) or :class:`~gitml.reading.Snapshot` (any, this one included)."""

    root: str  # where Git runs
    url: str  # for messages
    commit: str
    rev: str | None

    @property
    def store(self) -> Store: ...

    def fetch_objects(self, oids: list[str]) -> TransferResult: ...

    def fetch_selection(self, sel: Selection, jobs: int | None = None) -> TransferResult: ...


@dataclass(frozen=True)
class Item:
    """One file of a target: gitml's object ``oid``, or a Git ``blob``."""

    rel: str  # inside the target ("" when the target is one file)
    size: int
    exec: bool = False
    oid: str | None = None
    blob: str | None = None


@dataclass
class Target:
    """What ``path`` names at ``commit``."""

    path: str
    kind: str  # file | dir
    tracked: list[tuple[str, Pointer]] = field(default_factory=list)  # (rel in target, ptr)
    blobs: list[Item] = field(default_factory=list)  # Git-kept files
    inside: tuple[str, Pointer, str] | None = None  # (tracked dir, its pointer, rel in it)
    skipped: list[str] = field(default_factory=list)  # symlinks, submodules: not data

    @property
    def pointer(self) -> Pointer | None:
        """The pointer when ``path`` is exactly one tracked file or directory."""
        if self.inside is None and len(self.tracked) == 1 and self.tracked[0][0] == "":
            return self.tracked[0][1]
        return None

    @property
    def has_data(self) -> bool:
        return bool(self.tracked) or self.inside is not None


def clean(path: str) -> str:
    """A path as given (``data/x``, ``/data/x/``, ``.``): repository-relative, validated."""
    path = path.strip().strip("/")
    if path in ("", "."):
        return ""
    check_relpath(path, source="path")
    return path


def _tree(src: View, commit: str, path: str, recursive: bool) -> list[tuple[str, str, str,
                                                                              int, str]]:
    """(mode, type, sha, size, path) of the entries below ``path`` (a Git directory)."""
    args = ["ls-tree", "-z", "-l", "--full-tree"] + (["-r"] if recursive else [])
    spec = f"{path}/" if path else ""
    out = gitio.run(src.root, *args, commit, *(["--", spec] if spec else []))
    rows = []
    for rec in out.decode("utf-8", "surrogateescape").split("\0"):
        if not rec:
            continue
        meta, _, name = rec.partition("\t")
        mode, kind, sha, size = meta.split()
        rows.append((mode, kind, sha, int(size) if size.isdigit() else 0, name))
    return rows


def resolve(src: View, path: str) -> Target:
    """What ``path`` names at the source's resolved commit."""
    commit, path = src.commit, clean(path)
    where = f"{src.url} at {src.rev or 'its default branch'} ({commit[:7]})"
    with gitio.BatchReader(src.root) as reader:
        if path:
            data = reader.read(f"{commit}:{path}{pointer.SUFFIX}")
            if data is not None:
                ptr = pointer.loads(data, f"{src.url}:{path}{pointer.SUFFIX}",
                                    path.rpartition("/")[2])
                return Target(path, ptr.kind, [("", ptr)])
            old = dvc_era(src, commit, reader).get(path)
            if old is not None:
                return Target(path, old.kind, [("", old)])
        obj = reader.read_object(f"{commit}:{path}" if path else f"{commit}^{{tree}}", limit=0)
        if obj is not None and obj[1] == "tree":
            return _git_dir(src, commit, path, reader)
        if obj is not None and obj[1] == "blob":
            mode = _mode(src, commit, path)
            if mode in ("120000", "160000"):
                raise BadInputError(f"{path} in {where} is a symbolic link or submodule, "
                                    "not data")
            return Target(path, "file", blobs=[Item("", obj[3], mode == "100755",
                                                    blob=obj[0])])
        parts = path.split("/")
        for i in range(len(parts) - 1, 0, -1):  # inside a tracked directory?
            base = "/".join(parts[:i])
            data = reader.read(f"{commit}:{base}{pointer.SUFFIX}")
            found = dvc_era(src, commit, reader).get(base) if data is None else None
            if data is None and found is None:
                continue
            ptr = found or pointer.loads(data or b"", f"{src.url}:{base}{pointer.SUFFIX}",
                                         parts[i - 1])
            if ptr.is_dir:
                rest = "/".join(parts[i:])
                files = manifest_of(src, base, ptr)
                if any(e.path == rest for e in files):
                    return Target(path, "file", inside=(base, ptr, rest))
                if any(e.path.startswith(rest + "/") for e in files):
                    return Target(path, "dir", inside=(base, ptr, rest))
            break
    raise BadInputError(f"{path} does not exist in {where}")


def _mode(src: View, commit: str, path: str) -> str:
    out = gitio.run(src.root, "ls-tree", "-z", "--full-tree", commit, "--", path)
    return out.decode(errors="replace").split(" ", 1)[0]


def _git_dir(src: View, commit: str, path: str, reader: gitio.BatchReader) -> Target:
    target = Target(path, "dir")
    cut = len(path) + 1 if path else 0
    for mode, kind, sha, size, name in _tree(src, commit, path, recursive=True):
        rel = name[cut:]
        if kind != "blob" or mode in ("120000", "160000") or not _writable(rel):
            target.skipped.append(rel)  # links, submodules, .gitml/...: never data
            continue
        if rel.endswith(pointer.SUFFIX):
            data = reader.read(sha)
            try:
                ptr = pointer.loads(data or b"", f"{src.url}:{name}",
                                    rel.rpartition("/")[2][:-len(pointer.SUFFIX)])
            except GitmlError:
                pass  # not a pointer: a Git file like any other
            else:
                target.tracked.append((rel[:-len(pointer.SUFFIX)], ptr))
                continue
        target.blobs.append(Item(rel, size, mode == "100755", blob=sha))
    for p, ptr in dvc_era(src, commit, reader).items():  # a commit from before import-dvc
        if not path or p.startswith(path + "/"):
            target.tracked.append((p[cut:], ptr))
    data_paths = {rel for rel, _ in target.tracked}
    target.blobs = [b for b in target.blobs if not (  # their DVC files are not data
        b.rel.endswith(".dvc") and b.rel[:-4] in data_paths)]
    # the .gitignore lines gitml writes for tracked paths are not data
    target.blobs = [b for b in target.blobs if not (
        b.rel.rpartition("/")[2] == ".gitignore" and any(
            d.rpartition("/")[0] == b.rel.rpartition("/")[0] for d in data_paths))]
    return target


def dvc_era(src: View, commit: str, reader: gitio.BatchReader) -> dict[str, Pointer]:
    """The data a commit from before ``gitml import-dvc`` tracks with DVC's files, through
    the DVC map the source's default branch records (gitml/dvcimport/history.py)."""
    from gitml.dvcimport import history

    def fetch(oid: str) -> None:
        src.fetch_objects([oid])

    repo = getattr(src, "repo", src)  # a Snapshot's repository, or the Source itself
    return history.pointers_at(repo, commit, reader, fetch=fetch)


def _writable(rel: str) -> bool:
    try:
        check_relpath(rel, source="path")
    except GitmlError:
        return False
    return True


def manifest_of(src: View, rel: str, ptr: Pointer) -> list[manifest.Entry]:
    """A tracked directory's manifest, fetched (verified) into the source's store."""
    store = src.store
    if not store.has(ptr.oid):
        src.fetch_objects([ptr.oid])
    return manifest.loads(store.read_bytes(ptr.oid, what=rel), f"manifest of {rel}")


def selection(target: Target, skip: set[str] | frozenset[str] = frozenset()) -> Selection:
    """The tracked parts of a target, for the transfer engine (manifests first, then the
    files; a path inside a tracked directory narrows it), but for the tracked files whose
    objects are in ``skip``."""
    from gitml.remotes.select import Item as SelItem
    from gitml.remotes.select import Selection

    sel = Selection()
    if target.inside is not None:
        base, ptr, rest = target.inside
        sel.items.append(SelItem(base, ptr, {rest}))
    for rel, ptr in target.tracked:
        if ptr.is_dir or ptr.oid not in skip:
            sel.items.append(SelItem(f"{target.path}/{rel}".strip("/"), ptr))
    return sel


def fetch(src: View, target: Target, jobs: int | None = None,
          skip: set[str] | frozenset[str] = frozenset()) -> TransferResult | None:
    """Every object the target's tracked parts need, into the source's store, verified
    (but for the tracked files whose objects are in ``skip``: the caller has them)."""
    if not target.has_data:
        return None
    sel = selection(target, skip)
    return src.fetch_selection(sel, jobs) if sel.items else None


def items(src: View, target: Target) -> list[Item]:
    """Every file of the target (its objects' manifests must be in the store)."""
    out = list(target.blobs)
    if target.inside is not None:
        base, ptr, rest = target.inside
        for e in manifest_of(src, base, ptr):
            if e.path == rest:
                out.append(Item("", e.size, e.exec, oid=e.oid))
            elif e.path.startswith(rest + "/"):
                out.append(Item(e.path[len(rest) + 1:], e.size, e.exec, oid=e.oid))
    for rel, ptr in target.tracked:
        if not ptr.is_dir:
            out.append(Item(rel, ptr.size, ptr.exec, oid=ptr.oid))
            continue
        for e in manifest_of(src, f"{target.path}/{rel}".strip("/"), ptr):
            out.append(Item(f"{rel}/{e.path}" if rel else e.path, e.size, e.exec, oid=e.oid))
    return sorted(out, key=lambda i: i.rel)


def empty_dirs(src: View, target: Target) -> list[str]:
    """The empty folders the target's tracked directories keep (manifest version 2),
    relative to the target."""
    out: list[str] = []
    if target.inside is not None:
        base, ptr, rest = target.inside
        out += [d[len(rest) + 1:] for d in manifest_of(src, base, ptr).empty
                if d.startswith(rest + "/")]
    for rel, ptr in target.tracked:
        if ptr.is_dir:
            out += [f"{rel}/{d}" if rel else d for d in manifest_of(
                src, f"{target.path}/{rel}".strip("/"), ptr).empty]
    return sorted(out)


def listing(src: View, path: str, recursive: bool = False) -> list[dict[str, Any]]:
    """``gitml ls``: the entries at ``path`` (a directory's children, or the file itself),
    each ``{path, type, tracked, size[, hash, files]}``; ``recursive``: every file below,
    inside tracked directories too."""
    target = resolve(src, path)
    base = target.path
    rows: list[dict[str, Any]] = []
    if target.kind == "file":
        for it in items(src, target):
            rows.append(_row(base.rpartition("/")[2], "file", it))
        return rows
    if target.inside is not None or target.pointer is not None:
        every = items(src, target)
        return _level(every, "gitml", recursive)
    if recursive:
        for it in items(src, target):
            rows.append(_row(it.rel, "file", it))
        return rows
    commit = src.commit
    cut = len(base) + 1 if base else 0
    tracked = {rel: ptr for rel, ptr in target.tracked}
    for mode, kind, _sha, size, name in _tree(src, commit, base, recursive=False):
        rel = name[cut:]
        if rel.endswith(pointer.SUFFIX) and rel[:-len(pointer.SUFFIX)] in tracked:
            ptr = tracked[rel[:-len(pointer.SUFFIX)]]
            row = {"path": rel[:-len(pointer.SUFFIX)], "type": ptr.kind, "tracked": "gitml",
                   "size": ptr.size, "hash": ptr.oid}
            if ptr.is_dir:
                row["files"] = ptr.files
            rows.append(row)
        elif kind == "tree":
            rows.append({"path": rel, "type": "dir", "tracked": "git", "size": None})
        elif kind == "blob" and mode not in ("120000", "160000"):
            rows.append({"path": rel, "type": "file", "tracked": "git", "size": size})
    return sorted(rows, key=lambda r: r["path"])


def _row(rel: str, kind: str, it: Item) -> dict[str, Any]:
    row: dict[str, Any] = {"path": rel, "type": kind, "tracked": "gitml" if it.oid else "git",
                           "size": it.size}
    if it.oid:
        row["hash"] = it.oid
    return row


def _level(every: list[Item], tracked: str, recursive: bool) -> list[dict[str, Any]]:
    if recursive:
        return [_row(it.rel, "file", it) for it in every]
    rows: dict[str, dict[str, Any]] = {}
    for it in every:
        top, sep, _ = it.rel.partition("/")
        if not sep:
            rows[top] = _row(top, "file", it)
            continue
        row = rows.setdefault(top, {"path": top, "type": "dir", "tracked": tracked,
                                    "size": 0, "files": 0})
        row["size"] += it.size
        row["files"] += 1
    return [rows[k] for k in sorted(rows)]
