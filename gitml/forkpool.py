"""Splitting a long loop of file work between this process and one forked child.

Storing, copying or checking out 100,000 small files is mostly kernel time (open, read,
write, rename); on two cores two *processes* do it about 1.5x faster than one, while
threads in one process were slower than one thread (the interpreter lock and the
kernel's per-process locks). :func:`split_map` runs the first half of a list here and
the second half in a child forked for the purpose, which inherits every open object,
sends back only its results through a pipe and exits. Short lists, one CPU or a
platform without ``fork`` run in this process alone.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from gitml import faults
from gitml.errors import GitmlError

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 4000  # below this a fork (2-10 ms) is not worth it
_FRAME = 1024  # results per message from the child
_HEADER = 4  # bytes of length before each message, little-endian


def workers() -> int:
    """How many processes :func:`split_map` uses for a long list (1 or 2)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if hasattr(os, "fork") and (cpus or 1) > 1 else 1


def split_map(fn: Callable[[T], R], items: Sequence[T],
              progress: Callable[[int], None] | None = None) -> list[R]:
    """``[fn(x) for x in items]``, the second half in a forked child when the list is long.

    ``fn`` must not rely on changing this process's state: the child's changes are lost.
    An exception in the child is raised here (the first half's results are dropped), and
    if this process fails, the child is killed. ``progress(n)`` is called as results come.
    """
    if len(items) < MIN_ITEMS or workers() < 2:
        out = []
        for x in items:
            out.append(fn(x))
            if progress:
                progress(1)
        return out
    mid = len(items) // 2  # contiguous halves: each process keeps to its own directories
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(rfd)
        _child(fn, items[mid:], wfd)
    os.close(wfd)
    inbox = _Inbox(rfd, progress)
    try:
        mine: list[R] = []
        for i, x in enumerate(items[:mid]):
            mine.append(fn(x))
            if progress:
                progress(1)
            if i % 256 == 255:
                inbox.poll()  # keep the pipe drained so the child never waits on it
        theirs = inbox.finish()
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
    if isinstance(theirs, BaseException):
        raise theirs
    if theirs is None:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        raise GitmlError("a worker process stopped before finishing"
                         + (f" (signal {sig})" if sig else f" (exit {os.WEXITSTATUS(status)})"))
    return mine + theirs


class Forked:
    """``fn()`` running in a forked child while this process goes on; :meth:`result`
    waits for its return value (pickled back) or raises its exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        rfd, wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(rfd)
            _child(lambda _: fn(), [None], wfd)
        os.close(wfd)
        self._fd = rfd

    def result(self) -> Any:
        try:
            outcome = _Inbox(self._fd, None).finish()
        finally:
            self.close()
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:
            raise GitmlError("a worker process stopped before finishing")
        return outcome[0]

    def close(self) -> None:
        """Stop the child if it is still running (after an error here)."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        os.close(self._fd)
        self._fd = -1
        os.waitpid(self.pid, 0)


def split_walk(files: list[tuple[str, os.stat_result]], stack: list[tuple[str, str]],
               fn: Callable[[Iterable[tuple[str, os.stat_result]]], R]) -> list[R]:
    """``[fn(first half), fn(second half)]`` of the walk that ``fsutil.split_top`` split
    into ``files`` and ``stack``; the second half is walked by a forked child."""
    from gitml.fsutil import walk_stats

    k = len(stack) // 2  # walk_stats pops from the end: stack[k:] comes first
    child = Forked(lambda: fn(walk_stats(stack[:k])))
    try:
        mine = fn(itertools.chain(files, walk_stats(stack[k:])))
    except BaseException:
        child.close()
        raise
    return [mine, child.result()]


def _child(fn: Callable[[Any], Any], items: Sequence[Any], wfd: int) -> None:
    code = 0
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the parent gone: just stop
        batch = []
        for x in items:
            faults.point("forkpool.child-item")
            batch.append(fn(x))
            if len(batch) >= _FRAME:
                _send(wfd, ("ok", batch))
                batch = []
        _send(wfd, ("ok", batch))
        _send(wfd, ("done", None))
    except BaseException as e:  # noqa: BLE001 - handed to the parent
        code = 1
        with contextlib.suppress(BaseException):
            _send(wfd, ("error", _portable(e)))
    finally:
        os._exit(code)


def _portable(e: BaseException) -> BaseException:
    """``e`` if it survives pickling, else a :class:`GitmlError` with its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001 - any exception type may refuse pickling
        return GitmlError(str(e) or type(e).__name__)


def _send(fd: int, msg: tuple[str, Any]) -> None:
    import pickle  # only once a fork happened: not on every command's start-up

    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(fd, view):]


class _Inbox:
    """Messages from the child: read without blocking while working, then to the end."""

    def __init__(self, fd: int, progress: Callable[[int], None] | None) -> None:
        self.fd = fd
        self.progress = progress
        self.buf = bytearray()
        self.results: list[Any] = []
        self.outcome: Any = None
        self.ended = False
        os.set_blocking(fd, False)

    def poll(self) -> None:
        while not self.ended:
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            self._take(data)

    def finish(self) -> list[Any] | BaseException | None:
        """The child's results, its exception, or None if it died without a word."""
        os.set_blocking(self.fd, True)
        while not self.ended:
            self._take(os.read(self.fd, 1 << 20))
        return self.outcome

    def _take(self, data: bytes) -> None:
        if not data:
            self.ended = True
            return
        import pickle

        self.buf += data
        while len(self.buf) >= _HEADER:
            n = int.from_bytes(self.buf[:_HEADER], "little")
            if len(self.buf) < _HEADER + n:
                return
            kind, payload = pickle.loads(self.buf[_HEADER:_HEADER + n])
            del self.buf[:_HEADER + n]
            if kind == "ok":
                self.results.extend(payload)
                if self.progress and payload:
                    self.progress(len(payload))
            elif kind == "done":
                self.outcome = self.results
            else:
                self.outcome = payload
