"""DVC's own files, read as data from a stranger: ``.dvc`` files, ``dvc.lock``, ``.dir``
manifests and ``.dvc/config``.

Every path is made repository-relative and checked by :func:`gitml.fsutil.check_relpath`
before anything uses it; YAML goes through :func:`gitml.yamlio.loads`; sizes are bounded
before a byte is parsed. Formats as DVC 3 writes them (DVC 2's are read too)::

    # data.csv.dvc                          # dvc.lock (schema 2.0)
    outs:                                   schema: '2.0'
    - md5: 0123...cdef                      stages:
      size: 6                                 train:
      hash: md5      # absent: DVC 2            cmd: python train.py
      path: data.csv                            deps: [{path: .., md5: .., size: ..}]
                                                params: {params.yaml: {train.lr: 0.1}}
    # <md5>.dir in the cache (JSON)             outs: [{path: .., md5: <md5>.dir, nfiles: ..}]
    [{"md5": "...", "relpath": "a/b.png"}, ...]
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from gitml import yamlio
from gitml.errors import FormatError, UnsafePathError
from gitml.fsutil import check_relpath

MAX_YAML = 64 << 20  # a .dvc file, dvc.yaml or dvc.lock larger than this is refused
MAX_DIR = 512 << 20  # a .dir manifest (about 6 million files)
MAX_CONFIG = 1 << 20
_MD5 = re.compile(r"[0-9a-f]{32}")
_MD5S = re.compile(r"(?:[0-9a-f]{32}\n)*")
# keys of a .dvc out / lock entry that carry no meaning for gitml (or that we read)
_OUT_KEYS = {"path", "md5", "hash", "size", "nfiles", "isexec", "cache", "persist", "desc",
             "type", "labels", "meta", "remote", "push", "files", "cloud", "etag",
             "checksum", "version_id"}


@dataclass(frozen=True)
class Skip:
    """One thing the import leaves out, and why (printed one per line)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True)
class DvcHash:
    """DVC's hash of a file or directory: an MD5, of the ``.dir`` manifest for a directory.

    ``legacy``: written by DVC 2 (``md5-dos2unix``; text files hashed with CRLF as LF,
    cached at ``xx/yyyy`` rather than ``files/md5/xx/yyyy``).
    """

    md5: str
    is_dir: bool = False
    legacy: bool = False
    size: int | None = None
    nfiles: int | None = None

    @property
    def name(self) -> str:
        """The object's name in DVC's cache: ``<md5>`` or ``<md5>.dir``."""
        return self.md5 + ".dir" if self.is_dir else self.md5


@dataclass(frozen=True)
class DvcOut:
    """An output of a ``.dvc`` file or a dvc.lock stage (or a dep: same shape)."""

    path: str  # repository-relative POSIX path
    hash: DvcHash | None  # None: DVC never hashed it
    cache: bool = True
    persist: bool = False
    extra: tuple[str, ...] = ()  # DVC-only options present (remote, push, cloud ...)


@dataclass
class DvcFile:
    """A ``.dvc`` file: its outputs; ``deps`` make it an import (``dvc import[-url]``)."""

    rel: str
    outs: list[DvcOut] = field(default_factory=list)
    deps: list[dict[str, Any]] = field(default_factory=list)
    frozen: bool = False


@dataclass
class LockStage:
    """One stage of dvc.lock, with paths as written (relative to the stage's wdir)."""

    cmd: tuple[str, ...]
    deps: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: list[dict[str, Any]] = field(default_factory=list)


# -- paths ----------------------------------------------------------------------------------
def repo_path(base: str, path: Any, source: str) -> str:
    """``path`` written in a DVC file whose paths are relative to directory ``base``, as a
    checked repository-relative path. Raises :class:`UnsafePathError` for a path outside
    the repository (absolute, ``..`` past the root, a URL) or one gitml refuses."""
    if not isinstance(path, str) or not path:
        raise FormatError(source, f"malformed path {path!r}")
    if "://" in path or path.startswith("remote:"):
        raise UnsafePathError(source, f"{path!r} is outside the repository (an external "
                                      "output or dependency)")
    if path.startswith("/") or "\x00" in path or "\\" in path:
        raise UnsafePathError(source, f"{path!r} must be a relative path inside the repository")
    rel = posixpath.normpath(posixpath.join(base, path) if base else path)
    if rel in (".", "..") or rel.startswith("../"):
        raise UnsafePathError(source, f"{path!r} is outside the repository")
    check_relpath(rel, source=source)
    return rel


def read_limited(path: str, limit: int, source: str) -> bytes:
    """The bytes of a file, refused (FormatError) when larger than ``limit``."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FormatError(source, f"larger than {limit >> 20} MiB; not read")
    return data


def load_yaml(data: bytes, source: str) -> Any:
    if len(data) > MAX_YAML:
        raise FormatError(source, f"larger than {MAX_YAML >> 20} MiB; not read")
    return yamlio.loads(data, source)


# -- hashes ---------------------------------------------------------------------------------
def parse_hash(entry: dict[str, Any], source: str) -> DvcHash | None:
    """The hash of a .dvc out or lock entry; None when it has none. Raises FormatError for
    a malformed one and :class:`Unsupported` for a kind gitml cannot verify."""
    name = entry.get("hash")
    md5 = entry.get("md5")
    if md5 is None:
        for other in ("etag", "checksum"):
            if other in entry:
                raise Unsupported(f"hashed by {other} (an external output); gitml "
                                  "verifies MD5 only")
        return None
    if name not in (None, "md5", "md5-dos2unix"):
        raise Unsupported(f"hash {name!r}: gitml verifies MD5 only")
    if not isinstance(md5, str):
        raise FormatError(source, f"malformed md5 {md5!r}")
    hexd, is_dir = (md5[:-4], True) if md5.endswith(".dir") else (md5, False)
    if not _MD5.fullmatch(hexd):
        raise FormatError(source, f"malformed md5 {md5!r}")
    size, nfiles = entry.get("size"), entry.get("nfiles")
    for what, v in (("size", size), ("nfiles", nfiles)):
        if v is not None and (type(v) is not int or v < 0):
            raise FormatError(source, f"malformed {what} {v!r}")
    return DvcHash(hexd, is_dir, name != "md5", size, nfiles)


class Unsupported(Exception):
    """Something well-formed that gitml cannot convert; the message is the reason."""


def parse_out(entry: Any, base: str, source: str) -> DvcOut:
    """One item of ``outs:`` in a .dvc file (paths relative to ``base``)."""
    if not isinstance(entry, dict):
        raise FormatError(source, f"malformed output {entry!r}")
    path = repo_path(base, entry.get("path"), source)
    h = parse_hash(entry, f"{source}: {path}")
    for flag in ("cache", "persist", "push"):
        if not isinstance(entry.get(flag, True), bool):
            raise FormatError(source, f"{path}: {flag} must be true or false")
    extra = tuple(sorted(k for k in entry if k in ("remote", "cloud", "files")
                         or (k == "push" and entry[k] is False)))
    unknown = sorted(set(entry) - _OUT_KEYS)
    if unknown:
        extra += tuple(unknown)
    return DvcOut(path, h, bool(entry.get("cache", True)), bool(entry.get("persist", False)),
                  extra)


def parse_dvcfile(data: bytes, rel: str, source: str | None = None) -> DvcFile:
    """A ``.dvc`` file at repository path ``rel`` (``source`` names it in errors)."""
    src = source or rel
    doc = load_yaml(data, src)
    if not isinstance(doc, dict):
        raise FormatError(src, "not a DVC file (expected a mapping)")
    wdir = doc.get("wdir") or "."
    if not isinstance(wdir, str):
        raise FormatError(src, f"malformed wdir {wdir!r}")
    base = posixpath.normpath(posixpath.join(posixpath.dirname(rel), wdir))
    if base == ".." or base.startswith("../"):
        raise UnsafePathError(src, f"wdir {wdir!r} is outside the repository")
    outs = doc.get("outs") or []
    deps = doc.get("deps") or []
    if not isinstance(outs, list) or not isinstance(deps, list):
        raise FormatError(src, "'outs' and 'deps' must be lists")
    f = DvcFile(rel, [parse_out(o, "" if base == "." else base, src) for o in outs],
                [d for d in deps if isinstance(d, dict)], bool(doc.get("frozen", False)))
    if not f.outs:
        raise FormatError(src, "a DVC file without outputs")
    return f


def parse_lock(data: bytes, source: str) -> dict[str, LockStage]:
    """dvc.lock (schema 2.0, or DVC 1's stages at the top level)."""
    doc = load_yaml(data, source)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise FormatError(source, "expected a mapping")
    if "schema" in doc:
        if str(doc["schema"]) != "2.0":
            raise FormatError(source, f"unsupported lock schema {doc['schema']!r}")
        stages = doc.get("stages") or {}
    else:
        stages = doc
    if not isinstance(stages, dict):
        raise FormatError(source, "'stages' must be a mapping")
    out: dict[str, LockStage] = {}
    for name, body in stages.items():
        where = f"{source}: stage {name!r}"
        if not isinstance(name, str) or not isinstance(body, dict):
            raise FormatError(source, f"malformed stage {name!r}")
        cmd = body.get("cmd")
        cmd = [cmd] if isinstance(cmd, str) else cmd
        if not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
            raise FormatError(where, "malformed cmd")
        deps, outs = body.get("deps") or [], body.get("outs") or []
        params = body.get("params") or {}
        if (not isinstance(deps, list) or not isinstance(outs, list)
                or not all(isinstance(x, dict) for x in deps + outs)):
            raise FormatError(where, "'deps' and 'outs' must be lists of mappings")
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) for k, v in params.items()):
            raise FormatError(where, "malformed params")
        out[name] = LockStage(tuple(cmd), deps, params, outs)
    return out


# -- .dir manifests ------------------------------------------------------------------------
def parse_dir(data: bytes, source: str) -> list[tuple[str, str, bool]]:
    """(relpath, md5, isexec) of each file of a ``.dir`` manifest, its paths held to the
    rules of a gitml manifest (whole-list checks: 100,000 entries are common)."""
    from gitml.manifest import check_paths

    if len(data) > MAX_DIR:
        raise FormatError(source, f"larger than {MAX_DIR >> 20} MiB; not read")
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FormatError(source, f"not a DVC directory manifest: {e}") from None
    if not isinstance(raw, list):
        raise FormatError(source, "not a DVC directory manifest (expected a list)")
    try:
        out = [(item["relpath"], item["md5"], item.get("isexec") is True) for item in raw]
    except (TypeError, KeyError, AttributeError):
        bad = next(i for i in raw if not isinstance(i, dict) or "relpath" not in i
                   or "md5" not in i)
        raise FormatError(source, f"malformed entry {bad!r}") from None
    if not out:
        return out
    paths, md5s, _ = zip(*out, strict=True)
    if (set(map(type, paths)) != {str} or set(map(type, md5s)) != {str}
            or not _MD5S.fullmatch("\n".join(md5s) + "\n")):
        bad = next(i for i in raw if not isinstance(i["relpath"], str)
                   or not isinstance(i["md5"], str) or not _MD5.fullmatch(i["md5"]))
        raise FormatError(source, f"malformed entry {bad!r}")
    check_paths(paths, source)
    return out


# -- .dvc/config ---------------------------------------------------------------------------
def parse_config(text: str, source: str) -> dict[str, dict[str, str]]:
    """DVC's INI-style config (configobj syntax) as {section: {key: value}}; a remote's
    section is ``remote "NAME"`` (quotes around the whole name are dropped)."""
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            if not s.endswith("]"):
                raise FormatError(source, f"line {n}: malformed section {s!r}")
            name = _unquote(s[1:-1].strip())
            section = out.setdefault(name, {})
            continue
        key, eq, value = s.partition("=")
        if not eq or section is None:
            raise FormatError(source, f"line {n}: expected 'key = value' inside a section")
        value = value.strip()
        if value[:1] not in ("'", '"') and " #" in value:
            value = value[:value.index(" #")].rstrip()
        section[key.strip()] = _unquote(value)
    return out


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def remote_sections(conf: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """{name: options} of the ``remote "name"`` sections."""
    out = {}
    for sec, opts in conf.items():
        m = re.fullmatch(r'remote\s+"(.+)"', sec)
        if m:
            out[m.group(1)] = opts
    return out
