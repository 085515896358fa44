"""Remote workloads (issue 6): push / pull to a directory remote and to S3 (SeaweedFS).

- ``remote.dir_100k``: push of 100,000 small files to a directory remote against DVC and
  ``cp -r`` of the same tree; pull into a fresh clone against DVC.
- ``remote.s3_20k``: push / fetch of 20,000 small objects against a plain boto3
  thread-pool PUT / GET loop of the same files (the server's ceiling from Python) and DVC
  (dvc-s3), all to one SeaweedFS server started for the workload.
- ``remote.s3_1gib``: one 1 GiB object against boto3's own TransferManager
  (``upload_file`` / ``download_file`` with its default configuration).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bench_core
from harness import DATA, DVC, GITML, WORK, Bench, sh, trash, workload

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s3server  # noqa: E402

N_S3 = int(os.environ.get("GITML_BENCH_S3_FILES", "20000"))
PY = str(Path(GITML).parent / "python") if Path(GITML).parent.joinpath("python").exists() \
    else sys.executable  # the baselines use the same boto3 as gitml
JOBS = 16  # the baselines' thread pools: gitml's default for S3

_PUT_LOOP = """
import hashlib, os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
src, prefix, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 config=Config(max_pool_connections=jobs + 10, s3={"addressing_style": "path"}))
bucket = os.environ["BENCH_BUCKET"]
files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs]
def put(path):
    with open(path, "rb") as f:
        data = f.read()
    h = hashlib.md5(path.encode()).hexdigest()
    c.put_object(Bucket=bucket, Key=f"{prefix}/objects/{h[:2]}/{h[2:]}", Body=data)
with ThreadPoolExecutor(jobs) as pool:
    list(pool.map(put, files, chunksize=16))
"""

_GET_LOOP = """
import os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
prefix, dest, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 config=Config(max_pool_connections=jobs + 10, s3={"addressing_style": "path"}))
bucket = os.environ["BENCH_BUCKET"]
keys = [o["Key"] for page in c.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix + "/") for o in page.get("Contents", ())]
for i in range(256):
    os.makedirs(os.path.join(dest, f"{i:02x}"), exist_ok=True)
def get(key):
    data = c.get_object(Bucket=bucket, Key=key)["Body"].read()
    a, b = key.rsplit("/", 2)[1:]
    with open(os.path.join(dest, a, b), "wb") as f:
        f.write(data)
with ThreadPoolExecutor(jobs) as pool:
    list(pool.map(get, keys, chunksize=16))
"""

_TM = """
import os, sys
import boto3
from botocore.config import Config
op, path, key = sys.argv[1:4]
c = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 config=Config(max_pool_connections=20, s3={"addressing_style": "path"}))
if op == "put":
    c.upload_file(path, os.environ["BENCH_BUCKET"], key)
else:
    c.download_file(os.environ["BENCH_BUCKET"], key, path)
"""


def _script(name: str, text: str) -> str:
    p = WORK / "remote-scripts" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return f"{PY} {p}"


def _tree(n: int) -> Path:
    """The first ``n`` files of bench_core's 100,000-file tree (1-4 KiB each)."""
    full = bench_core.small_tree()
    if n >= 100_000:
        return full
    path = DATA / f"tree-{n}-of-100000"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.mkdir(parents=True)
        for i in range(n // 1000):
            sh(f"cp -r {full}/d{i:03d} {tmp}/")
        tmp.rename(path)
    return path


def _repo(tool: str, tag: str, bench: Bench, tree: Path | None = None,
          big: Path | None = None) -> Path:
    """A committed repository tracking ``tree`` (as tree/) or ``big`` (as big.bin)."""
    root = bench_core.new_repo(tool, tag, bench)
    add = GITML if tool == "gitml" else DVC
    if tree is not None:
        sh(f"cp -r {tree} {root}/tree && {add} add -q tree", root, bench.env)
    if big is not None:
        os.link(big, root / "big.bin")
        whole = " --no-chunk" if tool == "gitml" else ""  # one object, as the workload says
        sh(f"{add} add -q{whole} big.bin", root, bench.env)
    sh("git add -A && git commit -qm data", root, bench.env)
    return root


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


@workload("remote.dir_100k")
def dir_100k(bench: Bench) -> None:
    tree = _tree(bench_core.N_FILES)
    repos = {"gitml": _repo("gitml", "remote-dir", bench, tree=tree)}
    if bench.with_dvc:
        repos["dvc"] = _repo("dvc", "remote-dir", bench, tree=tree)
    count = _Counter()
    last: dict[str, Path] = {}

    def push_setup(tool: str):
        def fn() -> Path:
            target = WORK / f"remote-dir-{tool}-{count.next()}"
            trash(target)
            last[tool] = target
            bench.env["BENCH_DEST"] = str(target)
            root = repos.get(tool, repos["gitml"])
            if tool == "gitml":
                sh(f"{GITML} remote add -q -f nas {target}", root, bench.env)
            elif tool == "dvc":
                sh(f"{DVC} remote add -f -d nas {target}", root, bench.env)
            return root
        return fn

    tools = {"gitml": (push_setup("gitml"), f"{GITML} push -q"),
             "cp -r": (push_setup("cp"), 'cp -r tree "$BENCH_DEST"')}
    if bench.with_dvc:
        tools["dvc"] = (push_setup("dvc"), f"{DVC} push -q")
    bench.compare(f"push {bench_core.N_FILES} files, directory remote", tools,
                  target="gitml >= 4x faster than dvc, <= 1.5x cp -r")

    def pull_setup(tool: str):
        def fn() -> Path:
            dest = WORK / f"remote-dir-clone-{tool}"
            trash(dest)
            sh(f"git clone -q {repos[tool]} {dest}", None, bench.env)
            if tool == "gitml":
                sh(f"{GITML} remote add -q -f nas {last['gitml']}", dest, bench.env)
            else:
                sh(f"{DVC} remote add -f -d nas {last['dvc']}", dest, bench.env)
            return dest
        return fn

    pulls = {"gitml": (pull_setup("gitml"), f"{GITML} pull -q")}
    if bench.with_dvc:
        pulls["dvc"] = (pull_setup("dvc"), f"{DVC} pull -q")
    bench.compare(f"pull {bench_core.N_FILES} files into a fresh clone, directory remote",
                  pulls, target="gitml >= 4x faster than dvc")


class _S3:
    """One SeaweedFS server for a workload; its credentials in the bench environment."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.server = s3server.S3Server(WORK / "remote-s3")
        self.saved = dict(bench.env)

    def __enter__(self) -> s3server.S3Server:
        trash(self.server.root)
        self.server.root.mkdir(parents=True)
        self.server.start()
        self.bench.env.update(self.server.env(), BENCH_BUCKET=self.server.bucket,
                              AWS_EC2_METADATA_DISABLED="true")
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.bench.env.clear()
        self.bench.env.update(self.saved)
        self.server.stop()


def _gitml_s3(root: Path, srv: s3server.S3Server, prefix: str, bench: Bench) -> None:
    sh(f"{GITML} remote add -q -f storage s3://{srv.bucket}/{prefix} && "
       f"{GITML} remote modify storage endpoint_url {srv.endpoint} >/dev/null", root, bench.env)


def _dvc_s3(root: Path, srv: s3server.S3Server, prefix: str, bench: Bench) -> None:
    sh(f"{DVC} remote add -f -d s3r s3://{srv.bucket}/{prefix} && "
       f"{DVC} remote modify s3r endpointurl {srv.endpoint}", root, bench.env)


@workload("remote.s3_20k")
def s3_20k(bench: Bench) -> None:
    tree = _tree(N_S3)
    repos = {"gitml": _repo("gitml", "remote-s3", bench, tree=tree)}
    if bench.with_dvc:
        repos["dvc"] = _repo("dvc", "remote-s3", bench, tree=tree)
    put_loop = _script("put_loop.py", _PUT_LOOP)
    get_loop = _script("get_loop.py", _GET_LOOP)
    count = _Counter()
    last: dict[str, str] = {}
    with _S3(bench) as srv:
        def push_setup(tool: str):
            def fn() -> Path:
                last[tool] = f"{tool}-{count.next()}"
                bench.env["BENCH_PREFIX"] = last[tool]
                if tool == "gitml":
                    _gitml_s3(repos["gitml"], srv, last[tool], bench)
                elif tool == "dvc":
                    _dvc_s3(repos["dvc"], srv, last[tool], bench)
                return repos.get(tool, repos["gitml"])
            return fn

        tools = {"gitml": (push_setup("gitml"), f"{GITML} push -q"),
                 "boto3 loop": (push_setup("boto3"),
                                f'{put_loop} tree "$BENCH_PREFIX" {JOBS}')}
        if bench.with_dvc:
            tools["dvc"] = (push_setup("dvc"), f"{DVC} push -q")
        bench.compare(f"push {N_S3} objects to S3 (SeaweedFS)", tools,
                      target="gitml <= 1.3x boto3 loop, >= 2x faster than dvc")

        def fetch_setup(tool: str):
            def fn() -> Path:
                dest = WORK / f"remote-s3-clone-{tool}"
                trash(dest)
                bench.env["BENCH_PREFIX"] = last[tool]
                if tool == "boto3":
                    dest.mkdir(parents=True)
                    return dest
                sh(f"git clone -q {repos[tool]} {dest}", None, bench.env)
                (_gitml_s3 if tool == "gitml" else _dvc_s3)(dest, srv, last[tool], bench)
                return dest
            return fn

        fetches = {"gitml": (fetch_setup("gitml"), f"{GITML} fetch -q"),
                   "boto3 loop": (fetch_setup("boto3"),
                                  f'{get_loop} "$BENCH_PREFIX" . {JOBS}')}
        if bench.with_dvc:
            fetches["dvc"] = (fetch_setup("dvc"), f"{DVC} fetch -q")
        bench.compare(f"fetch {N_S3} objects from S3 into a fresh clone", fetches,
                      target="gitml <= 1.3x boto3 loop, >= 2x faster than dvc")


@workload("remote.s3_1gib")
def s3_1gib(bench: Bench) -> None:
    big = bench_core.big_file()
    repo = _repo("gitml", "remote-s3-big", bench, big=big)
    tm = _script("tm.py", _TM)
    count = _Counter()
    last: dict[str, str] = {}
    with _S3(bench) as srv:
        def push_setup(tool: str):
            def fn() -> Path:
                last[tool] = f"big-{tool}-{count.next()}"
                bench.env["BENCH_PREFIX"] = last[tool]
                if tool == "gitml":
                    _gitml_s3(repo, srv, last[tool], bench)
                return repo
            return fn

        bench.compare("push one 1 GiB object to S3", {
            "gitml": (push_setup("gitml"), f"{GITML} push -q"),
            "TransferManager": (push_setup("tm"), f'{tm} put {big} "$BENCH_PREFIX/big"')},
            target="gitml >= 70% of TransferManager throughput (<= 1.43x its time)")

        def fetch_setup(tool: str):
            def fn() -> Path:
                dest = WORK / f"remote-s3-big-clone-{tool}"
                trash(dest)
                bench.env["BENCH_PREFIX"] = last[tool]
                if tool == "tm":
                    dest.mkdir(parents=True)
                    return dest
                sh(f"git clone -q {repo} {dest}", None, bench.env)
                _gitml_s3(dest, srv, last["gitml"], bench)
                return dest
            return fn

        bench.compare("fetch one 1 GiB object from S3", {
            "gitml": (fetch_setup("gitml"), f"{GITML} fetch -q"),
            "TransferManager": (fetch_setup("tm"), f'{tm} get big.bin "$BENCH_PREFIX/big"')},
            target="gitml >= 70% of TransferManager throughput (<= 1.43x its time)")
