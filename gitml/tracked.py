"""Finding and resolving tracked paths: pointers in the workspace and user targets."""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass, replace

from gitml import gitio, pathrules, pointer
from gitml.errors import BadInputError
from gitml.fsutil import atomic_write
from gitml.pointer import Pointer

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Tracked:
    """A pointer in the workspace and the data path it names; ``only`` limits a tracked
    directory to some paths inside it (a target such as ``data/images/cats``)."""

    rel: str  # repo-relative POSIX data path
    pointer_rel: str
    ptr: Pointer
    only: tuple[str, ...] = ()

    def wants(self, key: str) -> bool:
        """Whether ``key`` (a path inside the directory) is part of this item."""
        return not self.only or any(key == o or key.startswith(o + "/") for o in self.only)


def load_pointer(repo_root: str, pointer_rel: str) -> Tracked:
    """The pointer file at ``pointer_rel``; its data path passes the one path validator."""
    rel = pointer.data_path(pointer_rel)
    ptr = pointer.load(os.path.join(repo_root, *pointer_rel.split("/")), source=pointer_rel)
    return Tracked(rel, pointer_rel, ptr)


def workspace_tracked(repo_root: str, targets: list[str] | None = None) -> list[Tracked]:
    """Every pointer in the workspace, or those for (or inside) ``targets``."""
    rels = gitio.workspace_pointers(repo_root)
    items = [load_pointer(repo_root, r) for r in rels]
    if targets is None:
        return items
    wanted = [to_rel(repo_root, t) for t in targets]
    whole: dict[str, Tracked] = {}
    parts: dict[str, list[str]] = {}
    for want in wanted:
        if want.endswith(pointer.SUFFIX):
            want = want[: -len(pointer.SUFFIX)]
        hits = [t for t in items if want in (".", t.rel) or t.rel.startswith(want + "/")]
        inside = [t for t in items if t.ptr.is_dir and want.startswith(t.rel + "/")]
        if not hits and not inside:
            raise BadInputError(f"{want} is not tracked by gitml")
        whole.update((t.rel, t) for t in hits)
        for t in inside:
            parts.setdefault(t.rel, []).append(want[len(t.rel) + 1:])
    chosen = {t.rel: t for t in items if t.rel in parts and t.rel not in whole}
    for rel, subs in parts.items():
        if rel in chosen:
            chosen[rel] = replace(chosen[rel], only=tuple(dict.fromkeys(subs)))
    return sorted([*whole.values(), *chosen.values()], key=lambda t: t.rel)


def to_rel(repo_root: str, target: str) -> str:
    """A user path (relative to the cwd) as a repo-relative POSIX path; must stay inside."""
    absp = os.path.abspath(target)
    parent = os.path.realpath(os.path.dirname(absp))
    full = os.path.join(parent, os.path.basename(absp)) if os.path.basename(absp) else parent
    rel = os.path.relpath(full, os.path.realpath(repo_root)).replace(os.sep, "/")
    if rel == ".." or rel.startswith("../"):
        raise BadInputError(f"{target} is outside the repository {repo_root}")
    return rel


def expand(targets: list[str]) -> list[str]:
    """Expand globs the shell did not (quoted patterns); a pattern matching nothing is an error."""
    out: list[str] = []
    for t in targets:
        if _GLOB_CHARS & set(t) and not os.path.lexists(t):
            hits = sorted(glob.glob(t, recursive=True))
            if not hits:
                raise BadInputError(f"no file matches {t!r}")
            out.extend(hits)
        else:
            out.append(t)
    return list(dict.fromkeys(out))


def check_addable(repo_root: str, target: str, rel: str) -> bool:
    """Validate one ``add`` target; returns True for a directory."""
    if rel in ("", "."):
        raise BadInputError("cannot add the repository root; add a file or a directory in it")
    reserved = next((p for p in rel.split("/") if pathrules.reserved(p)), None)
    if reserved:
        raise BadInputError(f"{target}: cannot add files inside {reserved}/")
    if rel.endswith(pointer.SUFFIX):
        raise BadInputError(f"{target} is a gitml pointer file; add the data path it names")
    name = os.fsencode(rel.rpartition("/")[2] + pointer.SUFFIX)
    if len(name) > 255:
        raise BadInputError(f"{target}: the name is too long for its pointer file ({len(name)} "
                            f"bytes with {pointer.SUFFIX}; a file name holds 255): rename it "
                            f"or add the directory it is in")
    full = os.path.join(repo_root, *rel.split("/"))
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        raise BadInputError(f"{target} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        if not os.path.exists(full):
            raise BadInputError(f"{target} is a broken symbolic link")
        raise BadInputError(f"{target} is a symbolic link; add the file or directory it points to")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise BadInputError(f"{target} is not a regular file or directory")
    return stat.S_ISDIR(st.st_mode)


def tracked_parent(repo_root: str, rel: str) -> str | None:
    """The tracked directory ``rel`` lies inside, if any."""
    parent = rel.rpartition("/")[0]
    while parent:
        if os.path.isfile(os.path.join(repo_root, *parent.split("/")) + pointer.SUFFIX):
            return parent
        parent = parent.rpartition("/")[0]
    return None


def check_not_git_tracked(repo_root: str, rels: list[str]) -> None:
    hits = gitio.tracked(repo_root, rels)
    if hits:
        first = hits[0]
        owner = next((r for r in rels if first == r or first.startswith(r + "/")), first)
        flag = " -r" if owner != first else ""
        raise BadInputError(
            f"{owner} is already tracked by Git; untrack it first with "
            f"'git rm{flag} --cached {owner}' and commit, then 'gitml add {owner}'")


# -- .gitignore entries for tracked paths ------------------------------------------------
def _ignore_file(repo_root: str, rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    directory = os.path.join(repo_root, *parent.split("/")) if parent else repo_root
    return os.path.join(directory, ".gitignore"), "/" + _escape(name)


def _escape(name: str) -> str:
    out = name.replace("\\", "\\\\")
    for ch in "*?[!#":
        out = out.replace(ch, "\\" + ch)
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def ignore(repo_root: str, rel: str) -> str | None:
    """Make Git ignore ``rel``; returns the .gitignore path when it changed."""
    path, line = _ignore_file(repo_root, rel)
    lines = _read_lines(path)
    if line in lines:
        return None
    text = "".join(x + "\n" for x in lines + [line])
    atomic_write(path, text.encode())
    return path


def unignore(repo_root: str, rel: str) -> str | None:
    path, line = _ignore_file(repo_root, rel)
    lines = _read_lines(path)
    if line not in lines:
        return None
    rest = [x for x in lines if x != line]
    if rest:
        atomic_write(path, "".join(x + "\n" for x in rest).encode())
    else:
        os.unlink(path)
    return path


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
