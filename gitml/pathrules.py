"""Which paths from a stranger gitml may write: Git's own rules, plus gitml's names.

Every path read from a pointer (its file name and ``path:``), a manifest, a lock file,
the run cache, a remote or an import goes through :func:`check_relpath` before anything
is written or deleted. The rules follow Git's ``verify_path`` (read-cache.c) with
``core.protectNTFS`` and ``core.protectHFS`` both on, as if every clone could land on any
platform (``is_ntfs_dotgit``, ``is_hfs_dotgit`` in path.c), and apply them to ``.gitml``
as well as ``.git``:

- no empty, ``.`` or ``..`` component, no absolute path, no backslash or NUL;
- no component that is ``.git`` or ``.gitml`` in any spelling a file system may take for
  it: any case, trailing dots and spaces, an NTFS stream suffix (``.git::$DATA``), the
  NTFS 8.3 short names (``GIT~1``, ``GITML~1``, hashed ``GI1A2B~1``), HFS+'s ignored
  code points (``.g\\u200cit``);
- no component named like gitml's own temp files (``.gitml-tmp-*``), which gitml
  deletes as leftovers of killed processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gitml.errors import UnsafePathError

TMP_PREFIX = ".gitml-tmp-"

# Code points HFS+ ignores when comparing names (Git's is_hfs_dotgit list).
_HFS_IGNORED = re.compile("[\u200c\u200d\u200e\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
# A reserved name once case is folded and HFS+'s ignored code points are dropped: the
# name, then only dots and spaces, up to the end or an NTFS stream separator.
_RESERVED = re.compile(r"(?:\.git|\.gitml|git~\d+|gitml~\d+|gi[0-9a-f]{4}~\d+)[. ]*(?::.*)?",
                       re.DOTALL)
# Quick screen over many paths: anything that could be reserved contains one of these.
_SUSPECT = re.compile("(?i:git)|~|[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")


def reserved(component: str) -> bool:
    """True when ``component`` may name ``.git``/``.gitml`` on some file system, or is a
    gitml temp-file name."""
    if component.startswith(TMP_PREFIX):
        return True
    name = _HFS_IGNORED.sub("", component).lower()
    return _RESERVED.fullmatch(name) is not None


def problem(rel: str) -> str | None:
    """Why ``rel`` may not be written, or None when it is a clean relative POSIX path."""
    if not isinstance(rel, str) or not rel:
        return f"invalid path {rel!r}"
    if "\x00" in rel or "\\" in rel:
        return f"invalid path {rel!r}"
    if rel.startswith("/"):
        return f"absolute path {rel!r} is not allowed"
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return f"path {rel!r} must not contain '..', '.' or empty parts"
    for p in parts:
        if reserved(p):
            return f"path {rel!r} has the reserved component {p!r} (.git, .gitml and " \
                   "their other spellings are never written)"
    return None


def check_relpath(rel: str, *, source: str = "") -> None:
    """Raise :class:`UnsafePathError` unless ``rel`` is a path gitml may write."""
    # Fast path for the common case (called once per manifest entry).
    if (rel and rel[0] != "/" and rel[-1] != "/" and "//" not in rel and "/." not in rel
            and rel[0] != "." and "\\" not in rel and "\x00" not in rel
            and _SUSPECT.search(rel) is None):
        return
    why = problem(rel)
    if why is not None:
        raise UnsafePathError(source or "path", why)


def check_many(paths: Iterable[str], *, source: str = "") -> None:
    """:func:`check_relpath` of every path, with one screen over all of them first
    (manifests of 100,000 files)."""
    paths = list(paths)
    joined = "\x00".join(paths)
    if (joined.count("\x00") == len(paths) - 1 and "\\" not in joined
            and _SUSPECT.search(joined) is None):
        bounded = "\x00" + joined.replace("/", "\x00") + "\x00"
        if not any(s in bounded for s in ("\x00\x00", "\x00.\x00", "\x00..\x00")):
            return
    for p in paths:
        check_relpath(p, source=source)
