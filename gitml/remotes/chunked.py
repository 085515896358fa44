"""Files held as chunks, on a remote (docs/formats.md, "Chunked objects, versions 1 and 2").

Chunks and chunk lists are ordinary objects on a remote; the record of a file
(``chunked/<2 hex>/<30 hex>``, naming its list) is a named key beside ``objects/``,
written after the chunks and the list. Push sends only the chunks the remote lacks;
fetch reads the record and the list, fetches only the chunks the store lacks, checks that
the chunks make the file, and only then writes the record here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import xxhash

from gitml import chunks
from gitml.chunks import THRESHOLD_MIN, ChunkList
from gitml.errors import GitmlError, IntegrityError, MissingObjectError
from gitml.hashing import PREFIX, hash_bytes, is_oid
from gitml.remotes.base import RemoteError
from gitml.remotes.select import Want

if TYPE_CHECKING:
    from gitml.remotes.base import Backend
    from gitml.store import Store

TOP = "chunked"


def record_key(oid: str) -> str:
    return f"{TOP}/{oid[5:7]}/{oid[7:]}"


def key_oid(key: str) -> str | None:
    """The file id a record key names, or None for any other key."""
    parts = key.split("/")
    oid = PREFIX + "".join(parts[1:]) if len(parts) == 3 and parts[0] == TOP else ""
    return oid if is_oid(oid) else None


def may_be_chunked(w: Want) -> bool:
    """Only files of 1 MiB or more are ever chunked: nothing is asked about the rest."""
    return not w.is_manifest and (w.size is None or w.size >= THRESHOLD_MIN)


@dataclass
class Held:
    """A file held as chunks: its want, its list's id and (once read) its list."""

    want: Want
    lid: str
    cl: ChunkList | None = None


# -- push -------------------------------------------------------------------------------
def expand_push(store: Store, backend: Backend, wants: list[Want], have: set[str],
                problem: Callable[..., None], force: bool = False
                ) -> tuple[list[Want], list[Held]]:
    """Replace each file the store holds as chunks (and the remote lacks) by its chunks
    and list (``force``: even when the remote has its record). Returns (the wants to
    send, the files whose records go last)."""
    out: list[Want] = []
    held: list[Held] = []
    for w in wants:
        if w.oid in have or not may_be_chunked(w) or os.path.exists(store.path(w.oid)):
            out.append(w)
            continue
        try:
            cl = store.chunk_list(w.oid)
            lid = store.list_id(w.oid)
        except IntegrityError as e:
            problem("corrupt", w, actual=e.actual, where=e.where)
            continue
        except GitmlError as e:
            problem("corrupt", w, actual="unreadable", where=str(e))
            continue
        if cl is None or lid is None:
            out.append(w)  # the store lacks it: reported as missing by the pusher
            continue
        key = None if force else backend.read_key(record_key(w.oid))
        if key == chunks.record_bytes(lid):
            have.add(w.oid)
            continue
        held.append(Held(w, lid, cl))
    return out, held


def chunk_wants(held: list[Held], wants: dict[str, Want] | None = None) -> dict[str, Want]:
    """{id: Want} of the distinct chunks of ``held`` (the lists are separate)."""
    out: dict[str, Want] = {}
    for h in held:
        assert h.cl is not None
        for cid, n in h.cl.distinct().items():
            if cid not in out and (wants is None or cid not in wants):
                out[cid] = Want(cid, n, f"{h.want.path} (a chunk)")
    return out


def put_records(backend: Backend, held: list[Held], failed: set[str]) -> int:
    """Write the records of files all of whose chunks and list arrived; returns how many."""
    n = 0
    for h in held:
        assert h.cl is not None
        if h.lid in failed or any(c in failed for c in h.cl.ids):
            continue
        backend.put_key(record_key(h.want.oid), chunks.record_bytes(h.lid))
        n += 1
    return n


# -- fetch ------------------------------------------------------------------------------
def find_held(backend: Backend, todo: list[Want], where: str,
              problem: Callable[..., None]) -> tuple[list[Want], list[Held]]:
    """Which of ``todo`` the remote holds as chunks rather than whole: (the rest, those)."""
    big = [w for w in todo if may_be_chunked(w)]
    if not big:
        return todo, []
    whole = backend.exists([w.oid for w in big])
    held: list[Held] = []
    for w in big:
        if w.oid in whole:
            continue
        data = backend.read_key(record_key(w.oid))
        if data is None:
            continue  # neither: the fetcher reports it missing
        try:
            held.append(Held(w, chunks.parse_record(data, f"{where}:{record_key(w.oid)}")))
        except GitmlError as e:
            problem("corrupt", w, actual="unreadable", where=str(e))
    chunked = {h.want.oid for h in held}
    return [w for w in todo if w.oid not in chunked], held


def fetch_held(store: Store, held: list[Held], run: Callable[[list[Want]], None],
               problem: Callable[..., None], where: str) -> None:
    """Fetch the lists, then the chunks the store lacks (``run`` moves objects, verified),
    check that each file's chunks make it, then write its record here."""
    run([Want(h.lid, None, h.want.path, True) for h in held if not store.has(h.lid)])
    ready: list[Held] = []
    for h in held:
        try:
            h.cl = chunks.loads(store.read_bytes(h.lid, what=h.want.path),
                                f"{where}: chunk list {h.lid} of {h.want.path}")
        except MissingObjectError:
            continue  # reported by the fetcher
        except GitmlError as e:
            problem("corrupt", h.want, actual="unreadable", where=str(e))
            continue
        if h.cl.oid != h.want.oid:
            problem("corrupt", h.want, actual=h.cl.oid, where=f"{where} (its record names "
                    "the chunk list of another file)")
            continue
        ready.append(h)
    need = {cid: w for cid, w in chunk_wants(ready).items()
            if not os.path.exists(store.path(cid))}
    run(list(need.values()))
    store.wrote_elsewhere()
    store.flush()  # the chunks durable before a record names them
    for h in ready:
        actual = assembled_hash(store, h.cl)  # type: ignore[arg-type]
        if actual is None:
            continue  # a chunk did not arrive: reported by the fetcher
        if actual != h.want.oid:
            problem("corrupt", h.want, actual=actual, where=f"{where} (chunk list {h.lid})")
            continue
        store.write_record(h.want.oid, h.lid)
    store.flush()


def assembled_hash(store: Store, cl: ChunkList) -> str | None:
    """The hash of the file the store's chunks make, or None when a chunk is absent."""
    whole = xxhash.xxh3_128()
    for cid in cl.ids:
        try:
            with open(store.path(cid), "rb", buffering=0) as f:
                whole.update(f.read())
        except FileNotFoundError:
            return None
    return PREFIX + whole.hexdigest()


def fetch_whole(backend: Backend, cl: ChunkList, dst: str, jobs: int, where: str,
                progress: Callable[[int], None] | None = None) -> str:
    """Write the file ``cl`` describes into the new file ``dst`` straight from the remote's
    chunks, never through a store (``gitml get``: the output is all that is wanted).
    ``jobs`` chunks are in flight; each is verified by its id and length before it is
    written at its offset, and the file is hashed in order as they land (at most
    ``4 x jobs`` chunks held). Returns the hash of exactly the bytes in ``dst``, for the
    caller to compare with the file's id; raises IntegrityError naming a bad chunk,
    MissingObjectError naming one the remote lacks."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from gitml.fsutil import write_all_at

    def one(i: int) -> bytes:
        cid = cl.ids[i]
        data = backend.read(cid)
        if data is None:
            raise MissingObjectError(cid, f"a chunk of {cl.oid} on {where}")
        actual = hash_bytes(data)
        if actual != cid or len(data) != cl.sizes[i]:
            raise IntegrityError(cid, actual, f"{where} (a chunk of {cl.oid})")
        write_all_at(fd, data, cl.offsets[i])
        return data

    whole = xxhash.xxh3_128()
    todo = iter(range(len(cl)))
    pending: deque[Future[bytes]] = deque()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="chunk") as pool:
            try:
                for i in todo:
                    pending.append(pool.submit(one, i))
                    if len(pending) >= 4 * jobs:
                        break
                while pending:
                    data = pending.popleft().result()
                    whole.update(data)
                    if progress is not None:
                        progress(len(data))
                    i = next(todo, None)
                    if i is not None:
                        pending.append(pool.submit(one, i))
            finally:
                for f in pending:  # the pool's exit waits for those already running
                    f.cancel()
    finally:
        os.close(fd)
    return PREFIX + whole.hexdigest()


# -- reading without fetching -------------------------------------------------------------
def remote_list(backend: Backend, oid: str, where: str) -> ChunkList | None:
    """The chunk list of ``oid`` on the remote (verified by its id, naming ``oid``), or
    None when the remote holds no record of it."""
    data = backend.read_key(record_key(oid))
    if data is None:
        return None
    lid = chunks.parse_record(data, f"{where}:{record_key(oid)}")
    raw = backend.read(lid)
    if raw is None:
        raise MissingObjectError(lid, f"the chunk list of {oid} on {where}")
    actual = hash_bytes(raw)
    if actual != lid:
        raise IntegrityError(lid, actual, where)
    cl = chunks.loads(raw, f"{where}: chunk list {lid}")
    if cl.oid != oid:
        raise IntegrityError(oid, cl.oid, f"{where} (its record names another file's list)")
    return cl


def remote_reader(backend: Backend, cl: ChunkList, where: str,
                  on_close: Callable[[], None] | None = None) -> chunks.ChunkedReader:
    """A reader of a chunked file on the remote: each chunk it touches is fetched whole
    and verified; a read in order also checks the whole file's hash."""
    def load(cid: str, n: int) -> bytes:
        data = backend.read(cid)
        if data is None:
            raise RemoteError(f"{where} lacks {cid}, a chunk of {cl.oid}")
        return data

    return chunks.ChunkedReader(cl, load, f"{where}:{cl.oid}", on_close)
