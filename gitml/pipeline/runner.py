"""Running one stage's commands: a shell each, output streamed, interruptible.

Each command runs in its own process group, so gitml decides what a Ctrl-C does: it
forwards SIGINT to every running stage (and SIGKILL after a grace period), then
records nothing for them. stdin is /dev/null: a stage cannot stop on a terminal read.

A stage holds its lock (``.gitml/tmp/stages/<name hash>.lock``, an ``flock``) for its
whole run, and its commands inherit it: when gitml itself is killed (``kill -9``), the
stage's processes, still running in their own group, keep it. The next run finds it held
and refuses to run that stage beside them (:func:`check_not_running`), naming the
process group to wait for or stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, BinaryIO

from gitml import faults
from gitml.errors import LockError

if TYPE_CHECKING:
    from gitml.pipeline.schema import Stage

_LOG_LIMIT = 1 << 20  # captured output kept per stage (the tail)
_print_lock = threading.Lock()


class Job:
    """One stage's run. ``stream``: output goes to the terminal (``fd``, default stdout);
    with ``prefix`` (parallel jobs) each line is labelled with the stage name; without
    ``stream`` it is captured in :attr:`log`."""

    def __init__(self, root: str, stage: Stage, *, stream: bool = True, fd: int | None = None,
                 prefix: bool = False) -> None:
        self.root = root
        self.stage = stage
        self.stream = stream
        self.fd = fd
        self.prefix = prefix
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self.failed_cmd = ""
        self.error = ""
        self.log = bytearray()
        self.interrupted = False
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._lock_fd = -1

    def execute(self) -> int:
        """Run the commands one after another; stop at the first failure."""
        t0 = time.monotonic()
        env = dict(os.environ, GITML_STAGE=self.stage.name, GITML_ROOT=self.root)
        cwd = os.path.join(self.root, *self.stage.wdir.split("/")) if self.stage.wdir \
            else self.root
        rc = 0
        try:
            self._lock_fd = _take(self.root, self.stage.name)
        except LockError as e:
            self.error = str(e)
            self.returncode = 1
            return 1
        try:
            for cmd in self.stage.cmd:
                rc = self._one(cmd, env, cwd)
                if rc != 0:
                    self.failed_cmd = cmd
                    break
        finally:
            os.close(self._lock_fd)  # the lock goes once the commands' processes end too
        self.returncode = rc
        self.seconds = time.monotonic() - t0
        return rc

    def _one(self, cmd: str, env: dict[str, str], cwd: str) -> int:
        piped = not self.stream or self.prefix
        with self._lock:
            if self.interrupted:
                return -signal.SIGINT
            try:
                self.proc = subprocess.Popen(
                    cmd, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if piped else self.fd,
                    stderr=subprocess.STDOUT if piped else None, process_group=0,
                    pass_fds=(self._lock_fd,))  # the stage's processes hold its lock
            except OSError as e:
                self.error = f"cannot start {cmd!r} in {cwd}: {e.strerror}"
                return 127
            os.pwrite(self._lock_fd, f"{self.proc.pid}\n".encode().ljust(16), 0)
        faults.point("repro.stage-started")
        if piped:
            assert self.proc.stdout is not None
            self._pump(self.proc.stdout)
        return self.proc.wait()

    def _pump(self, pipe: BinaryIO) -> None:
        label = f"[{self.stage.name}] ".encode()
        for line in iter(pipe.readline, b""):
            if not self.stream:
                self.log += line
                if len(self.log) > 2 * _LOG_LIMIT:
                    del self.log[:-_LOG_LIMIT]
                continue
            with _print_lock:
                out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
                if out is not None and self.fd is None:
                    out.write(label + line)
                    out.flush()
                else:
                    _write_all(self.fd if self.fd is not None else 1, label + line)
        pipe.close()

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        """Send ``sig`` to the running command's process group; no later command starts."""
        with self._lock:
            self.interrupted = True
            proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    def describe_failure(self) -> str:
        if self.error:
            return self.error
        rc = self.returncode or 0
        what = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
        return f"{what} from: {self.failed_cmd}"


def _lock_path(root: str, name: str) -> str:
    import xxhash

    return os.path.join(root, ".gitml", "tmp", "stages",
                        xxhash.xxh3_64_hexdigest(name.encode()) + ".lock")


def _take(root: str, name: str) -> int:
    """Open and lock the stage's lock file (an fd the stage's commands inherit)."""
    path = _lock_path(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raw = os.pread(fd, 64, 0).split()
        os.close(fd)
        pgid = raw[0].decode() if raw and raw[0].isdigit() else "?"
        raise LockError(f"stage {name!r} is still running (process group {pgid}, left by an "
                        f"earlier run that was killed, or in the background): wait for it "
                        f"to end, or stop it with 'kill -- -{pgid}', then run again") from None
    return fd


def check_not_running(root: str, names: list[str]) -> None:
    """Refuse (LockError, exit 2) when any of these stages still runs in the background."""
    for name in names:
        os.close(_take(root, name))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
