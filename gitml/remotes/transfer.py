"""The transfer engine: push, fetch and pull objects between the store and a remote.

Order and safety (docs/remotes.md):

- Learn what the other side has with few requests (a backend's batched ``exists``:
  one listing per 2-hex prefix, or a HEAD per object when there are few), then move
  only what is missing, in parallel (``-j``), small objects in batches per task.
- Push: every object is hashed as it is read from the store, so a corrupt local object
  is reported, never uploaded; file objects go first, directory manifests last, so a
  manifest on the remote means its files got there before it.
- Fetch: manifests first (they say which files a directory needs), then the files.
  Every object is downloaded to the store's ``tmp/``, hashed, and only then renamed to
  its name; the store is flushed once at the end.
- The first error that is not about one object (refused credentials, the remote gone
  after the backend's bounded retries, Ctrl-C) stops the work; what was done stays
  valid, and a rerun sends only the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml import forkpool
from gitml.errors import IntegrityError
from gitml.fsutil import syncfs, tmp_name
from gitml.hashing import SMALL, hash_bytes, hash_file
from gitml.progress import Progress
from gitml.remotes import chunked, select
from gitml.remotes import config as rconfig
from gitml.remotes.base import RemoteError, TransferIncomplete
from gitml.remotes.select import Want

if TYPE_CHECKING:
    from gitml.checkout import CheckoutResult
    from gitml.remotes.base import Backend
    from gitml.repo import Repo
    from gitml.store import Store

# Fault injection for tests, at a fixed point: after N objects completed, either raise
# a RemoteError ("raise", the default), SIGKILL this process ("sigkill"), or call
# FAULT_HOOK (a test sets it to stop its S3 server).
FAIL_AFTER_ENV = "GITML_TEST_FAIL_AFTER"
FAIL_ACTION_ENV = "GITML_TEST_FAIL_ACTION"
FAULT_HOOK: Callable[[], None] | None = None

_BATCH_OBJECTS = 64  # small objects per task: amortises the pool's per-task cost
_BATCH_BYTES = 8 << 20
_RO = 0o444


def default_remote(repo: Repo) -> str | None:
    """The default remote's name (``core.remote``, set by ``remote add --default``)."""
    return rconfig.default_remote(repo)


@dataclass
class TransferResult:
    """What a push or fetch did. ``present``: objects the receiving side already had."""

    action: str
    remote: str
    url: str
    objects: int = 0
    transferred: int = 0
    bytes: int = 0
    present: int = 0
    size: int = 0  # bytes of the files concerned (a chunked file: all of it), for "X of Y"
    missing: list[dict[str, str]] = field(default_factory=list)
    corrupt: list[dict[str, str]] = field(default_factory=list)
    replaced: int = 0  # present but corrupt in the store: moved aside and fetched again

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass
class PullResult:
    fetch: TransferResult
    checkout: CheckoutResult

    def to_dict(self) -> dict[str, Any]:
        return {"fetch": self.fetch.to_dict(), "checkout": self.checkout.to_dict()}


# -- the parallel runner ------------------------------------------------------------------
class _Runner:
    """Runs one function per object in parallel; counts, reports, stops on errors.

    Threads for a network backend (each waits on requests). A backend that says
    ``processes`` (a directory: the work is file-system calls, which threads only slow
    down) gets two processes instead when there are many objects (gitml/forkpool.py);
    the child's reports are recorded and replayed here.
    """

    def __init__(self, jobs: int, bar: Progress, result: TransferResult,
                 backend: Backend) -> None:
        self.jobs = jobs
        self.bar = bar
        self.result = result
        self.backend = backend
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.count = 0
        self.fail_after = int(os.environ.get(FAIL_AFTER_ENV) or 0)
        self.events: list[tuple[Any, ...]] | None = None  # set in a forked child only

    def progress(self, nbytes: int) -> None:
        if self.events is not None:
            self.events.append(("bytes", nbytes))
            return
        with self.lock:
            self.result.bytes += nbytes
            self.bar.update(0, nbytes)

    def done(self, nbytes: int) -> None:
        """One object arrived; ``nbytes`` not yet reported through :meth:`progress`."""
        if self.events is not None:
            self.events.append(("done", nbytes))
            return
        with self.lock:
            self.count += 1
            self.result.transferred += 1
            self.result.bytes += nbytes
            self.bar.update(1, nbytes)
            fire = self.count == self.fail_after
        if fire:
            _fault(self.count)

    def problem(self, kind: str, w: Want, **extra: str) -> None:
        if self.events is not None:
            self.events.append(("problem", kind, w.oid, w.path, extra))
            return
        with self.lock:
            getattr(self.result, kind).append({"oid": w.oid, "path": w.path, **extra})
            self.bar.update(1)

    def run(self, wants: list[Want], fn: Callable[[Want], None]) -> None:
        if (self.backend.processes and self.jobs > 1
                and len(wants) >= forkpool.MIN_ITEMS and forkpool.workers() > 1):
            self._run_split(wants, fn)
            return
        # Enough tasks to keep every worker busy to the end; up to 64 small objects per
        # task when there are many, to amortise the pool's per-task cost.
        per_task = max(1, min(_BATCH_OBJECTS, len(wants) // (self.jobs * 4)))
        batches = list(_batches(wants, per_task))
        if not batches:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.jobs, len(batches)))
        try:
            futures = [pool.submit(self._batch, b, fn) for b in batches]
            for f in as_completed(futures):
                f.result()
        except BaseException:
            self.stop.set()  # in-flight objects finish; nothing new starts
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _run_split(self, wants: list[Want], fn: Callable[[Want], None]) -> None:
        parent = os.getpid()

        def one(w: Want) -> list[tuple[Any, ...]] | None:
            if os.getpid() == parent:
                fn(w)
                return None
            self.events = []
            fn(w)
            return self.events

        # the bar counts the child's objects as they come; their bytes and reports after
        replies = forkpool.split_map(one, wants, lambda n: self.bar.update(n))
        self.backend.wrote_elsewhere()  # the child's writes: the backend flushes on close
        result = self.result
        for events in replies:
            for kind, *args in events or ():
                if kind == "problem":
                    what, oid, path, extra = args
                    getattr(result, what).append({"oid": oid, "path": path, **extra})
                    continue
                if kind == "done":
                    result.transferred += 1
                result.bytes += args[0]
                self.bar.update(0, args[0])

    def _batch(self, batch: list[Want], fn: Callable[[Want], None]) -> None:
        for w in batch:
            if self.stop.is_set():
                return
            fn(w)


def _batches(wants: list[Want], per_task: int) -> Iterable[list[Want]]:
    batch: list[Want] = []
    nbytes = 0
    for w in wants:
        size = w.size if w.size is not None else SMALL
        if size > SMALL:
            yield [w]
            continue
        batch.append(w)
        nbytes += size
        if len(batch) >= per_task or nbytes >= _BATCH_BYTES:
            yield batch
            batch, nbytes = [], 0
    if batch:
        yield batch


def _fault(n: int) -> None:
    action = os.environ.get(FAIL_ACTION_ENV, "raise")
    if FAULT_HOOK is not None:
        FAULT_HOOK()
    elif action == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        raise RemoteError(f"injected failure after {n} objects ({FAIL_AFTER_ENV})")


# -- moving one object --------------------------------------------------------------------
def _pusher(repo: Repo, backend: Backend, runner: _Runner) -> Callable[[Want], None]:
    store = repo.store

    def push_one(w: Want) -> None:
        path = store.path(w.oid)
        try:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except FileNotFoundError:
            runner.problem("missing", w, where="local store")
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            data = f.read() if size <= SMALL else None
        actual = hash_bytes(data) if data is not None else hash_file(path)
        if actual != w.oid:
            runner.problem("corrupt", w, actual=actual, where=path)
            return
        backend.put(w.oid, path, size, data, None if data is not None else runner.progress)
        runner.done(size if data is not None else 0)

    return push_one


def _fetcher(repo: Repo, backend: Backend, runner: _Runner) -> Callable[[Want], None]:
    store = repo.store

    made: set[str] = set()

    def fetch_one(w: Want) -> None:
        # the temp file goes beside the object's name: a rename within one directory
        # does not queue on the file system's lock for cross-directory renames
        dst = store.path(w.oid)
        directory = dst.rpartition("/")[0]
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        tmp = tmp_name(directory, w.oid[7:])
        try:
            if w.size is not None and w.size <= SMALL:
                data = backend.read(w.oid)
                if data is None:
                    runner.problem("missing", w, where=f"remote {runner.result.remote}")
                    return
                actual = hash_bytes(data)
                if actual == w.oid:  # verified before anything is written
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _RO)
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view):]
                    finally:
                        os.close(fd)
                nbytes = len(data)
            else:
                got = backend.get(w.oid, tmp, w.size, runner.progress)
                if not got:
                    runner.problem("missing", w, where=f"remote {runner.result.remote}")
                    return
                # a backend may hash what it writes as it writes it (in order)
                actual = got if isinstance(got, str) else hash_file(tmp)
                nbytes = 0
                if actual == w.oid:
                    os.chmod(tmp, _RO)
                else:
                    os.unlink(tmp)
            if actual != w.oid:
                runner.problem("corrupt", w, actual=actual, where=f"remote {runner.result.remote}")
                return
            os.rename(tmp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        runner.done(nbytes)

    return fetch_one


# -- push ---------------------------------------------------------------------------------
def push(repo: Repo, targets: list[str] | None = None, remote: str | None = None,
         revs: list[str] | None = None, all_branches: bool = False, all_tags: bool = False,
         jobs: int | None = None, force: bool = False) -> TransferResult:
    """Send the objects of tracked paths (the workspace, or ``revs`` / every branch / tag)
    that the remote lacks (``force``: all of them again, to repair a damaged remote).
    Raises :class:`TransferIncomplete` (exit 1) after sending the rest when some objects
    are neither local nor on the remote, or corrupt locally."""
    sel = select.select(repo, targets, select.revisions(repo, revs, all_branches, all_tags))
    return push_selection(repo, sel, remote, jobs, force)


def push_selection(repo: Repo, sel: select.Selection, remote: str | None = None,
                   jobs: int | None = None, force: bool = False) -> TransferResult:
    """:func:`push` of the objects of tracked paths chosen by the caller."""
    rs = rconfig.spec(repo, remote)
    result = TransferResult("push", rs.name, rs.url)
    corrupt_manifests: list[Want] = []

    def read_manifest(oid: str, rel: str) -> bytes | None:
        if not repo.store.has(oid):
            return None
        try:
            return repo.store.read_bytes(oid, what=rel)
        except IntegrityError as e:
            corrupt_manifests.append(Want(oid, None, rel, True))
            result.corrupt.append({"oid": oid, "path": rel, "actual": e.actual,
                                   "where": e.where})
            return None

    wants, manifests = select.expand(sel, read_manifest)
    select.check_subs(sel, any(not repo.store.has(m.oid) for m in manifests))
    for w in corrupt_manifests:
        wants.pop(w.oid, None)
    result.size = sum(_known_size(repo.store, w) for w in wants.values())
    _push_wants(repo, rs, list(wants.values()), jobs, result, force)
    return _finish(result)


def push_objects(repo: Repo, oids: Iterable[str], remote: str | None = None,
                 jobs: int | None = None) -> TransferResult:
    """Low level: send these objects (those the remote lacks) from the store."""
    rs = rconfig.spec(repo, remote)
    result = TransferResult("push", rs.name, rs.url)
    _push_wants(repo, rs, [Want(o, None, o) for o in dict.fromkeys(oids)], jobs, result)
    return _finish(result)


def _push_wants(repo: Repo, rs: rconfig.RemoteSpec, wants: list[Want], jobs: int | None,
                result: TransferResult, force: bool = False) -> None:
    result.objects = len(wants) + len(result.corrupt)
    if not wants:
        return
    njobs = rs.jobs(jobs)
    store = repo.store
    with store.lock():
        backend = rconfig.open_backend(repo, rs, jobs=njobs, create=True)
        try:
            have = set() if force else backend.exists([w.oid for w in wants])
            result.present = len(have)
            # In id order: consecutive writes land in the same 2-hex directory.
            todo = sorted((w for w in wants if w.oid not in have), key=lambda w: w.oid)
            if force:  # objects the store lacks cannot be re-sent: report only those gone
                gone = [w for w in todo if not store.has(w.oid)]
                present = backend.exists([w.oid for w in gone]) if gone else set()
                todo = [w for w in todo if w.oid not in present]
                result.present = len(present)
            with Progress(f"push to {rs.name}", total=len(todo), unit="objects") as bar:
                runner = _Runner(njobs, bar, result, backend)
                # files held as chunks: the chunks the remote lacks, then lists, then records
                todo, held = chunked.expand_push(store, backend, todo, have, runner.problem,
                                                 force)
                parts = chunked.chunk_wants(held)
                parts.update((h.lid, Want(h.lid, None, h.want.path, True)) for h in held)
                there = set() if force or not parts else backend.exists(list(parts))
                result.present += len(there)  # chunks the remote has from other versions
                # the lists sent count in the total as in 'new' (as manifests do)
                result.size += sum(_known_size(store, w) for w in parts.values()
                                   if w.is_manifest and w.oid not in there)
                todo += sorted((w for w in parts.values() if w.oid not in there),
                               key=lambda w: w.oid)
                bar.total = len(todo)
                fn = _pusher(repo, backend, runner)
                runner.run([w for w in todo if not w.is_manifest], fn)
                runner.run([w for w in todo if w.is_manifest], fn)  # manifests last
                failed = {d["oid"] for d in result.missing + result.corrupt}
                chunked.put_records(backend, held, failed)
        finally:
            backend.close()


# -- fetch --------------------------------------------------------------------------------
def fetch(repo: Repo, targets: list[str] | None = None, remote: str | None = None,
          revs: list[str] | None = None, all_branches: bool = False, all_tags: bool = False,
          jobs: int | None = None) -> TransferResult:
    """Download the objects of tracked paths that the store lacks, each verified before it
    is named. Raises :class:`TransferIncomplete` (exit 1), after fetching the rest, naming
    objects the remote lacks or holds corrupt."""
    sel = select.select(repo, targets, select.revisions(repo, revs, all_branches, all_tags))
    return fetch_selection(repo, sel, remote, jobs)


def fetch_selection(repo: Repo, sel: select.Selection, remote: str | None = None,
                    jobs: int | None = None) -> TransferResult:
    """:func:`fetch` of the objects of tracked paths chosen by the caller."""
    rs = rconfig.spec(repo, remote)
    result = TransferResult("fetch", rs.name, rs.url)
    store = repo.store
    njobs = rs.jobs(jobs)
    if not sel.items:
        return result
    with store.lock():
        backend = rconfig.open_backend(repo, rs, jobs=njobs)
        try:
            with Progress(f"fetch from {rs.name}", unit="objects") as bar:
                runner = _Runner(njobs, bar, result, backend)
                fn = _fetcher(repo, backend, runner)
                dirs = {i.ptr.oid: Want(i.ptr.oid, None, i.rel, True)
                        for i in sel.items if i.ptr.is_dir}
                # a present but corrupt manifest is moved aside and fetched (issue 18)
                result.replaced = _quarantine_corrupt(
                    store, [w for w in dirs.values() if store.has(w.oid)], njobs)
                need = {o: w for o, w in dirs.items() if not store.has(o)}
                bar.total = len(need)
                runner.run(list(need.values()), fn)  # manifests first: they list the files

                def read_manifest(oid: str, rel: str) -> bytes | None:
                    if not store.has(oid):
                        return None
                    try:
                        return store.read_bytes(oid, what=rel)
                    except IntegrityError as e:
                        result.corrupt.append({"oid": oid, "path": rel, "actual": e.actual,
                                               "where": e.where})
                        return None

                wants, manifests = select.expand(sel, read_manifest)
                select.check_subs(sel, any(not store.has(m.oid) for m in manifests))
                result.replaced += _quarantine_corrupt(
                    store, [w for w in wants.values() if w.oid not in dirs
                            and store.has(w.oid)], njobs)
                todo = [w for w in wants.values() if not store.has(w.oid)
                        and w.oid not in need]
                result.objects = len(wants)
                result.present = len(wants) - len(todo) - len(need)
                result.size = sum(_known_size(store, w) for w in [*need.values(), *todo])
                bar.total = len(need) + len(todo)
                _fetch_wants(store, backend, runner, fn, todo)
        finally:
            backend.close()
            if result.transferred and store.durable:
                syncfs(store.root)
    return _finish(result)


def _known_size(store: Store, w: Want) -> int:
    """A want's size: its pointer's, or a manifest's object's in the store (0 when it is
    not there), so that 'X new of Y' counts manifests on both sides."""
    if w.size is not None:
        return w.size
    try:
        return os.path.getsize(store.path(w.oid))
    except OSError:
        return 0


def _quarantine_corrupt(store: Store, present: list[Want], jobs: int) -> int:
    """Hash the present objects (in parallel); move corrupt ones into the quarantine, so
    the fetch that follows replaces them (gitml/heal.py). Returns how many."""
    from gitml.heal import quarantine

    if not present:
        return 0
    workers = max(1, min(jobs, 2 * (os.cpu_count() or 1), len(present)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        bad = [w for w, actual in zip(present, pool.map(lambda w: store.verify(w.oid),
                                                         present), strict=True)
               if actual != w.oid]
    return sum(1 for w in bad if quarantine(store, w.oid))


def fetch_objects(repo: Repo, oids: Iterable[str], remote: str | None = None,
                  jobs: int | None = None) -> TransferResult:
    """Low level: download these objects (those the store lacks), verified."""
    rs = rconfig.spec(repo, remote)
    result = TransferResult("fetch", rs.name, rs.url)
    store = repo.store
    wants = [Want(o, None, o) for o in dict.fromkeys(oids)]
    todo = [w for w in wants if not store.has(w.oid)]
    result.objects, result.present = len(wants), len(wants) - len(todo)
    if todo:
        njobs = rs.jobs(jobs)
        with store.lock():
            backend = rconfig.open_backend(repo, rs, jobs=njobs)
            try:
                with Progress(f"fetch from {rs.name}", total=len(todo), unit="objects") as bar:
                    runner = _Runner(njobs, bar, result, backend)
                    _fetch_wants(store, backend, runner, _fetcher(repo, backend, runner), todo)
            finally:
                backend.close()
                if result.transferred and store.durable:
                    syncfs(store.root)
    return _finish(result)


def _fetch_wants(store: Store, backend: Backend, runner: _Runner,
                 fn: Callable[[Want], None], todo: list[Want]) -> None:
    """Fetch ``todo``: whole objects, and files the remote holds as chunks (their lists,
    the chunks the store lacks, their records once the chunks make them)."""
    where = f"remote {runner.result.remote}"
    todo, held = chunked.find_held(backend, todo, where, runner.problem)
    runner.run(todo, fn)
    if held:
        def run(wants: list[Want]) -> None:
            runner.bar.total = (runner.bar.total or 0) + len(wants)
            runner.run(wants, fn)
            # the lists fetched count in the total as in 'new' (as manifests do)
            runner.result.size += sum(_known_size(store, w) for w in wants if w.is_manifest)

        chunked.fetch_held(store, held, run, runner.problem, where)


# -- pull ---------------------------------------------------------------------------------
def pull(repo: Repo, targets: list[str] | None = None, remote: str | None = None,
         revs: list[str] | None = None, all_branches: bool = False, all_tags: bool = False,
         jobs: int | None = None, force: bool = False) -> PullResult:
    """fetch, then check out the workspace (only ``targets`` when given; a target inside a
    tracked directory checks out just that part)."""
    from gitml.checkout import CheckoutIncomplete

    fetch_error: TransferIncomplete | None = None
    try:
        fetched = fetch(repo, targets, remote, revs, all_branches, all_tags, jobs)
    except TransferIncomplete as e:
        fetch_error, fetched = e, e.result  # type: ignore[assignment]
    try:
        checked = repo.checkout(targets or None, force=force)
    except CheckoutIncomplete as e:
        if fetch_error is not None:
            fetch_error.result = PullResult(fetched, e.result)
            raise fetch_error from None
        wanted = [select._target_rel(repo, t) for t in targets or ()]
        relevant = [p for p in e.result.missing + e.result.corrupt
                    if not wanted or any(p == w or p.startswith(w + "/") or w.startswith(p + "/")
                                         or w in ("", ".") for w in wanted)]
        if relevant:
            raise
        checked = e.result  # only files outside a partial pull's targets were left out
        _drop_empty_parents(repo, e.result.missing)
    if fetch_error is not None:
        fetch_error.result = PullResult(fetched, checked)  # what did happen, for the CLI
        raise fetch_error
    return PullResult(fetched, checked)


def _drop_empty_parents(repo: Repo, rels: list[str]) -> None:
    """Checkout made the parent directories of files it then could not write (outside a
    partial pull's targets); remove those that stayed empty."""
    dirs = {rel.rpartition("/")[0] for rel in rels}
    for d in sorted(dirs, key=len, reverse=True):
        while d:
            try:
                os.rmdir(repo.abspath(d))
            except OSError:
                break
            d = d.rpartition("/")[0]


# -- reporting ----------------------------------------------------------------------------
def _finish(result: TransferResult) -> TransferResult:
    if result.ok:
        return result
    parts = []
    if result.missing:
        where = ("locally or on" if result.action == "push" else "on")
        parts.append(f"{len(result.missing)} object{'s' * (len(result.missing) != 1)} "
                     f"missing {where} remote {result.remote}: " + _names(result.missing))
    if result.corrupt:
        parts.append(f"{len(result.corrupt)} corrupt (hash mismatch, "
                     f"{'not sent' if result.action == 'push' else 'not stored'}): "
                     + _names(result.corrupt, with_where=True))
        if result.action == "fetch":
            parts.append("a clone that has them can repair the remote with "
                         "'gitml push --force PATH'")
    raise TransferIncomplete(f"{result.action} incomplete: " + "; ".join(parts), result)


def _names(items: list[dict[str, str]], with_where: bool = False) -> str:
    shown = []
    for d in items[:5]:
        extra = f" at {d['where']}" if with_where and d.get("where") else ""
        shown.append(f"{d['oid']} ({d['path']}){extra}" if d["path"] != d["oid"]
                     else f"{d['oid']}{extra}")
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return ", ".join(shown) + more
