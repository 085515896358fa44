"""A real Ray cluster on this machine for tests and benchmarks: a head node and, where
memory allows, a second node joined with ``ray start --address``.

Every node is a ``ray start --block`` in its own session (stopped by its PID's process
group) and in its own mount namespace (``unshare -m``) where the ``hidden`` directories
are covered by an empty tmpfs: the workers cannot see the client's repositories, stores
or home, so a test that passes proves they share only the remotes with it. Nodes
advertise 127.0.0.2 (a loopback address Ray does not rewrite, as it does 127.0.0.1), so
no traffic leaves loopback. Their environment is built from scratch: PATH, a home of
their own, the S3 credentials given, no Git identity.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

RAY = Path(sysconfig.get_path("scripts")) / "ray"
IP = "127.0.0.2"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RayCluster:
    def __init__(self, hidden: list[Path], env: dict[str, str] | None = None,
                 root: Path | None = None) -> None:
        # short: Ray's unix socket paths must stay under 107 bytes
        self.root = Path(root or tempfile.mkdtemp(prefix="gitml-ray-", dir="/tmp"))
        self.hidden = [Path(h) for h in hidden]
        self.extra_env = dict(env or {})
        self.port = 0
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.scratch = self.root / "tmp" / "gitml-scratch"  # where workers make theirs
        self.gates = self.root / "gates"  # fault gates the workers can see
        self.gates.mkdir(parents=True, exist_ok=True)

    @property
    def address(self) -> str:
        return f"{IP}:{self.port}"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               "HOME": str(home), "TMPDIR": str(self.root / "tmp"), "LANG": "C.UTF-8",
               "GIT_CONFIG_NOSYSTEM": "1", "GITML_NO_PROGRESS": "1",
               "AWS_EC2_METADATA_DISABLED": "true", "RAY_USAGE_STATS_ENABLED": "0"}
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def _node(self, args: list[str], name: str, timeout: float = 120.0,
              env: dict[str, str] | None = None) -> None:
        log = self.root / f"{name}.log"
        mounts = " && ".join(f"mount -t tmpfs -o size=1m,mode=0700 none {shlex.quote(str(h))}"
                             for h in self.hidden)
        cmd = shlex.join([str(RAY), "start", *args, "--node-ip-address", IP,
                          "--disable-usage-stats", "--block"])
        script = f"{mounts} && exec {cmd}" if mounts else f"exec {cmd}"
        out = open(log, "ab")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                 script], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=self.env(env),
                                start_new_session=True)
        out.close()
        self.nodes.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_bytes()
            if b"Ray runtime started" in text:
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"ray start ({name}) failed:\n"
                           + log.read_text(errors="replace")[-3000:])

    def start(self, cpus: int = 2, second: int = 0, port: int = 0,
              second_env: dict[str, str] | None = None) -> None:
        """The head with ``cpus`` CPUs (on ``port``, default a free one); with ``second`` >
        0, a second node with that many CPUs, the custom resource ``second`` and
        ``second_env`` in its environment."""
        for attempt in range(2):  # the port is free when chosen, not when ray binds it
            self.port = port or free_port()
            try:
                self._node(["--head", "--port", str(self.port), "--num-cpus", str(cpus),
                            "--temp-dir", str(self.root / "head"),
                            "--include-dashboard", "false",
                            "--object-store-memory", str(100 << 20)], "head")
                break
            except RuntimeError:
                if attempt:
                    raise
        if second:
            self._node(["--address", self.address, "--num-cpus", str(second),
                        "--resources", '{"second": 1}', "--temp-dir", str(self.root / "node2"),
                        "--object-store-memory", str(100 << 20)], "node2", env=second_env)

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.nodes:  # a node drains for a long while: its data is scratch
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.nodes = []

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
