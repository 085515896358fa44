"""``gitml get``: a file or directory of another repository, downloaded, not tracked.

Objects come from the source's own remote into a temporary store beside the output (same
file system), each hashed on arrival by the transfer engine; the files are then *renamed*
from there into a temporary tree, and that tree into place: no byte is copied twice, and
the output appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from gitml import gitio
from gitml.errors import BadInputError, IntegrityError
from gitml.fsutil import safe_join, tmp_name, write_all
from gitml.hashing import copy_and_hash
from gitml.imports import tree
from gitml.imports.source import Source
from gitml.repo import Repo


@dataclass
class GetResult:
    url: str
    path: str
    rev: str | None
    commit: str
    output: str
    kind: str
    files: int = 0
    bytes: int = 0
    fetched: int = 0  # objects downloaded from the source's remote
    skipped: list[str] = field(default_factory=list)  # symlinks, submodules

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def output_path(output: str | None, name: str, kind: str) -> str:
    """Where ``name`` goes: ``output`` (default: ``name`` here); into it, as ``cp`` does,
    when it ends with ``/`` (made if missing) or is an existing directory and a file is
    being written."""
    if output and output.endswith(("/", os.sep)):
        os.makedirs(output, exist_ok=True)
        return os.path.join(os.path.abspath(output), name)
    dest = os.path.abspath(output or name)
    if output and kind == "file" and os.path.isdir(dest) and not os.path.islink(dest) \
            and not os.path.exists(dest + ".gitml"):
        return os.path.join(dest, name)
    return dest


def lender() -> Repo | None:
    """This repository, when the command runs inside one: its remotes lend credentials."""
    try:
        return Repo()
    except Exception:  # noqa: BLE001 - outside a repository nothing is lent
        return None


def get(url: str, path: str, output: str | None = None, *, rev: str | None = None,
        force: bool = False, jobs: int | None = None) -> GetResult:
    """Download ``path`` of the repository at ``url`` (at ``rev``) to ``output`` (default:
    its name, here). An existing output needs ``force``."""
    src = Source(url, lend=lender())
    commit = src.resolve(rev)
    target = tree.resolve(src, path)
    name = target.path.rpartition("/")[2] or os.path.basename(src.url.rstrip("/")) or "repo"
    dest = output_path(output, name, target.kind)
    if os.path.lexists(dest) and not force:
        raise BadInputError(f"{dest} already exists; use --force to replace it")
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise BadInputError(f"{parent} is not a directory")
    result = GetResult(src.url, target.path, rev, commit, dest, target.kind,
                       skipped=target.skipped)
    work = tmp_name(parent, "get")
    os.mkdir(work)
    try:
        from gitml.store import Store

        store = src.__dict__["store"] = Store(os.path.join(work, "store"))
        store.durable = False  # thrown away: nothing will point at its objects
        whole, result.fetched = _assemble_chunked(src, target, jobs)
        fetched = tree.fetch(src, target, jobs, skip=whole)
        result.fetched += fetched.transferred if fetched else 0
        built = os.path.join(work, "out")
        result.files, result.bytes = materialise(src, target, built)
        if os.path.lexists(dest):
            old = os.path.join(work, "old")
            os.rename(dest, old)
        os.rename(built, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _assemble_chunked(src: Source, target: tree.Target, jobs: int | None
                      ) -> tuple[set[str], int]:
    """The target's big tracked files (not those inside tracked directories) that the
    source's remote holds as chunks, each written whole into the temporary store straight
    from its chunks (``chunked.fetch_whole``: every chunk verified, the file hashed as
    they land), so that no chunk is written, read back, copied and deleted. Returns (their
    ids, the objects fetched). A file that fails here (a bad or missing chunk, a bad list)
    is left to the transfer engine, which fetches it the usual way and names what is
    wrong."""
    from gitml.chunks import THRESHOLD_MIN
    from gitml.errors import FormatError, MissingObjectError
    from gitml.remotes import config as rconfig
    from gitml.remotes.chunked import fetch_whole, remote_list

    big = {ptr.oid: ptr for _, ptr in target.tracked
           if not ptr.is_dir and ptr.size >= THRESHOLD_MIN}
    if not big:
        return set(), 0
    rs = rconfig.spec(src, src.check_remote())  # type: ignore[arg-type]
    njobs = rs.jobs(jobs)
    where = f"remote {rs.name}"
    store = src.store
    done: set[str] = set()
    fetched = 0
    backend = rconfig.open_backend(src, rs, jobs=njobs)  # type: ignore[arg-type]
    try:
        for oid in big:
            try:
                cl = remote_list(backend, oid, where)
            except (IntegrityError, MissingObjectError, FormatError):
                continue
            if cl is None:
                continue  # one object there: the engine fetches it (in parts)
            dst = store.path(oid)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = tmp_name(os.path.dirname(dst), oid[7:])
            try:
                actual = fetch_whole(backend, cl, tmp, njobs, where)
            except (IntegrityError, MissingObjectError):
                os.unlink(tmp)
                continue
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            if actual != oid:
                os.unlink(tmp)
                continue
            os.chmod(tmp, 0o444)
            os.rename(tmp, dst)
            done.add(oid)
            fetched += len(cl.distinct()) + 1  # its chunks and its list
    finally:
        backend.close()
    return done, fetched


def materialise(src: Source, target: tree.Target, dest: str, *, move: bool = True
                ) -> tuple[int, int]:
    """Write the target's files at ``dest`` (a new file, or a new directory): objects are
    renamed out of the source's store when ``move`` (it is a temporary one), else copied
    (verified); Git blobs are written from the clone. Returns (files, bytes)."""
    items = tree.items(src, target)
    store = src.store
    if target.kind == "dir":
        os.makedirs(dest)
    made: set[str] = {dest}
    first: dict[str, str] = {}  # object -> the file it was renamed to
    nbytes = 0
    with gitio.BatchReader(src.root) as reader:
        for it in items:
            full = safe_join(dest, it.rel, source=src.url) if it.rel else dest
            parent = os.path.dirname(full)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            mode = 0o755 if it.exec else 0o644
            if it.blob is not None:
                data = reader.read(it.blob)
                if data is None:
                    raise BadInputError(f"cannot read {it.rel or target.path} from {src.url}")
                _write_new(full, data, mode)
            elif it.oid in first:  # the same content twice: a verified copy of the first
                _copy_verified(first[it.oid], full, it.oid, mode)
            elif move and os.path.exists(store.path(it.oid)):  # chunked: assembled below
                os.rename(store.path(it.oid), full)  # hashed when it arrived
                os.chmod(full, mode)
                first[it.oid] = full  # type: ignore[index]
            else:
                store.link(it.oid, full, executable=it.exec,  # type: ignore[arg-type]
                           link_types=("copy",))
            nbytes += it.size
    for d in tree.empty_dirs(src, target):
        os.makedirs(safe_join(dest, d, source=src.url), exist_ok=True)
    return len(items), nbytes


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def _copy_verified(src: str, dst: str, oid: str, mode: int) -> None:
    sfd = os.open(src, os.O_RDONLY)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            actual, _ = copy_and_hash(sfd, dfd)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    if actual != oid:
        raise IntegrityError(oid, actual, src)
