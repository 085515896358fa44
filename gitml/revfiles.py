"""Metrics and params files at many revisions, read through one ``git cat-file --batch``.

A revision's tree is walked through the batch reader (trees are cached by their SHA, so
500 branches that share folders read each folder once); blobs and store objects are parsed
once per content hash. A file that is too large or does not parse becomes an error on that
file at that revision, never a hang and never the end of the whole command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from gitml import gitio, metricspec, pointer, project, structured, yamlio
from gitml.errors import BadInputError, FormatError, GitError, GitmlError
from gitml.metricspec import Declared, has_glob, match_path
from gitml.readapi import NotFoundError, RevReader
from gitml.repo import Repo

WORKSPACE = "workspace"
DVC_PROJECT = "dvc.yaml"  # declares metrics and params at revisions from before an import
# Larger files are not read (a warning says so): the YAML parser needs ~1.5 s per MiB of
# small keys, JSON and TOML are quicker, and CSV/TSV only has its header and last row parsed.
MAX_BYTES = {"yaml": yamlio.limit("values"), "json": yamlio.limit("values", "json"),
             "toml": yamlio.limit("values", "toml"),
             "csv": structured.MAX_BYTES, "tsv": structured.MAX_BYTES}
MAX_KEYS = 250_000  # a metrics file with more values is refused rather than printed
_MEMO_TREE_MAX = 2000  # larger trees are read each time rather than kept in the memo


@dataclass(frozen=True)
class Rev:
    """A revision to read: ``sha`` None is the workspace; ``explicit`` when the user named it
    (a broken gitml.yaml there is an error, not a warning)."""

    label: str
    sha: str | None = None
    tree: str | None = None
    explicit: bool = True


@dataclass
class FileData:
    """One file at one revision: flattened values, or the reason it could not be read."""

    path: str
    data: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data} if self.error is None else {"error": self.error}


@dataclass
class Snapshot:
    rev: Rev
    declared: Declared | None = None
    files: dict[str, FileData] = field(default_factory=dict)
    error: str | None = None  # the revision's gitml.yaml could not be read
    missing: list[str] = field(default_factory=list)  # declared in gitml.yaml, not there

    def warnings(self) -> list[str]:
        if self.error:
            return [self.error]
        return [f"{f.path}@{self.rev.label}: {f.error}" for f in self.files.values()
                if f.error] + [f"{p}@{self.rev.label}: declared in gitml.yaml but missing"
                               for p in self.missing]


# -- revisions -------------------------------------------------------------------------------

def resolve(reader: RevReader, rev: str) -> Rev:
    """A user's revision (branch, tag, SHA, ``HEAD~2``) -> its commit and tree."""
    obj = reader.batch.read_commit(rev)
    if obj is None or not obj[1].startswith(b"tree "):
        raise gitio.unknown_revision(reader.repo.root, rev)
    return Rev(rev, obj[0], obj[1][5:obj[1].index(b"\n")].decode())


def select(repo: Repo, reader: RevReader, revs: list[str], *, all_branches: bool = False,
           all_tags: bool = False, branches: list[str] | None = None) -> list[Rev]:
    """Named revisions, then branches and tags from one ``git for-each-ref``; none at all is
    the workspace."""
    out = [Rev(WORKSPACE) if r == WORKSPACE else resolve(reader, r) for r in revs]
    want_heads = all_branches or bool(branches)
    if want_heads or all_tags:
        prefix = "refs/" if want_heads and all_tags else \
            "refs/heads/" if want_heads else "refs/tags/"
        rows = gitio.for_each_ref(repo.root, prefix, [
            "%(refname)", "%(objectname)", "%(objecttype)", "%(tree)", "%(*objectname)",
            "%(*objecttype)", "%(*tree)"])
        found = []
        for ref, sha, typ, tree, psha, ptyp, ptree in rows:
            if ref.startswith("refs/heads/") and want_heads:
                name = ref[len("refs/heads/"):]
                if not all_branches and not any(fnmatchcase(name, p) for p in branches or []):
                    continue
            elif ref.startswith("refs/tags/") and all_tags:
                name = ref[len("refs/tags/"):]
            else:
                continue
            if typ == "tag":
                sha, typ, tree = psha, ptyp, ptree
            if typ == "commit":
                found.append((ref, name, sha, tree))
        names = [n for _, n, _, _ in found]
        for ref, name, sha, tree in found:
            label = ref[5:] if names.count(name) > 1 else name  # heads/x vs tags/x
            out.append(Rev(label, sha, tree, explicit=False))
        if branches and not all_branches and not any(
                r.startswith("refs/heads/") for r, _, _, _ in found):
            raise BadInputError(f"no branch matches {', '.join(branches)}")
    if not out:
        out.append(Rev(WORKSPACE))
    seen: set[str] = set()
    return [r for r in out if not (r.label in seen or seen.add(r.label))]  # type: ignore[func-returns-value]


# -- reading ---------------------------------------------------------------------------------

class Loader:
    """Reads the metrics or params files of revisions; caches trees and parsed content."""

    def __init__(self, repo: Repo, kind: str, targets: list[str] | None = None,
                 reader: RevReader | None = None) -> None:
        self.repo = repo
        self.kind = kind
        self.targets = targets
        self.reader = reader or RevReader(repo)
        self._own_reader = reader is None
        self._trees: dict[str, dict[str, tuple[str, str]]] = {}
        self._parsed: dict[tuple[str, str], tuple[dict[str, Any] | None, str | None]] = {}
        self._projects: dict[str, Declared | str] = {}
        self._ws_files: list[str] | None = None
        self._dvc_revs: set[str] = set()  # revisions read through their dvc.yaml

    def close(self) -> None:
        if self._own_reader:
            self.reader.close()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self, rev: Rev) -> Snapshot:
        snap = Snapshot(rev)
        try:
            snap.declared = self._declared(rev)
        except FormatError as e:
            if rev.explicit:
                raise
            snap.error = str(e)
            return snap
        patterns = self.targets or snap.declared.patterns()
        found: dict[str, tuple[str, Any]] = {}
        for pat in patterns:
            for path, how in (self._ws_match(pat) if rev.sha is None
                              else self._tree_match(rev, pat)).items():
                found.setdefault(path, how)
        for path in sorted(found):
            snap.files[path] = self._load(path, found[path], rev)
        if not self.targets:
            snap.missing = [p for p in snap.declared.required if p not in found
                            and not any(f.startswith(p + "/") for f in found)]
        if self.kind == "params":
            _drop_live_repeats(snap.files)
        return snap

    # -- gitml.yaml ----------------------------------------------------------------------
    def _declared(self, rev: Rev) -> Declared:
        if rev.sha is None:
            doc = project.load(self.repo)
            return metricspec.declared(doc, self.kind, project.PROJECT_FILE)
        tree = self._tree(rev.tree or "")
        entry = tree.get(project.PROJECT_FILE)
        if entry is None or entry[0] == "40000":
            dvc = tree.get(DVC_PROJECT)
            if dvc is None or dvc[0] == "40000":
                return metricspec.declared({}, self.kind)
            return self._dvc_declared(rev, dvc[1])
        sha = entry[1]
        cached = self._projects.get(sha)
        source = f"{rev.label}:{project.PROJECT_FILE}"
        if cached is None:
            memo_key = ("project", sha)
            try:
                doc = self.reader.memo.get(memo_key)
                if doc is None:
                    doc = project.parse(self.reader.batch.read(sha) or b"", source)
                    self.reader.memo.put(memo_key, doc)
                if project.needs_vars(doc):  # the result depends on this revision's vars
                    doc = project.interpolate(doc, project.rev_reader(self.reader.batch,
                                                                      rev.sha or ""), source)
                    return metricspec.declared(doc, self.kind, source)
                cached = metricspec.declared(doc, self.kind, source)
            except FormatError as e:
                cached = e.problem
            self._projects[sha] = cached
        if isinstance(cached, str):
            raise FormatError(source, cached)
        return cached

    def _dvc_declared(self, rev: Rev, sha: str) -> Declared:
        """A revision from before ``gitml import-dvc``: what its dvc.yaml declares (a
        dvc.yaml that does not parse declares nothing: the defaults apply)."""
        from gitml.dvcimport.history import declarations

        self._dvc_revs.add(rev.sha or "")
        cached = self._projects.get(sha)
        if cached is None:
            source = f"{rev.label}:{DVC_PROJECT}"
            doc = declarations(self.reader.batch.read(sha) or b"", source) or {}
            try:
                cached = metricspec.declared(doc, self.kind, source)
            except FormatError:
                cached = metricspec.declared({}, self.kind)
            self._projects[sha] = cached
        assert not isinstance(cached, str)
        return cached

    # -- finding files at a revision -----------------------------------------------------
    def _tree(self, sha: str) -> dict[str, tuple[str, str]]:
        entries = self._trees.get(sha)
        if entries is None:
            entries = self.reader.memo.get(("tree", sha))
            if entries is None:
                obj = self.reader.batch.read_object(sha)
                if obj is None or obj[1] != "tree" or obj[2] is None:
                    raise GitError(f"cannot read tree {sha}")
                entries = {name: (mode, oid) for mode, name, oid
                           in gitio.parse_tree(obj[2], len(sha) // 2)}
                if len(entries) <= _MEMO_TREE_MAX:
                    self.reader.memo.put(("tree", sha), entries)
            self._trees[sha] = entries
        return entries

    def _tree_match(self, rev: Rev, pattern: str) -> dict[str, tuple[str, Any]]:
        out: dict[str, tuple[str, Any]] = {}
        self._walk(rev, rev.tree or "", "", pattern.split("/"), out, glob=has_glob(pattern))
        if not out and rev.sha in self._dvc_revs and not has_glob(pattern):
            from gitml.dvcimport import history  # DVC-era data: a cached metrics file

            if pattern in history.pointers_at(self.repo, rev.sha, self.reader.batch):
                out[pattern] = ("locate", pattern)
        return out

    def _walk(self, rev: Rev, tree: str, base: str, segs: list[str],
              out: dict[str, tuple[str, Any]], glob: bool) -> None:
        entries = self._tree(tree)
        seg, rest = segs[0], segs[1:]
        if seg == "**":
            if rest:
                self._walk(rev, tree, base, rest, out, glob)
            else:
                self._all_files(tree, base, out)
            for name, (mode, sha) in entries.items():
                if mode == "40000":
                    self._walk(rev, sha, f"{base}{name}/", segs, out, glob)
            return
        if has_glob(seg):
            names = [n for n in entries if fnmatchcase(n, seg) or (
                n.endswith(pointer.SUFFIX) and fnmatchcase(n[:-len(pointer.SUFFIX)], seg))]
        else:
            names = [seg] if seg in entries else []
            if seg + pointer.SUFFIX in entries:
                names.append(seg + pointer.SUFFIX)
        for name in names:
            mode, sha = entries[name]
            path = base + name
            if mode == "40000":
                if rest:
                    self._walk(rev, sha, path + "/", rest, out, glob)
                else:
                    self._all_files(sha, path + "/", out)
            elif rest:
                if name.endswith(pointer.SUFFIX) and not glob:
                    # a file inside a tracked directory: the read API follows its manifest
                    full = "/".join([path[:-len(pointer.SUFFIX)], *rest])
                    out.setdefault(full, ("locate", full))
            elif name.endswith(pointer.SUFFIX):
                data_path = path[:-len(pointer.SUFFIX)]
                if (not glob or structured.format_of(data_path)) and data_path not in out:
                    out[data_path] = ("pointer", sha)
            elif mode in ("100644", "100755") and (not glob or structured.format_of(path)):
                out[path] = ("blob", sha)
            elif mode == "120000" and not glob:
                out[path] = ("error", "a symbolic link; not followed at a revision")

    def _all_files(self, tree: str, base: str, out: dict[str, tuple[str, Any]]) -> None:
        """Every file of a known format below a folder named by a target or a declaration."""
        for name, (mode, sha) in self._tree(tree).items():
            if mode == "40000":
                self._all_files(sha, f"{base}{name}/", out)
            elif name.endswith(pointer.SUFFIX):
                data_path = base + name[:-len(pointer.SUFFIX)]
                if structured.format_of(data_path):
                    out.setdefault(data_path, ("pointer", sha))
            elif mode in ("100644", "100755") and structured.format_of(name):
                out[base + name] = ("blob", sha)

    # -- finding files in the workspace --------------------------------------------------
    def _ws_list(self) -> list[str]:
        """Files Git would see in the workspace (tracked or not ignored); pointers stand for
        their data. One ``git ls-files``, only when a glob or a folder needs it."""
        if self._ws_files is None:
            out = gitio.run(self.repo.root, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard", "--deduplicate")
            self._ws_files = sorted({p for p in out.decode(errors="surrogateescape")
                                     .split("\0") if p})
        return self._ws_files

    def _ws_match(self, pattern: str) -> dict[str, tuple[str, Any]]:
        out: dict[str, tuple[str, Any]] = {}
        full = self.repo.abspath(pattern)
        if not has_glob(pattern):
            if os.path.isfile(full):
                return {pattern: ("file", full)}
            if os.path.isfile(full + pointer.SUFFIX):
                return {pattern: ("wpointer", full + pointer.SUFFIX)}
            if not os.path.isdir(full):
                return {pattern: ("locate", pattern)} if self._in_tracked_dir(pattern) else {}
        for p in self._ws_list():
            data_path = p[:-len(pointer.SUFFIX)] if p.endswith(pointer.SUFFIX) else p
            if not match_path(pattern, data_path) or not structured.format_of(data_path):
                continue
            if os.path.isfile(self.repo.abspath(data_path)):
                out.setdefault(data_path, ("file", self.repo.abspath(data_path)))
            elif p.endswith(pointer.SUFFIX):
                out.setdefault(data_path, ("wpointer", self.repo.abspath(p)))
        return out

    def _in_tracked_dir(self, path: str) -> bool:
        parts = path.split("/")
        return any(os.path.isfile(self.repo.abspath("/".join(parts[:i]) + pointer.SUFFIX))
                   for i in range(1, len(parts)))

    # -- reading and parsing ---------------------------------------------------------------
    def _load(self, path: str, how: tuple[str, Any], rev: Rev) -> FileData:
        fmt = structured.format_of(path)
        kind, ref = how
        if kind == "error":
            return FileData(path, error=ref)
        if fmt is None:
            return FileData(path, error="unknown format (use .json, .yaml, .yml, .toml, "
                                        ".csv or .tsv)")
        limit = MAX_BYTES[fmt]
        try:
            if kind == "blob":
                key = (ref, fmt)
                if key not in self._parsed:
                    memo_key = ("parsed", ref, fmt, self.kind)
                    parsed = self.reader.memo.get(memo_key)
                    if parsed is None:
                        obj = self.reader.batch.read_object(ref, limit=limit)
                        parsed = self._parse(obj[2] if obj else b"", obj[3] if obj else 0,
                                             path, fmt)
                        if obj is not None:
                            self.reader.memo.put(memo_key, parsed)
                    self._parsed[key] = parsed
                data, err = self._parsed[key]
                return FileData(path, data, err)
            if kind in ("pointer", "wpointer"):
                if kind == "pointer":
                    raw = self.reader.batch.read(ref) or b""
                    src = f"{rev.label}:{path}{pointer.SUFFIX}"
                    ptr = pointer.load_at(raw, path + pointer.SUFFIX, src)
                else:
                    ptr = pointer.load(ref, source=path + pointer.SUFFIX)
                if ptr.is_dir:
                    return FileData(path, error="a tracked directory, not a file")
                key = (ptr.oid, fmt)
                if key not in self._parsed:
                    body = None if ptr.size > limit else self.reader.object_bytes(ptr.oid, path)
                    self._parsed[key] = self._parse(body, ptr.size, path, fmt)
                data, err = self._parsed[key]
                return FileData(path, data, err)
            if kind == "file":
                size = os.path.getsize(ref)
                body = None
                if size <= limit:
                    with open(ref, "rb") as f:
                        body = f.read()
                data, err = self._parse(body, size, path, fmt)
                return FileData(path, data, err)
            body = self.reader.read_bytes(path, rev.sha)  # inside a tracked directory
            data, err = self._parse(body if len(body) <= limit else None, len(body), path, fmt)
            return FileData(path, data, err)
        except NotFoundError as e:
            return FileData(path, error=str(e))
        except FormatError as e:
            return FileData(path, error=e.problem)
        except (GitmlError, OSError) as e:
            return FileData(path, error=str(e))

    def _parse(self, body: bytes | None, size: int, path: str, fmt: str
               ) -> tuple[dict[str, Any] | None, str | None]:
        if body is None:
            return None, (f"{size / (1 << 20):.1f} MiB is over the {MAX_BYTES[fmt] >> 20} MiB "
                          f"limit for {fmt.upper()} {self.kind} files; not read")
        if fmt in ("csv", "tsv"):
            body = _csv_ends(body)
        try:
            doc = structured.parse(body, path)
            if self.kind == "metrics":
                return _metric_values(doc, path), None
            return structured.flatten(doc, limit=MAX_KEYS), None
        except FormatError as e:
            return None, e.problem
        except ValueError as e:
            return None, f"{e}; not a {self.kind} file"
        except RecursionError:
            return None, "nested too deeply to read"


def _drop_live_repeats(files: dict[str, FileData]) -> None:
    """The training logger's params that another params file already holds, with the same
    value, are shown once (from that file): a script that logs its params.yaml does not
    double every row of ``exp show`` and ``params diff``."""
    live_path = metricspec.LIVE["params"]
    live = files.get(live_path)
    if live is None or not live.data:
        return
    others = [f.data for p, f in files.items() if p != live_path and f.data]
    kept = {k: v for k, v in live.data.items()
            if not any(k in o and o[k] == v and type(o[k]) is type(v) for o in others)}
    if len(kept) == len(live.data):
        return
    if kept:
        files[live_path] = FileData(live_path, kept)
    else:
        del files[live_path]


def _metric_values(doc: Any, path: str) -> dict[str, Any]:
    """Metrics of a parsed file: one number is a metric named after the file (``acc.json``
    holding ``0.9`` is ``acc``); empty mappings and lists are no metric."""
    if isinstance(doc, int | float) and not isinstance(doc, bool):
        name = path.rsplit("/", 1)[-1]
        return {name.rsplit(".", 1)[0] if "." in name else name: doc}
    flat = structured.flatten(doc, limit=MAX_KEYS)
    return {k: v for k, v in flat.items() if v != {} and v != []}


def _csv_ends(body: bytes) -> bytes:
    """Only the header and the last row count; skip parsing a long series in between."""
    if len(body) < (1 << 16) or b'"' in body:
        return body
    head, _, rest = body.partition(b"\n")
    tail = rest.rstrip(b"\r\n")
    return head + b"\n" + tail[tail.rfind(b"\n") + 1:] + b"\n" if tail else body


def prefix_targets(repo: Repo, targets: list[str]) -> list[str]:
    """User paths (relative to the current directory) as repository patterns."""
    here = os.path.relpath(os.getcwd(), repo.root).replace(os.sep, "/")
    out = []
    for t in targets:
        t = t.replace(os.sep, "/")
        if not os.path.isabs(t) and here not in (".", "") and not here.startswith(".."):
            t = f"{here}/{t}"
        elif os.path.isabs(t):
            rel = os.path.relpath(t, repo.root).replace(os.sep, "/")
            if rel.startswith(".."):
                raise BadInputError(f"{t} is outside the repository {repo.root}")
            t = rel
        norm = os.path.normpath(t).replace(os.sep, "/")
        if norm.startswith("..") or norm == ".":
            raise BadInputError(f"{t} is outside the repository {repo.root}" if norm != "."
                                else "a target must name a file, folder or glob")
        out.append(metricspec._pattern(norm, "target", "command line"))
    return out
