"""Benchmark harness: whole-process timings, interleaved with the peer, ratios of medians.

A workload is a function decorated with :func:`workload` that receives a :class:`Bench`
and calls :meth:`Bench.compare` (or :meth:`Bench.time`) with commands to run. Every
sample is a fresh process; its wall time, user+sys CPU and peak RSS come from
``os.wait4``. Set-up runs before each sample and is not timed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("GITML_BENCH_DATA", HERE / ".data"))  # generated, kept between runs
WORK = Path(os.environ.get("GITML_BENCH_WORK", HERE / ".work"))  # per-run scratch
TRASH = WORK / "trash"  # big trees are moved here and deleted once at the end
DVC_VENV = Path(os.environ.get("GITML_BENCH_DVC_VENV", HERE / ".venv-dvc"))
_VENV_GITML = HERE / ".venv-gitml" / "bin" / "gitml"  # a regular install (setup_peers.sh)
GITML = str(_VENV_GITML) if _VENV_GITML.exists() else (
    shutil.which("gitml", path=str(Path(sys.executable).parent)) or "gitml")
DVC = str(DVC_VENV / "bin" / "dvc")

WORKLOADS: dict[str, Callable[[Bench], None]] = {}


def workload(name: str) -> Callable[[Callable[[Bench], None]], Callable[[Bench], None]]:
    def deco(fn: Callable[[Bench], None]) -> Callable[[Bench], None]:
        WORKLOADS[name] = fn
        return fn

    return deco


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    rc: int


@dataclass
class Row:
    workload: str
    tool: str
    samples: list[Sample] = field(default_factory=list)
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)


def git_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    cfg = home / "gitconfig"
    if not cfg.exists():
        home.mkdir(parents=True, exist_ok=True)
        cfg.write_text("[user]\n\tname = bench\n\temail = bench@gitml.invalid\n"
                       "[init]\n\tdefaultBranch = main\n")
    env.update(GIT_CONFIG_GLOBAL=str(cfg), GIT_CONFIG_NOSYSTEM="1", GITML_NO_PROGRESS="1",
               DVC_NO_ANALYTICS="1", HOME=str(home))
    return env


def run_timed(cmd: list[str] | str, cwd: Path, env: dict[str, str]) -> Sample:
    """Run one process to completion: wall time here; CPU and peak RSS from GNU time.

    GNU time (a small C program) forks the command, so the peak RSS is the command's own,
    not that of a forked copy of this Python process.
    """
    shell_cmd = cmd if isinstance(cmd, str) else " ".join(cmd)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        argv = ["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name, "sh", "-c", shell_cmd]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace")
            raise RuntimeError(f"{shell_cmd!r} exited {proc.returncode}: {err[-2000:]}")
        user, system, rss_kb = tf.read().split()[-3:]
    return Sample(wall, float(user) + float(system), int(rss_kb) / 1024, 0)


def sh(cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Untimed set-up step; fails loudly."""
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed: {proc.stderr[-2000:]}")
    return proc.stdout


BIG_STORES = (".gitml/cache", ".dvc/cache")


def trash(path: Path, big: bool = False) -> None:
    """Move a tree out of the way (deleting many files here slows later creates). ``big``
    (a big-file workload's repository): its stores and its files of 64 MiB or more are
    deleted first, or the trash would fill the disk; a few thousand files cost little."""
    if big and path.is_dir() and not path.is_symlink():
        for store in BIG_STORES:
            shutil.rmtree(path / store, ignore_errors=True)
        for f in path.glob("*"):
            if f.is_file() and not f.is_symlink() and f.stat().st_size >= 64 << 20:
                f.unlink()
    if path.exists() or path.is_symlink():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{time.monotonic_ns()}-{path.name}")


class Bench:
    """Collects rows for one run."""

    def __init__(self, repeat: int, with_dvc: bool) -> None:
        self.repeat = repeat
        self.with_dvc = with_dvc and Path(DVC).exists()
        self.rows: list[Row] = []
        self.notes: list[str] = []  # lines printed after the table (byte counts ...)
        self.home = WORK / "home"
        self.env = git_env(self.home)

    def compare(self, name: str, tools: dict[str, tuple[Callable[[], Path], list[str] | str]],
                target: str = "") -> dict[str, Row]:
        """Interleave tools: for each repeat, each tool runs set-up (untimed, then ``sync``)
        then its command.

        ``tools`` maps a tool label to (set-up returning the cwd, command).
        """
        rows = {t: Row(name, t, target=target) for t in tools}
        for _ in range(self.repeat):
            for tool, (setup, cmd) in tools.items():
                cwd = setup()
                os.sync()  # the set-up's writes are not the timed command's to flush
                rows[tool].samples.append(run_timed(cmd, cwd, self.env))
        self.rows.extend(rows.values())
        return rows

    def note(self, line: str) -> None:
        """A line for the report, after the timings (figures that are not times)."""
        self.notes.append(line)
        print(line, file=sys.stderr, flush=True)

    def report(self) -> str:
        lines = ["| workload | tool | median s | min-max s | cpu s | peak MiB | ratio | target |",
                 "|---|---|---|---|---|---|---|---|"]
        by_workload: dict[str, list[Row]] = {}
        for r in self.rows:
            by_workload.setdefault(r.workload, []).append(r)
        for name, rows in by_workload.items():
            base = rows[0].median
            for r in rows:
                ws = [s.wall for s in r.samples]
                cpu = statistics.median(s.cpu for s in r.samples)
                rss = max(s.rss_mb for s in r.samples)
                ratio = "1.00" if r is rows[0] else f"{r.median / base:.2f}x"
                target = r.target if r is rows[0] else ""
                lines.append(f"| {name} | {r.tool} | {r.median:.3f} | {min(ws):.3f}-{max(ws):.3f}"
                             f" | {cpu:.2f} | {rss:.0f} | {ratio} | {target} |")
        return "\n".join(lines + ([""] + self.notes if self.notes else []))
