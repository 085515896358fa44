"""A real ``git daemon`` on 127.0.0.1 serving a directory of repositories over git://.

Started in its own process group on a free port, ready when ``git ls-remote`` answers,
stopped by its PID (group) in the fixture's teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class GitDaemon:
    def __init__(self, base: Path, push: bool = False) -> None:
        self.base = base
        self.push = push  # also serve git push (receive-pack)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self, probe: str, timeout: float = 20.0) -> None:
        """Serve every repository under ``base``; wait until ``probe`` (one of them)
        answers ``git ls-remote``."""
        for _attempt in range(3):  # the port is released before the daemon binds it
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            self.proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                 *(["--enable=receive-pack"] if self.push else []),
                 f"--port={self.port}", f"--base-path={self.base}", str(self.base)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                r = subprocess.run(["git", "ls-remote", self.url(probe)], capture_output=True)
                if r.returncode == 0:
                    return
                time.sleep(0.1)
            self.stop()
        raise RuntimeError("git daemon did not answer")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
