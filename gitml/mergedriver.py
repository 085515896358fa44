"""The merge driver and the diff driver (textconv) for pointer files (issue 7).

Registered by ``gitml init`` / ``gitml hooks install`` (.git/config) and the committed
``.gitattributes`` line ``*.gitml merge=gitml diff=gitml``.

Merge: two directory versions that changed different files merge into a new manifest
(stored, then named by the merged pointer); a file changed on both sides, or two
different versions of a single tracked file, is a conflict that says what differs.
Diff: a pointer becomes a few readable lines (size, files, rows, schema) so ``git diff``
and ``git log -p`` show what changed instead of two hashes.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING

from gitml import manifest, pointer
from gitml.errors import GitmlError
from gitml.fsutil import atomic_write
from gitml.hooks import human
from gitml.manifest import Entry
from gitml.pointer import Pointer

if TYPE_CHECKING:
    from gitml.repo import Repo

LIST_LIMIT = 10_000  # directory entries the diff summary lists


class _Conflict(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0])
        self.lines = lines


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(pointer.MAX_BYTES + 1)


def _parse(data: bytes, label: str, name: str, expected: str | None) -> Pointer | None:
    if not data.strip():
        return None
    try:
        return pointer.loads(data, f"{label} version of {name}", expected_name=expected)
    except GitmlError as e:
        raise _Conflict([f"{name}: the {label} version is not a valid pointer ({e})"]) from None


def merge(base_file: str, ours_file: str, theirs_file: str, path: str,
          repo: Repo | None = None) -> int:
    """Merge three versions of the pointer ``path``; the result goes to ``ours_file``.

    Returns 0 when merged cleanly, 1 on a conflict (``ours_file`` then holds both
    versions between conflict markers, with an explanation, and stderr says it too).
    """
    name = path[: -len(pointer.SUFFIX)] if path.endswith(pointer.SUFFIX) else path
    expected = os.path.basename(name) if path.endswith(pointer.SUFFIX) else None
    ours_data, theirs_data = _read(ours_file), _read(theirs_file)
    try:
        base = _parse(_read(base_file), "base", name, expected)
        ours = _parse(ours_data, "our", name, expected)
        theirs = _parse(theirs_data, "their", name, expected)
        merged = _merge(base, ours, theirs, name, repo)
    except _Conflict as c:
        text = "".join(f"# gitml: {line}\n" for line in c.lines)
        qp, qn = shlex.quote(path), shlex.quote(name)
        text += (f"# Keep one side: git checkout --ours {qp} (or --theirs {qp}), "
                 f"then: gitml checkout {qn}\n")
        atomic_write(ours_file, text.encode() + b"<<<<<<< ours\n" + _nl(ours_data)
                     + b"=======\n" + _nl(theirs_data) + b">>>>>>> theirs\n", durable=False)
        print(f"gitml: merge conflict: {c.lines[0]}", file=sys.stderr)
        for line in c.lines[1:]:
            print(f"gitml: {line}", file=sys.stderr)
        return 1
    if merged is not None:
        atomic_write(ours_file, pointer.dumps(merged).encode(), durable=False)
    return 0


def _nl(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"


def _desc(p: Pointer) -> str:
    extra = f", {p.files} files" if p.files is not None else ""
    return f"{p.oid} ({human(p.size)}{extra})"


def _merge(base: Pointer | None, ours: Pointer | None, theirs: Pointer | None, name: str,
           repo: Repo | None) -> Pointer | None:
    """The merged pointer, None to keep ours as it is; raises _Conflict."""
    if ours is None or theirs is None:
        raise _Conflict([f"{name}: one side deleted the pointer, the other changed it"])
    if ours.oid == theirs.oid:
        return None
    if base is not None and base.oid == theirs.oid:
        return None
    if base is not None and base.oid == ours.oid:
        return theirs
    if ours.kind != theirs.kind:
        raise _Conflict([f"{name}: one side tracks a file, the other a directory "
                         f"(ours {ours.kind} {ours.oid}, theirs {theirs.kind} {theirs.oid})"])
    if not ours.is_dir:
        raise _Conflict([f"{name}: both sides changed the data: ours {_desc(ours)}, "
                         f"theirs {_desc(theirs)}"])
    return _merge_dirs(base if base is not None and base.is_dir else None, ours, theirs, name,
                       repo)


def _merge_dirs(base: Pointer | None, ours: Pointer, theirs: Pointer, name: str,
                repo: Repo | None) -> Pointer:
    if repo is None:
        from gitml.repo import Repo

        repo = Repo()
    store = repo.store

    def entries(p: Pointer | None, label: str) -> dict[str, Entry]:
        if p is None:
            return {}
        if not store.has(p.oid):
            raise _Conflict([f"{name}: the manifest of {label} version ({p.oid}) is not in the "
                             "store, so the directories cannot be merged file by file; "
                             "fetch it first (gitml fetch) and merge again"])
        try:
            return {e.path: e for e in manifest.loads(store.read_bytes(p.oid, what=name),
                                                      f"manifest of {name} ({label})")}
        except GitmlError as e:
            raise _Conflict([f"{name}: {e}"]) from None

    b, o, t = entries(base, "the base"), entries(ours, "our"), entries(theirs, "their")
    result: dict[str, Entry] = {}
    clashes = []
    for path in sorted(set(b) | set(o) | set(t)):
        be, oe, te = b.get(path), o.get(path), t.get(path)
        if oe == te or te == be:
            chosen = oe
        elif oe == be:
            chosen = te
        else:
            clashes.append(f"  {name}/{path}: ours {oe.oid if oe else 'deleted'}, "
                           f"theirs {te.oid if te else 'deleted'}")
            continue
        if chosen is not None:
            result[path] = chosen
    if clashes:
        raise _Conflict([f"{name}: {len(clashes)} file{'s' * (len(clashes) != 1)} changed on "
                         "both sides:", *clashes])
    merged = list(result.values())
    with store.lock():
        oid = store.put_bytes(manifest.dumps(merged))
        store.flush()  # the object is durable before the pointer naming it is written
    return Pointer(ours.path, "dir", oid, sum(e.size for e in merged), len(merged))


# -- diff driver (textconv) -------------------------------------------------------------------
def summary(data: bytes, repo: Repo | None = None) -> str:
    """Readable lines for one version of a pointer; anything unreadable is shown as is."""
    try:
        ptr = pointer.loads(data, "pointer")
    except GitmlError:
        return data.decode(errors="replace")
    kind = "directory" if ptr.is_dir else "file"
    lines = [f"gitml {kind}: {ptr.path}{'/' if ptr.is_dir else ''}",
             f"size: {human(ptr.size)}" + (f" ({ptr.size:,} bytes)" if ptr.size >= 1024 else "")]
    if ptr.files is not None:
        lines.append(f"files: {ptr.files:,}")
    meta = dict(ptr.meta)
    if meta.get("format"):
        lines.append(f"format: {meta.pop('format')}")
    for key in ("rows", "columns"):
        if isinstance(meta.get(key), int):
            lines.append(f"{key}: {meta.pop(key):,}")
    if meta.get("schema"):
        lines.append(f"schema: {meta.pop('schema')}")
    if "synth" in meta:  # a synthetic table's lineage, readable in git diff (issue 24)
        from gitml.tabular.synth.lineage import summary_lines

        lines += summary_lines(meta.pop("synth"))
    lines += [f"{k}: {v}" for k, v in sorted(meta.items())]
    lines.append(f"hash: {ptr.oid}")
    if ptr.is_dir:
        lines += _listing(ptr, repo)
    return "\n".join(lines) + "\n"


def _listing(ptr: Pointer, repo: Repo | None) -> list[str]:
    """One line per file of a directory, from its manifest when the store has it."""
    try:
        if repo is None:
            from gitml.repo import Repo

            repo = Repo()
        entries = manifest.loads(repo.store.read_bytes(ptr.oid), "manifest")
    except GitmlError:
        return ["(file list not shown: the manifest is not in the local store)"]
    out = [f"  {e.path}  {human(e.size)}  {e.oid[5:17]}{'  exec' if e.exec else ''}"
           for e in entries[:LIST_LIMIT]]
    if len(entries) > LIST_LIMIT:
        out.append(f"  ... and {len(entries) - LIST_LIMIT:,} more files")
    return out


def textconv(path: str) -> str:
    """The diff driver: ``git diff`` hands over a file holding one version of a pointer."""
    with open(path, "rb") as f:
        return summary(f.read(1 << 20))
