"""``gitml import-dvc``: a DVC repository becomes a gitml project in one uncommitted change.

Order (docs/design.md): DVC's files are read and checked first; then objects come into
the store (verified against DVC's MD5, hard-linked where possible) and the store is
flushed once; only then are pointers, ``gitml.yaml``, ``gitml.lock``, the config and the
DVC map written (each atomically); DVC's converted files are removed last. A run killed
at any point leaves DVC's files in place, and running the import again finishes it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import faults, gitio, pointer, tracked, yamlio
from gitml.dvcimport import discover, intake, lock, objects, pipeline, remotes
from gitml.dvcimport.dvcfiles import (
    MAX_YAML,
    DvcFile,
    DvcHash,
    LockStage,
    Skip,
    Unsupported,
    parse_dvcfile,
    parse_lock,
    read_limited,
)
from gitml.errors import (
    BadInputError,
    FormatError,
    GitmlError,
    UnsafePathError,
    WorkspaceConflictError,
)
from gitml.fsutil import SafeDirs, atomic_write
from gitml.pointer import Pointer
from gitml.progress import Progress

if TYPE_CHECKING:
    from gitml.repo import Repo


@dataclass
class ImportResult:
    """What the import did (or, with ``dry_run``, would do)."""

    dry_run: bool
    root: str = ""
    pointers: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)
    remotes: list[str] = field(default_factory=list)
    objects: int = 0  # file objects brought into the store
    linked: int = 0
    copied: int = 0
    fetched: int = 0
    directories: int = 0
    removed: list[str] = field(default_factory=list)  # DVC files deleted
    modified: list[str] = field(default_factory=list)  # workspace differs from the pointer
    stale: list[str] = field(default_factory=list)  # stages gitml (like DVC) would run
    written: list[str] = field(default_factory=list)  # files for `git add`
    skipped: list[Skip] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # data missing or corrupt

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [s.to_dict() for s in self.skipped]
        return d


@dataclass
class _Parsed:
    ws: discover.Workspace
    conf: remotes.Config
    files: list[DvcFile] = field(default_factory=list)
    conv: pipeline.Converted = field(default_factory=pipeline.Converted)
    pipe: Any = None
    pairs: list[lock.Pair] = field(default_factory=list)
    locks: dict[str, dict[str, LockStage]] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    bad_files: set[str] = field(default_factory=set)  # DVC files that stay
    incomplete: list[str] = field(default_factory=list)  # data missing or corrupt

    def data_problem(self, skip: Skip) -> None:
        self.skips.append(skip)
        self.incomplete.append(skip.where)

    def wanted(self) -> dict[str, tuple[DvcHash, str]]:
        """{DVC name: (hash, workspace path)} of the data the workspace's DVC files name."""
        out: dict[str, tuple[DvcHash, str]] = {}
        for f in self.files:
            for o in f.outs:
                if o.hash is not None and o.cache:
                    out.setdefault(o.hash.name, (o.hash, o.path))
        for path, h in lock.cached_outs(self.pairs):
            out.setdefault(h.name, (h, path))
        return out


def import_dvc(path: str | None = None, *, dry_run: bool = False, fetch: bool = False,
               jobs: int | None = None, quiet: bool = False) -> ImportResult:
    """Convert the DVC repository at ``path`` (the current one by default)."""
    root = gitio.find_root(path)
    if not os.path.isdir(os.path.join(root, ".dvc")):
        raise BadInputError(f"{root} is not a DVC repository (no .dvc directory): run the "
                            "import at the root of a DVC project")
    parsed = _parse(root)
    result = ImportResult(dry_run, root, skipped=parsed.skips)
    result.stages = list(parsed.pipe.stages) if parsed.pipe else []
    result.remotes = sorted(parsed.conf.remotes)
    project = _project_text(parsed)
    _refuse_clobber(root, project)
    cache = objects.DvcCache(parsed.conf.cache_dir)
    wanted = parsed.wanted()
    if dry_run:
        return _dry(root, parsed, cache, wanted, result, fetch)
    from gitml.repo import Repo

    repo = Repo.init(root)
    try:
        with repo.lock(), repo.store.lock():
            if fetch:
                result.fetched = _fetch(repo, parsed, cache, wanted, jobs, quiet)
            maps = _bring(repo, parsed, cache, wanted, result, quiet)
            repo.store.flush()  # objects durable before anything names them
            faults.point("import-dvc.before-pointers")
            _write(repo, parsed, maps, project, result)
        _check(repo, result)
        result.incomplete = parsed.incomplete
    finally:
        repo.close()
    return result


# -- reading DVC's files ----------------------------------------------------------------
def _parse(root: str) -> _Parsed:
    ws = discover.workspace(root)
    p = _Parsed(ws, remotes.read(root))
    p.skips.extend(p.conf.skips)
    for rel in ws.dvcfiles:
        try:
            f = parse_dvcfile(read_limited(os.path.join(root, rel), MAX_YAML, rel), rel)
        except (FormatError, Unsupported) as e:
            p.skips.append(Skip(rel, e.problem if isinstance(e, FormatError) else str(e)))
            p.bad_files.add(rel)
            continue
        p.files.append(f)
        if f.deps:
            src = f.deps[0].get("repo", {}).get("url") if isinstance(
                f.deps[0].get("repo"), dict) else f.deps[0].get("path")
            p.skips.append(Skip(rel, f"imported by DVC from {src}: the data is converted, "
                                "the link to its source ('dvc update') is not"))
            p.bad_files.add(rel)
        for o in f.outs:
            if o.hash is None:
                p.skips.append(Skip(f"{rel}: {o.path}", "DVC never hashed it; not converted"))
                p.bad_files.add(rel)
            elif not o.cache:
                p.skips.append(Skip(f"{rel}: {o.path}", "cache: false: DVC records only its "
                                    "hash; commit the file to Git to keep it versioned"))
                p.bad_files.add(rel)
            if o.extra:
                p.skips.append(Skip(f"{rel}: {o.path}", f"DVC-only option(s) "
                                    f"{', '.join(o.extra)}; dropped"))
    p.conv = pipeline.convert(root, ws.yamls)
    p.pipe = pipeline.validate(root, p.conv)
    p.skips.extend(p.conv.skips)
    for y in ws.yamls:
        lrel = y[:-4] + "lock"
        if lrel not in ws.locks:
            continue
        try:
            p.locks[y] = parse_lock(read_limited(os.path.join(root, lrel), MAX_YAML, lrel), lrel)
        except FormatError as e:
            p.skips.append(Skip(lrel, e.problem))
            p.bad_files.add(y)
    for lrel in ws.locks:
        if lrel[:-4] + "yaml" not in ws.yamls:
            p.skips.append(Skip(lrel, "no dvc.yaml beside it; not converted"))
    if p.pipe is not None:
        p.pairs = lock.pair(p.pipe, p.conv.origin, p.locks)
        for st in p.pipe.stages.values():
            if st.is_callback and st.outs and not st.always_changed:
                p.skips.append(Skip(f"stage {st.name!r}", "no deps: DVC runs it when its "
                                    "outputs change, gitml on every repro (a callback "
                                    "stage); give it a dep to run it less"))
    return p


def _project_text(p: _Parsed) -> bytes | None:
    return yamlio.dumps(p.conv.doc).encode() if p.conv.doc else None


def _refuse_clobber(root: str, project: bytes | None) -> None:
    """An existing gitml.yaml is replaced only by the same text (a rerun)."""
    path = os.path.join(root, "gitml.yaml")
    if project is not None and os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() != project:
                raise WorkspaceConflictError(
                    "gitml.yaml exists and differs from the converted dvc.yaml: move it away "
                    "(or merge it by hand afterwards), then run the import again",
                    ["gitml.yaml"])


# -- objects ----------------------------------------------------------------------------
@dataclass
class _Maps:
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # md5 -> (oid, size)
    dirs: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # md5 -> manifest


def _fetch(repo: Repo, p: _Parsed, cache: objects.DvcCache,
           wanted: dict[str, tuple[DvcHash, str]], jobs: int | None, quiet: bool) -> int:
    """Download the data the workspace names that DVC's cache lacks (dirs, then files)."""
    r = remotes.remote_for(p.conf, None)
    missing = [h for h, _ in wanted.values() if cache.path(h) is None]
    if not missing:
        return 0
    if r is None:
        raise BadInputError(f"{len(missing)} objects are not in DVC's cache and DVC names "
                            "no default remote to fetch them from")
    n = jobs or (16 if r.url.startswith("s3://") else 4)
    got = _fetch_batch(repo, p, cache, r, [h for h in missing if h.is_dir], n, quiet)
    files = [h for h in missing if not h.is_dir]
    for h, _ in wanted.values():  # the files of every directory, now that its .dir is here
        path = cache.path(h) if h.is_dir else None
        if path is not None:
            files += [f for f in (DvcHash(md5, legacy=h.legacy) for _, md5, _ in
                                  _safe_dir(path, h)) if cache.path(f) is None]
    return got + _fetch_batch(repo, p, cache, r, list({h.name: h for h in files}.values()),
                              n, quiet)


def _fetch_batch(repo: Repo, p: _Parsed, cache: objects.DvcCache, r: remotes.DvcRemote,
                 batch: list[DvcHash], jobs: int, quiet: bool) -> int:
    if not batch:
        return 0
    backend = remotes.open_backend(repo, r, jobs)
    with Progress(f"fetching from DVC remote {r.name}", total=len(batch), unit="objects") as bar:
        res = remotes.fetch(backend, cache, batch, jobs,
                            bar.update if bar.on and not quiet else None)
    for h in res.missing:
        p.data_problem(Skip(f"remote {r.name}", f"{h.name} is not on the DVC remote"))
    for h in res.corrupt:
        p.data_problem(Skip(f"remote {r.name}", f"{h.name} on the DVC remote does not have "
                            "that MD5 (corrupt); not imported"))
    return len(res.got)


def _safe_dir(path: str, h: DvcHash) -> list[tuple[str, str, bool]]:
    try:
        return objects.read_dir(path, h.md5, h.legacy)
    except (GitmlError, OSError):
        return []


def _bring(repo: Repo, p: _Parsed, cache: objects.DvcCache,
           wanted: dict[str, tuple[DvcHash, str]], result: ImportResult, quiet: bool) -> _Maps:
    """Bring in every object the workspace or any commit names, then convert directories."""
    every = dict(discover.history_hashes(repo.root))
    every.update({k: h for k, (h, _) in wanted.items()})
    got = intake.take(repo, cache, every, wanted, quiet)
    p.skips += got.skips
    for skip in got.problems:
        p.data_problem(skip)
    result.objects = len(got.files)
    result.linked, result.copied, result.directories = got.linked, got.copied, got.directories
    result.modified = got.modified
    return _Maps(got.files, got.dirs)


# -- writing ------------------------------------------------------------------------------
def _write(repo: Repo, p: _Parsed, maps: _Maps, project: bytes | None,
           result: ImportResult) -> None:
    from gitml.dvcimport import dvcmap
    from gitml.pipeline import lockfile

    resolve = lock.Resolver(repo, maps.files, maps.dirs)
    entries, skips = lock.convert(p.pairs, resolve)
    p.skips.extend(skips)
    ptrs: dict[str, Pointer] = {}
    source: dict[str, str] = {}  # data path -> the DVC file it comes from
    for f in p.files:
        for o in f.outs:
            if o.hash is None or not o.cache:
                continue
            ptr = _pointer(repo, o.path, o.hash, maps)
            if ptr is None:
                p.data_problem(Skip(f"{f.rel}: {o.path}", f"{o.hash.name} is in neither DVC's "
                                    "cache nor the workspace (dvc pull, or --fetch); not "
                                    "converted"))
                p.bad_files.add(f.rel)
                continue
            ptrs[o.path] = ptr
            source[o.path] = f.rel
    for name, entry in entries.items():
        st = p.pipe.stages[name]
        for o in st.outs:
            info = entry.outs.get(o.path)
            if o.cache and info is not None and info.oid != lock.UNKNOWN:
                kind = "dir" if info.files is not None else "file"
                ptrs[o.path] = Pointer(os.path.basename(o.path), kind, info.oid, info.size,
                                       info.files)
                source[o.path] = p.conv.origin.get(st.group or st.name, ("dvc.yaml",))[0]
    _refuse_pointer_clobber(repo, ptrs)
    safe = SafeDirs(repo.root)  # paths from DVC's files: never written through a link
    for rel in sorted(ptrs):
        prel = rel + pointer.SUFFIX
        try:
            safe.make(os.path.dirname(repo.abspath(prel)))
        except (UnsafePathError, WorkspaceConflictError) as e:
            p.skips.append(Skip(f"{source[rel]}: {rel}", f"{e}; not converted"))
            p.bad_files.add(source[rel])
            continue
        atomic_write(repo.abspath(prel), pointer.dumps(ptrs[rel]).encode())
        result.pointers.append(prel)
        gi = tracked.ignore(repo.root, rel)
        result.written += [prel] + ([repo.rel(gi)] if gi else [])
    if project is not None:
        atomic_write(os.path.join(repo.root, "gitml.yaml"), project)
        lockfile.save(repo.root, entries)
        result.written += ["gitml.yaml"] + (["gitml.lock"] if entries else [])
    result.locked = sorted(entries)
    remotes.apply(repo, p.conf)
    dvcmap.save(repo, _map_entries(maps))
    result.written += [".gitml/config.yaml", ".gitml/.gitignore", dvcmap.RECORD]
    if os.path.exists(os.path.join(repo.root, ".gitattributes")):
        result.written.append(".gitattributes")
    _remove_dvc_files(repo, p, result)


def _pointer(repo: Repo, rel: str, h: DvcHash, maps: _Maps) -> Pointer | None:
    name = os.path.basename(rel)
    if h.is_dir:
        d = maps.dirs.get(h.md5)
        return None if d is None else Pointer(name, "dir", d[0], d[1], d[2])
    f = maps.files.get(h.md5)
    if f is None:
        return None
    meta: dict[str, Any] = {}
    if rel.endswith(".parquet"):
        from gitml.tabular.meta import parquet_meta

        try:
            meta = parquet_meta(repo.store.path(f[0]))
        except Exception:  # noqa: BLE001 - metadata is optional; the data is what counts
            meta = {}
    return Pointer(name, "file", f[0], f[1], None, meta)


def _refuse_pointer_clobber(repo: Repo, ptrs: dict[str, Pointer]) -> None:
    clash = []
    for rel, ptr in ptrs.items():
        path = repo.abspath(rel + pointer.SUFFIX)
        if os.path.exists(path):
            with open(path, "rb") as f:
                if f.read() != pointer.dumps(ptr).encode():
                    clash.append(rel + pointer.SUFFIX)
    if clash:
        raise WorkspaceConflictError(
            f"{len(clash)} gitml pointer(s) exist with other content: {', '.join(clash[:5])}; "
            "move them away (or 'gitml remove' them), then run the import again", clash)


def _map_entries(maps: _Maps) -> dict[str, tuple[str, int, int | None]]:
    out: dict[str, tuple[str, int, int | None]] = {
        md5: (oid, size, None) for md5, (oid, size) in maps.files.items()}
    out.update({md5 + ".dir": d for md5, d in maps.dirs.items()})
    return out


def _remove_dvc_files(repo: Repo, p: _Parsed, result: ImportResult) -> None:
    """Delete what was converted whole; everything with a line in the list stays."""
    done = [f.rel for f in p.files if f.rel not in p.bad_files]
    for y in p.conv.complete:
        if y in p.bad_files:
            continue
        done.append(y)
        if y[:-4] + "lock" in p.ws.locks:
            done.append(y[:-4] + "lock")
    for rel in done:
        os.unlink(repo.abspath(rel))
        result.removed.append(rel)
    result.written += done


def _check(repo: Repo, result: ImportResult) -> None:
    """Which converted paths differ from their pointers, which stages would run (the stat
    cache learns every file on the way, so the next status is quick)."""
    from gitml import pipeline as gpipeline

    written = set(result.pointers)
    result.modified = sorted(m for m in result.modified if m + pointer.SUFFIX in written)
    status = gpipeline.project_status(repo)
    if status is not None:
        result.stale = [s.name for s in status.stale]


# -- --dry-run ------------------------------------------------------------------------------
def _dry(root: str, p: _Parsed, cache: objects.DvcCache,
         wanted: dict[str, tuple[DvcHash, str]], result: ImportResult,
         fetch: bool) -> ImportResult:
    """What a real run would write and remove; reads no object."""
    missing = [(h, rel) for h, rel in wanted.values() if cache.path(h) is None]
    for h, rel in missing:
        how = "--fetch gets it from DVC's remote" if not fetch else "fetched from DVC's remote"
        p.skips.append(Skip(rel, f"{h.name} is not in DVC's cache ({how})"))
    outs = {o.path for f in p.files for o in f.outs if o.hash is not None and o.cache}
    outs |= {path for path, _ in lock.cached_outs(p.pairs)}
    result.pointers = sorted(o + pointer.SUFFIX for o in outs)
    result.locked = sorted(st.name for st, _, _ in p.pairs)
    result.objects = len(wanted)
    result.removed = sorted([f.rel for f in p.files if f.rel not in p.bad_files]
                            + [y for y in p.conv.complete if y not in p.bad_files]
                            + [y[:-4] + "lock" for y in p.conv.complete
                               if y not in p.bad_files and y[:-4] + "lock" in p.ws.locks])
    return result

