"""Sub-file deduplication (issue 21): what a new version of a big file costs.

Versions of a Parquet table (written by ``gitml.api.write_parquet``, and with pyarrow's
defaults), and of a safetensors-like model with one tensor changed: new bytes stored
and pushed per version by gitml (chunks), gitml ``--no-chunk`` and DVC, timings of the
add and of the push of version 2 to SeaweedFS, and the store after all versions.
Sizes: ``GITML_BENCH_DEDUP_MB`` (default 1024) per file.

Disk: the versions are generated into each repository in turn (not kept), and the
whole-file tools' older objects are deleted once their size is counted, so a run needs
about 6x the file size free.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import bench_remote
from harness import DVC, GITML, WORK, Bench, sh, trash, workload

SIZE = int(os.environ.get("GITML_BENCH_DEDUP_MB", "1024")) << 20
_GEN = r'''
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
size, version, kind, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = size // 21                        # about 21 bytes a row, compressed
def part(seed, start, n):
    rng = np.random.default_rng(seed)
    return pa.table({"id": np.arange(start, start + n, dtype=np.int64),
                     "ts": np.arange(start, start + n, dtype=np.int64) * 1000
                           + rng.integers(0, 1000, n),
                     "x": rng.random(n), "y": rng.integers(0, 1 << 20, n).astype(np.int32),
                     "z": rng.random(n).astype(np.float32),
                     "cat": pa.array(rng.integers(0, 300, n).astype(np.int16)).cast(pa.string())
                            .dictionary_encode()})
t = part(1, 0, rows)
if version >= 2:                         # 1 % more rows at the end
    t = pa.concat_tables([t, part(2, rows, rows // 100)])
if version >= 3:                         # a contiguous 1 % deleted from the middle
    mid = t.num_rows // 2
    t = pa.concat_tables([t.slice(0, mid), t.slice(mid + rows // 100)])
if version >= 4:                         # one column added
    t = t.append_column("w", pa.array(np.random.default_rng(4).random(t.num_rows)))
t = t.combine_chunks()
if kind == "cdc":
    import gitml.api
    gitml.api.write_parquet(t, out)
else:
    pq.write_table(t, out)               # pyarrow's defaults: no CDC, 1 Mi-row groups
if version >= 4:
    md = pq.ParquetFile(out).metadata
    col = sum(md.row_group(g).column(md.num_columns - 1).total_compressed_size
              for g in range(md.num_row_groups))
    print(col)
'''
_MODEL = r'''
import sys, json, struct, numpy as np
size, version, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n, tensor = size // (20 << 20), 20 << 20        # 20 MiB tensors
header = {f"layer{i}.weight": {"dtype": "F32", "shape": [tensor // 4],
                               "data_offsets": [i * tensor, (i + 1) * tensor]} for i in range(n)}
raw = json.dumps(header).encode()
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw)
    for i in range(n):
        seed = 1000 + i if not (version == 2 and i == n // 2) else 99   # one tensor changed
        f.write(np.random.default_rng(seed).standard_normal(tensor // 4, np.float32).tobytes())
'''


def _script(name: str, text: str) -> str:
    path = WORK / name
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"{sys.executable} {path}"


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_size
    return total


class _Tool:
    """One repository of one tool: add (and push) versions, count what each costs."""

    def __init__(self, name: str, bench: Bench, tag: str) -> None:
        self.name, self.bench = name, bench
        self.root = WORK / f"dedup-{tag}-{name.replace(' --', '-')}"
        trash(self.root, big=True)
        self.root.mkdir(parents=True)
        env = bench.env
        sh("git init -q", self.root, env)
        if name.startswith("gitml"):
            sh(f"{GITML} init -q && {GITML} config core.link copy", self.root, env)
            self.cache = self.root / ".gitml" / "cache"
        else:
            sh(f"{DVC} init -q && {DVC} config cache.type copy", self.root, env)
            self.cache = self.root / ".dvc" / "cache"
        self.stored: list[int] = []
        self.total = 0  # store bytes after every version (whole files: counted, then dropped)
        self.add_s: list[float] = []

    def add(self, path: str) -> None:
        before = _tree_bytes(self.cache)
        if self.name == "gitml":
            cmd = f"{GITML} add -q {path}"
        elif self.name == "gitml --no-chunk":
            cmd = f"{GITML} add -q --no-chunk {path}"
        else:
            cmd = f"{DVC} add -q {path}"
        os.sync()
        t = time.perf_counter()
        sh(cmd, self.root, self.bench.env)
        self.add_s.append(time.perf_counter() - t)
        sh("git add -A && git commit -qm v", self.root, self.bench.env)
        new = _tree_bytes(self.cache) - before
        self.stored.append(new)
        self.total += new
        if self.name != "gitml" and len(self.stored) > 1:  # whole files: drop the last one
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        files = sorted((p for p in self.cache.rglob("*") if p.is_file()
                        and p.stat().st_size > 1 << 20), key=lambda p: p.stat().st_mtime)
        for p in files[:-1]:
            p.chmod(0o644)
            p.unlink()


def _version(gen: str, tools: list[_Tool], v: int, kind: str) -> int:
    """Generate version ``v`` once and link it into each tool's repository; returns the
    added column's compressed size (version 4 of a table), else 0."""
    name = "table.parquet" if kind != "model" else "model.safetensors"
    out = WORK / f"dedup-{kind}-v{v}-{name}"
    args = f"{SIZE} {v} {kind} {out}" if kind != "model" else f"{SIZE} {v} {out}"
    col = sh(f"{gen} {args}", None, tools[0].bench.env).strip()
    for tool in tools:
        dest = tool.root / name
        if dest.exists():
            dest.chmod(0o644)
            dest.unlink()
        os.link(out, dest)
    out.unlink()
    return int(col or 0)


def _pct(n: int, of: int) -> str:
    return f"{n / of * 100:.1f} %"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


@workload("dedup.parquet")
def parquet_versions(bench: Bench) -> None:
    gen = _script("gen_table.py", _GEN)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    for kind in ("cdc", "defaults"):
        names = ["gitml", "gitml --no-chunk"] + (["dvc"] if bench.with_dvc and kind == "cdc"
                                                 else [])
        tools = [_Tool(n, bench, kind) for n in names]
        sizes: list[int] = []
        col = 0
        for v in (1, 2, 3, 4):
            col = _version(gen, tools, v, kind) or col
            for tool in tools:
                tool.add("table.parquet")
            sizes.append((tools[0].root / "table.parquet").stat().st_size)
        label = "gitml.api.write_parquet" if kind == "cdc" else "pyarrow defaults, no CDC"
        bench.note(f"**Parquet, {label}** ({_mib(sizes[0])}; v2 +1 % rows appended, v3 1 % "
                   f"contiguous rows deleted from the middle, v4 one column added, "
                   f"the column alone {_mib(col)}); load before: `{load}`")
        bench.note("| tool | v1 | v2 new | v3 new | v4 new | store after 4 | add s (v1/v2/v3/v4) |")
        bench.note("|---|---|---|---|---|---|---|")
        for tool in tools:
            s = tool.stored
            bench.note(f"| {tool.name} | {_mib(s[0])} | {_mib(s[1])} ({_pct(s[1], sizes[1])}) "
                       f"| {_mib(s[2])} ({_pct(s[2], sizes[2])}) | {_mib(s[3])} "
                       f"(column + {_pct(max(s[3] - col, 0), sizes[3])}) | {_mib(tool.total)} | "
                       + "/".join(f"{t:.1f}" for t in tool.add_s) + " |")
        for tool in tools:
            trash(tool.root, big=True)


@workload("dedup.model")
def model_versions(bench: Bench) -> None:
    gen = _script("gen_model.py", _MODEL)
    tool = _Tool("gitml", bench, "model")
    for v in (1, 2):
        _version(gen, [tool], v, "model")
        tool.add("model.safetensors")
    bench.note(f"**safetensors-like model** ({_mib(SIZE)}, 20 MiB tensors, one changed in "
               f"v2): gitml stored {_mib(tool.stored[0])}, then {_mib(tool.stored[1])} new "
               "(target: at most 25 MiB)")
    trash(tool.root, big=True)


@workload("dedup.push_s3")
def push_versions(bench: Bench) -> None:
    """Push v1, then time the push of v2 (1 % more rows), gitml (chunks) against DVC,
    each sample from the remote as v1 left it; then push v3 and v4 and count what each
    version sent."""
    gen = _script("gen_table.py", _GEN)
    names = ["gitml"] + (["dvc"] if bench.with_dvc else [])
    tools = {n: _Tool(n, bench, "push") for n in names}
    with bench_remote._S3(bench) as srv:
        for n, tool in tools.items():
            setup = bench_remote._gitml_s3 if n == "gitml" else bench_remote._dvc_s3
            setup(tool.root, srv, f"dedup-{n}", bench)
        _version(gen, list(tools.values()), 1, "cdc")
        for n, tool in tools.items():
            tool.add("table.parquet")
            sh(f"{GITML if n == 'gitml' else DVC} push -q", tool.root, bench.env)
        pages = srv.client().get_paginator("list_objects_v2")

        def remote_bytes(n: str) -> int:
            return sum(o["Size"] for page in pages.paginate(Bucket=srv.bucket,
                                                            Prefix=f"dedup-{n}/")
                       for o in page.get("Contents", ()))

        def remote_keys(n: str) -> set[str]:
            return {o["Key"] for page in pages.paginate(Bucket=srv.bucket,
                                                        Prefix=f"dedup-{n}/")
                    for o in page.get("Contents", ())}

        after_v1 = {n: remote_bytes(n) for n in names}
        v1_keys = {n: remote_keys(n) for n in names}
        _version(gen, list(tools.values()), 2, "cdc")
        for tool in tools.values():
            tool.add("table.parquet")

        def setup_for(n: str):
            """Each sample starts from the remote as v1 left it: what an earlier sample's
            push of v2 added is deleted first (neither tool keeps a record of what a remote
            holds: each asks the server)."""
            def fn() -> Path:
                extra = sorted(remote_keys(n) - v1_keys[n])
                for i in range(0, len(extra), 1000):
                    srv.client().delete_objects(Bucket=srv.bucket, Delete={
                        "Objects": [{"Key": k} for k in extra[i:i + 1000]]})
                return tools[n].root
            return fn

        size = _mib((tools["gitml"].root / "table.parquet").stat().st_size)
        rows = bench.compare(f"push v2 (+1 % rows) of a {size} table to S3 after v1",
                             {n: (setup_for(n), f"{GITML if n == 'gitml' else DVC} push -q")
                              for n in names}, target="gitml >= 10x faster than dvc")
        held = {n: [after_v1[n], remote_bytes(n)] for n in names}
        # untimed: what each later version sends (gitml only: DVC sends the whole file
        # again, as v2 shows, and two more copies cost 2.3 GiB of disk)
        if "dvc" in tools:
            trash(tools["dvc"].root, big=True)
        for v in (3, 4):
            _version(gen, [tools["gitml"]], v, "cdc")
            tools["gitml"].add("table.parquet")
            sh(f"{GITML} push -q", tools["gitml"].root, bench.env)
            held["gitml"].append(remote_bytes("gitml"))
        bench.note(f"**Pushed to S3 per version** (push v2 timed above: gitml "
                   f"{rows['gitml'].median:.2f} s"
                   + (f", dvc {rows['dvc'].median:.2f} s" if "dvc" in rows else "") + ")")
        bench.note("| tool | v1 sent | v2 sent | v3 sent | v4 sent | remote holds |")
        bench.note("|---|---|---|---|---|---|")
        for n in names:
            h = held[n]
            sent = [h[0]] + [b - a for a, b in zip(h[:-1], h[1:], strict=True)]
            cells = [_mib(x) for x in sent] + ["not run"] * (4 - len(sent))
            bench.note(f"| {n} | " + " | ".join(cells) + f" | {_mib(h[-1])} (after v{len(h)}) |")
    for tool in tools.values():
        trash(tool.root, big=True)
    shutil.rmtree(srv.root, ignore_errors=True)  # the remote's GiBs: not left for the end


_SIZES = r'''
import sys, xxhash
from pyfastcdc import FastCDC
paths = sys.argv[1:]
for avg in (64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20):
    cdc = FastCDC(avg, min_size=avg // 4, max_size=avg * 4)
    seen, row = set(), []
    for i, p in enumerate(paths):
        new = total = n = 0
        for c in cdc.cut_file(p):
            h = xxhash.xxh3_128_hexdigest(c.data)
            total += c.length
            n += 1
            if h not in seen:
                seen.add(h)
                new += c.length
        row.append((new, total, n))
    print(avg, *(f"{a},{b},{c}" for a, b, c in row))
'''


@workload("dedup.chunk_size")
def chunk_size(bench: Bench) -> None:
    """Average chunk size against new bytes per version and objects per GiB."""
    gen = _script("gen_table.py", _GEN)
    cut = _script("chunk_sizes.py", _SIZES)
    paths = []
    for v in (1, 2, 3):
        out = WORK / f"dedup-sizes-v{v}.parquet"
        sh(f"{gen} {SIZE} {v} cdc {out}", None, bench.env)
        paths.append(out)
    rows = sh(f"{cut} {' '.join(map(str, paths))}", None, bench.env).split("\n")
    bench.note(f"**Chunk size** (FastCDC parameter; chunks average about 1.25x it), table "
               f"of {_mib(paths[0].stat().st_size)} by gitml.api.write_parquet:")
    bench.note("| avg parameter | v2 new (+1 % rows) | v3 new (1 % deleted) | objects per GiB "
               "| PUTs of 1 GiB at 780/s |")
    bench.note("|---|---|---|---|---|")
    for line in filter(None, rows):
        avg, *vs = line.split()
        (_, t1, n1), (n2, t2, _), (n3, t3, _) = (tuple(map(int, v.split(","))) for v in vs)
        per_gib = n1 * (1 << 30) / t1
        bench.note(f"| {int(avg) >> 10} KiB | {_pct(n2, t2)} | {_pct(n3, t3)} | "
                   f"{per_gib:,.0f} | {per_gib / 780:.1f} s |")
    for p in paths:
        p.unlink()
