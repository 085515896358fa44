"""Running one stage's commands: a shell each, output streamed, interruptible.

Each command runs in its own process group, so gitml decides what a Ctrl-C does: it
forwards SIGINT to every running stage (and SIGKILL after a grace period), then
records nothing for them. stdin is /dev/null: a stage cannot stop on a terminal read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, BinaryIO

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

    def execute(self) -> int:
        """Run the commands one after another; stop at the first failure."""
        t0 = time.monotonic()
        env = dict(os.environ, GITML_STAGE=self.stage.name, GITML_ROOT=self.root)
        cwd = os.path.join(self.root, *self.stage.wdir.split("/")) if self.stage.wdir \
            else self.root
        rc = 0
        for cmd in self.stage.cmd:
            rc = self._one(cmd, env, cwd)
            if rc != 0:
                self.failed_cmd = cmd
                break
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
                    stderr=subprocess.STDOUT if piped else None, process_group=0)
            except OSError as e:
                self.error = f"cannot start {cmd!r} in {cwd}: {e.strerror}"
                return 127
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
