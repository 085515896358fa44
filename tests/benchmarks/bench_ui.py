"""``gitml ui`` workloads (issue 22): start-up, the experiments table and the compare view
with 200 experiments, server time and browser time, and the server's memory.

The project: a one-stage pipeline whose command logs 100 steps of a loss with ``Live`` and
writes ``metrics.json``; 200 experiments made for real with one ``gitml exp run`` sweep,
kept under ``harness.DATA``. Browser times come from Debian's headless Chromium driven
over DevTools (tests/browser.py): from navigation to the page saying it has drawn
everything (``data-ready``), and the app's own measure from the route change to the last
DOM node / chart (``window.gitmlTiming``). Server times are whole HTTP requests from
Python (a fresh answer: the cache is bypassed by moving a ref first) and the server's own
``Server-Timing``. The CLI's equivalent, ``gitml exp show``, runs in the same run for
scale.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import DATA, GITML, Bench, Row, Sample, run_timed, sh, trash, workload

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the browser driver

N_EXPS = 200
VERSION = "v1"
TRAIN = """\
import json
from gitml import Live
text = open("params.yaml").read()
lr = float(text.split("lr:")[1].split()[0])
with Live() as live:
    for s in range(100):
        live.log_metric("loss", 1 / (1 + lr * s))
        live.next_step()
json.dump({"acc": round(1 - abs(lr - 0.05), 6), "loss": round(abs(lr - 0.05), 6)},
          open("metrics.json", "w"))
open("model.bin", "w").write(text)
"""


def _project(bench: Bench) -> Path:
    kept = DATA / f"ui-{N_EXPS}-{VERSION}"
    if (kept / ".ready").exists():
        return kept
    trash(kept)
    kept.mkdir(parents=True)
    py = sys.executable
    sh("git init -q", kept, bench.env)
    sh(f"{GITML} init -q", kept, bench.env)
    (kept / "train.py").write_text(TRAIN)
    (kept / "params.yaml").write_text("train:\n  lr: 0.1\n  epochs: 3\n  depth: 4\n")
    (kept / "gitml.yaml").write_text(
        f"stages:\n  train:\n    cmd: {py} train.py\n    deps: [train.py]\n"
        f"    params: [train]\n    outs: [model.bin]\n    metrics: [metrics.json]\n"
        "metrics:\n  - path: metrics.json\n    keys: {acc: higher, loss: lower}\n")
    sh(f"{GITML} repro -q", kept, bench.env)
    sh("git add -A && git commit -q -m project", kept, bench.env)
    lrs = ",".join(f"{0.001 * (i + 1):.3f}" for i in range(N_EXPS))
    sh(f"{GITML} exp run -q -S train.lr={lrs}", kept, bench.env)
    (kept / ".ready").touch()
    return kept


class _Server:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([GITML, "ui", "--port", "0", "--json"], cwd=root, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.url = json.loads(self.proc.stdout.readline())["url"]  # type: ignore[union-attr]
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def get(self, path: str) -> tuple[float, float, bytes]:
        """(wall s, server's own ms, body)."""
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", path)
        res = conn.getresponse()
        body = res.read()
        conn.close()
        wall = time.perf_counter() - t0
        assert res.status == 200, body[:300]
        timing = res.getheader("Server-Timing") or "app;dur=0"
        return wall, float(timing.split("dur=")[1]), body

    def rss_mib(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in status.splitlines()
              if ln.startswith(("VmRSS", "VmHWM"))}
        return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()  # type: ignore[union-attr]


def _row(bench: Bench, name: str, tool: str, walls: list[float], target: str = "",
         rss: float = 0.0) -> None:
    row = Row(name, tool, [Sample(w, 0.0, rss, 0) for w in walls], target)
    bench.rows.append(row)


def _fresh(root: Path, bench: Bench) -> None:
    """Move a ref so the server's cache is stale: the next answer is computed anew."""
    sh(f"git update-ref refs/bench/tick-{time.monotonic_ns()} HEAD", root, bench.env)


@workload("ui.startup")
def startup(bench: Bench) -> None:
    root = _project(bench)
    walls = []
    for _ in range(bench.repeat):
        t0 = time.perf_counter()
        s = _Server(root, bench.env)
        s.get("/")
        walls.append(time.perf_counter() - t0)
        s.stop()
    _row(bench, "gitml ui: start to first page served", "gitml ui", walls)
    version = [run_timed(f"{GITML} --version", root, bench.env) for _ in range(bench.repeat)]
    bench.rows.append(Row("gitml ui: start to first page served", "gitml --version", version))


@workload("ui.views")
def views(bench: Bench) -> None:
    from browser import CHROMIUM, Browser, Page

    root = _project(bench)
    exps = json.loads(sh(f"{GITML} exp show --json", root, bench.env))
    names = [r["name"] for r in exps if r["type"] == "experiment"]
    assert len(names) == N_EXPS, len(names)
    s = _Server(root, bench.env)
    try:
        s.get("/static/vega.js")  # the bundle is built once per machine and cached
        table, table_own, cmp2, cmp5 = [], [], [], []
        for _ in range(bench.repeat):
            _fresh(root, bench)
            w, own, body = s.get("/api/experiments")
            table.append(w)
            table_own.append(own / 1000)
            assert len(json.loads(body)["rows"]) == N_EXPS + 1
            q2 = "&".join(f"rev={n}" for n in ["main", names[0], names[-1]][1:])
            q5 = "&".join(f"rev={n}" for n in ["main", *names[:4]])
            _fresh(root, bench)
            cmp2.append(s.get(f"/api/compare?rev=main&{q2}")[0] + s.get(f"/api/plots?rev=main&"
                                                                        f"{q2}")[0])
            _fresh(root, bench)
            cmp5.append(s.get(f"/api/compare?{q5}")[0] + s.get(f"/api/plots?{q5}")[0])
        cached = [s.get("/api/experiments")[0] for _ in range(bench.repeat)]
        _row(bench, f"server: experiments JSON, {N_EXPS} experiments", "gitml ui", table,
             target="first render < 1 s")
        exp_show = [run_timed(f"{GITML} exp show --json", root, bench.env)
                    for _ in range(bench.repeat)]
        bench.rows.append(Row(f"server: experiments JSON, {N_EXPS} experiments",
                              "gitml exp show --json (process)", exp_show))
        _row(bench, f"server: experiments JSON, {N_EXPS} experiments", "gitml ui, cached",
             cached)
        _row(bench, "server: compare + plots, 3 revisions", "gitml ui", cmp2)
        _row(bench, "server: compare + plots, 5 revisions", "gitml ui", cmp5)
        print(f"# ui.views: server's own time for the table: "
              f"{statistics.median(table_own) * 1000:.0f} ms median", flush=True)
        if CHROMIUM is None:
            print("# ui.views: no chromium: browser times skipped", flush=True)
            return
        b = Browser()
        try:
            first, first_page, first_app, compare, compare_app = [], [], [], [], []
            for _ in range(bench.repeat):
                _fresh(root, bench)
                t0 = time.perf_counter()
                page = Page(b, s.url, wait=False)
                page.wait_ready(timeout=120, not_loading=True)
                first.append(time.perf_counter() - t0)
                first_app.append(page.eval("window.gitmlTiming.experiments") / 1000)
                first_page.append(page.eval("window.gitmlTiming.firstRender") / 1000)
                rows = page.eval("document.querySelectorAll('#exp-table tbody tr').length")
                assert rows == N_EXPS + 1, rows
                _fresh(root, bench)
                n = page.eval("window.gitmlRenders")
                t0 = time.perf_counter()
                page.eval(f"location.hash = '#/compare?rev=main&{q2}'")
                while not page.eval(f"window.gitmlRenders > {n} && "
                                    "document.body.dataset.ready === 'yes'"):
                    time.sleep(0.01)
                compare.append(time.perf_counter() - t0)
                compare_app.append(page.eval("window.gitmlTiming.compare") / 1000)
                assert page.eval("Object.keys(window.gitmlViews).length") >= 1
                page.send("Page.close")
        finally:
            b.close()
        _row(bench, f"browser: experiments table, {N_EXPS} experiments (new tab to drawn)",
             "chromium", first)
        _row(bench, f"browser: experiments table, {N_EXPS} experiments (page load to drawn)",
             "chromium", first_page, target="< 1 s")
        _row(bench, f"browser: experiments table, {N_EXPS} experiments (app: fetch + DOM)",
             "chromium", first_app)
        _row(bench, "browser: compare view, 3 revisions + chart (click to drawn)", "chromium",
             compare)
        _row(bench, "browser: compare view, 3 revisions + chart (app: fetch + DOM + Vega)",
             "chromium", compare_app)
    finally:
        now, peak = s.rss_mib()
        s.stop()
    print(f"# ui.views: server memory after the run: {now:.0f} MiB resident, "
          f"{peak:.0f} MiB peak", flush=True)
    _row(bench, "server memory (peak RSS MiB in the peak column)", "gitml ui", [0.0], rss=peak)
