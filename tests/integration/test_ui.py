"""``gitml ui`` in headless Chromium (tests/browser.py) over a project made with real
``gitml repro`` / ``exp run`` / ``model register`` runs, whose branch, param and metric
names and commit messages carry HTML and script. Read-only, local-only, and nothing from
the repository ever runs as code."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, Page, browser_fixture
from conftest import git, write

EVIL_BRANCH = "<img/src=x/onerror=window.pwned=4>"
EVIL_METRIC = "<img src=x onerror=window.pwned=2>"
EVIL_PARAM = "<script>window.pwned=1</script>"
EVIL_MSG = "baseline </script><script>window.pwned=3;alert(3)</script>"
EVIL_MODEL_MSG = "first <img src=x onerror=alert(5)>"

TRAIN = """
import json, os, time
import pyarrow as pa, pyarrow.parquet as pq, yaml
from gitml import Live
p = yaml.safe_load(open("params.yaml"))["train"]
n, lr = p["rows"], p["lr"]
os.makedirs("data", exist_ok=True)
cols = {"id": list(range(n)), "x": [i * lr for i in range(n)]}
if p.get("extra"):
    cols["extra"] = [str(i) for i in range(n)]
pq.write_table(pa.table(cols), "data/features.parquet")
open("model.txt", "w").write(f"lr={lr}\\n")
json.dump({"acc": round(min(0.99, 0.5 + lr), 4), EVIL: 1}, open("metrics.json", "w"))
with Live() as live:
    barrier = os.environ.get("UI_BARRIER")
    if barrier:  # a run the test watches while it runs: it goes on once the file exists
        live.log_metric("progress", 0.5)
        live.flush()
        while not os.path.exists(barrier):
            time.sleep(0.02)
    for s in range(20):
        live.log_metric("loss", 1 / (1 + lr * s))
        if s % 5 == 4:
            import numpy as np
            live.log_image("pred", np.full((6, 6), min(1.0, lr * s / 5)))
        live.next_step()
""".replace("EVIL", repr(EVIL_METRIC))


def gitml(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "gitml", *args], cwd=cwd,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"gitml {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui") / "proj"
    root.mkdir()
    git(root, "init", "-q")
    gitml(root, "init", "-q")
    write(root / "train.py", TRAIN)
    write(root / "params.yaml", "train:\n  lr: 0.1\n  rows: 40\n  extra: false\n"
                                f"xss:\n  '{EVIL_PARAM}': 3\n")
    write(root / "gitml.yaml", f"""
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py]
    params: [train]
    outs: [data/features.parquet, model.txt]
metrics:
  - path: metrics.json
    keys:
      acc: higher
models:
  clf:
    path: model.txt
    description: a toy <b>model</b>
""")
    gitml(root, "repro")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", EVIL_MSG)
    gitml(root, "exp", "run", "-n", "exp-1", "-S", "train.lr=0.3")
    gitml(root, "exp", "run", "-n", EVIL_BRANCH, "-S", "train.lr=0.05")
    gitml(root, "exp", "run", "-n", "exp-2", "-S", "train.rows=60", "-S", "train.extra=true",
          "-S", "train.lr=0.2")
    gitml(root, "exp", "run", "--queue", "-n", "queued-1", "-S", "train.lr=0.01")
    # exp-2 as a colleague's: on the remote only
    remote = root.parent / "origin.git"
    git(root.parent, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "exp-2")
    git(root, "fetch", "-q", "origin")
    gitml(root, "exp", "remove", "exp-2")
    gitml(root, "model", "register", "clf", "--version", "v1.0.0", "-m", EVIL_MODEL_MSG)
    gitml(root, "model", "register", "clf", "--version", "v1.1.0", "--rev", "exp-1")
    gitml(root, "model", "promote", "clf", "v1.1.0", "--stage", "prod")
    return root


class Server:
    def __init__(self, root: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "gitml", "ui", "--port", "0",
                                      "--json", *extra], cwd=root, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line, self.proc.stderr.read()  # type: ignore[union-attr]
        self.url: str = json.loads(line)["url"]
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def get(self, path: str, host: str | None = None, method: str = "GET"
            ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{self.port}")
        conn.endheaders()
        res = conn.getresponse()
        body = res.read()
        conn.close()
        return res.status, dict(res.getheaders()), body

    def stop(self) -> None:
        self.proc.terminate()  # by its PID
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    s = Server(project)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from browser_fixture()


def snapshot(root: Path) -> dict[str, Any]:
    """What must not change: Git's view of the work tree, every ref, and the store."""
    store = {}
    for top, _dirs, files in os.walk(root / ".gitml" / "cache"):
        for f in files:
            p = os.path.join(top, f)
            st = os.stat(p)
            store[p] = (st.st_size, st.st_mtime_ns)
    return {"status": git(root, "status", "--porcelain", "--ignored"),
            "refs": git(root, "for-each-ref"), "store": store,
            "index": (root / ".gitml" / "index").exists()}


def act(page: Page, js: str) -> None:
    """Run ``js`` (a click, a navigation) and wait until the app has rendered again."""
    n = page.eval("window.gitmlRenders || 0")
    page.eval(js)
    deadline = time.monotonic() + 30
    while not page.eval(f"(window.gitmlRenders || 0) > {n} && "
                        "document.body.getAttribute('data-ready') === 'yes'"):
        assert time.monotonic() < deadline, f"no new render after {js}"
        time.sleep(0.03)


def go(page: Page, hash_: str) -> None:
    act(page, f"location.hash = {hash_!r}")


def click(page: Page, css: str) -> None:
    assert page.eval(f"!!document.querySelector({css!r})"), css
    act(page, f"document.querySelector({css!r}).click()")


def open_app(browser: Browser, url: str) -> Page:
    page = Page(browser, url, wait=False)
    deadline = time.monotonic() + 30
    while not page.eval("(window.gitmlRenders || 0) > 0"):
        assert time.monotonic() < deadline, "the app never rendered"
        time.sleep(0.03)
    return page


def texts(page: Page, css: str) -> list[str]:
    return page.eval(f"[...document.querySelectorAll({css!r})].map(e => e.textContent)")  # type: ignore[no-any-return]


def test_click_through_table_compare_plots_data_registry(project: Path, server: Server,
                                                          browser: Browser) -> None:
    before = snapshot(project)
    page = open_app(browser, server.url)
    # -- the table: every kind of row, names shown as text
    names = texts(page, "#exp-table tbody tr td:nth-child(2) > :first-child")
    assert names[0] == "main"
    assert set(names) == {"main", "exp-1", EVIL_BRANCH, "origin/exp-2", "queued-1"}
    states = dict(zip(names, texts(page, "#exp-table tbody tr td:nth-child(3)"), strict=True))
    assert states == {"main": "baseline", "exp-1": "done", EVIL_BRANCH: "done",
                      "origin/exp-2": "done remote", "queued-1": "queued"}
    heads = texts(page, "#exp-table thead th")
    assert "acc" in heads and EVIL_METRIC in heads and f"xss.{EVIL_PARAM}" in heads
    # sort by acc, best first (a click on the header twice: asc, then desc)
    click(page, "th[data-col='metrics:metrics.json:acc']")
    click(page, "th[data-col='metrics:metrics.json:acc']")
    assert "sort=metrics" in page.eval("location.hash") and "order=desc" in page.eval(
        "location.hash")
    order = texts(page, "#exp-table tbody tr td:nth-child(2) > :first-child")
    assert order[:4] == ["main", "exp-1", "origin/exp-2", EVIL_BRANCH]
    # filter on a metric and on the status; group by a param; back restores
    go(page, "#/experiments?q=acc>0.65")
    assert texts(page, "#exp-table tbody tr td:nth-child(2) > :first-child") == [
        "main", "exp-1", "origin/exp-2"]
    act(page, "history.back()")
    assert "order=desc" in page.eval("location.hash")
    go(page, "#/experiments?status=queued,baseline")
    assert texts(page, "#exp-table tbody tr td:nth-child(2) > :first-child") == [
        "main", "queued-1"]
    go(page, "#/experiments?group=params:params.yaml:train.rows&status=done,baseline")
    assert texts(page, "#exp-table tr.group") == ["train.rows = 40 (3)", "train.rows = 60 (1)"]
    # choose and reorder columns: the URL lists them in order
    go(page, "#/experiments?col=metrics:metrics.json:acc&col=params:params.yaml:train.lr")
    assert texts(page, "#exp-table thead th")[4:] == ["acc", "train.lr"]
    click(page, "#columns .cols div:nth-child(2) button")  # train.lr one to the left
    assert texts(page, "#exp-table thead th")[4:] == ["train.lr", "acc"]
    # -- select two experiments and compare
    go(page, "#/")
    page.eval("document.querySelector(\"input.sel[data-name='exp-1']\").click()")
    page.eval("document.querySelector(\"input.sel[data-name='origin/exp-2']\").click()")
    page.eval("document.querySelector(\"input.sel[data-name='main']\").click()")
    click(page, "#compare")
    assert page.eval("document.body.dataset.view") == "compare"
    expected = json.loads(gitml(project, "metrics", "diff", "main", "exp-1", "--json"))
    verdict = {c["key"]: c.get("verdict") for c in expected["changes"]}
    row = page.eval("[...document.querySelectorAll('#metrics-table tr[data-key=acc] td')]"
                    ".map(e => e.textContent)")
    row = row[row.index("acc"):]  # after the file column
    assert row[1] == "0.6" and row[2] == "0.8"
    assert row[3].endswith(verdict["acc"]) and verdict["acc"] == "better"
    assert page.eval("Object.keys(window.gitmlViews)") == ["chart-0"]
    drawn = page.eval("""(() => { const out = {}; const walk = (n) => { if (!n) return;
        if (n.marktype === 'line' && n.items.length && n.items[0].datum)
          out[n.items[0].datum.rev] = n.items.length; (n.items || []).forEach(walk); };
        walk(window.gitmlViews['chart-0'].scenegraph().root); return out; })()""")
    assert drawn == {"main": 20, "exp-1": 20, "origin/exp-2": 20}
    figs = page.eval("[...document.querySelectorAll('.imgset[data-name=pred] figure')].map("
                     "f => [f.dataset.rev, f.querySelector('figcaption').textContent])")
    assert figs == [["main", "main (step 19)"], ["exp-1", "exp-1 (step 19)"],
                    ["origin/exp-2", "origin/exp-2 (step 19)"]]
    deadline = time.monotonic() + 10
    while page.eval("[...document.querySelectorAll('.imgset img')].filter(i => i.complete "
                    "&& i.naturalWidth === 6).length") != 3:
        assert time.monotonic() < deadline, "the logged images did not load"
        time.sleep(0.05)
    page.eval("(() => { const s = document.querySelector('.imgset input'); s.value = 7; "
              "s.dispatchEvent(new Event('input')); })()")
    assert page.eval("document.querySelector('.imgset figcaption').textContent") == \
        "main (step 4)"
    params = texts(page, "#params-table tbody tr td:first-child")
    assert "train.lr" in params and "train.rows" in params
    # -- the data changes of origin/exp-2 against main, then its table diff
    act(page, "[...document.querySelectorAll('a')].find(a => a.textContent === "
              "'main → origin/exp-2').click()")
    assert page.eval("document.body.dataset.view") == "commit"
    changes = page.eval("[...document.querySelectorAll('#changes tbody tr')].map(r => "
                        "[...r.children].map(c => c.textContent))")
    paths = {c[0]: c[1] for c in changes}
    assert paths == {"data/features.parquet": "modified", "model.txt": "modified"}
    lineage = texts(page, "#lineage-train td:nth-child(2)")
    assert "train.py" in lineage and "params.yaml:train.rows" in lineage
    assert "data/features.parquet" in lineage
    click(page, "#changes a[href^='#/datadiff']")
    counts = texts(page, "#row-counts td")
    assert counts[:2] == ["40", "60"]
    assert "extra" in page.eval("document.getElementById('schema').textContent")
    # -- the commit message with </script>, literally
    go(page, "#/commit?rev=main")
    assert page.eval("document.getElementById('message').textContent").strip() == EVIL_MSG
    # -- the registry
    click(page, "#nav-models")
    assert texts(page, "#models tbody td:first-child") == ["clf"]
    click(page, "#models a")
    assert texts(page, "#versions tbody td:first-child") == ["v1.1.0", "v1.0.0"]
    history = page.eval("[...document.querySelectorAll('#history tbody tr')].map(r => "
                        "r.children[2].textContent + ' ' + r.children[3].textContent)")
    assert history == ["register v1.0.0", "register v1.1.0", "assign v1.1.0"]
    assert EVIL_MODEL_MSG in page.eval("document.getElementById('versions').textContent")
    trained = texts(page, "#trained-on tbody td:nth-child(4)")
    assert "data/features.parquet" in trained
    click(page, "#versions a")  # the version's commit: what it was trained on
    assert page.eval("document.body.dataset.view") == "commit"
    # -- nothing ran, nothing left 127.0.0.1, nothing changed
    assert page.eval("typeof window.pwned") == "undefined"
    assert page.dialogs() == []
    assert page.eval("document.querySelectorAll('main img, main script').length") == 0
    assert page.console_errors() == []
    reqs = page.requests()
    assert reqs and all(u.startswith(server.url) for u in reqs), reqs
    assert not any(u.endswith("/x") for u in reqs)
    assert any("/api/image?" in u for u in reqs)
    assert snapshot(project) == before


def test_foreign_host_and_methods_are_refused(server: Server) -> None:
    status, _, body = server.get("/api/experiments", host="evil.example:80")
    assert status == 403 and b"Host header refused" in body
    status, _, _ = server.get("/", host=f"attacker.test:{server.port}")
    assert status == 403
    status, headers, body = server.get("/", host=f"localhost:{server.port}")
    assert status == 200 and b"/static/app.js" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"].split("script-src")[1] \
        .split(";")[0]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert server.get("/", method="POST")[0] == 405
    status, _, body = server.get("/api/compare?rev=main&rev=nope")
    assert status == 400 and json.loads(body) == {"error": "unknown revision 'nope'"}
    assert server.get("/api/nothing")[0] == 404
    assert server.get("/../../etc/passwd")[0] == 404
    status, _, body = server.get("/api/datadiff?a=main&b=main&path=../x")
    assert status == 400
    status, headers, body = server.get(
        "/api/image?rev=main&path=gitml-live/plots/images/pred/19.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:4] == b"\x89PNG"
    for path in ("gitml-live/metrics.json", "params.yaml", "../etc/passwd"):
        assert server.get(f"/api/image?rev=main&path={path}")[0] == 400


def test_a_bad_revision_in_the_url_is_shown_as_an_error(server: Server,
                                                       browser: Browser) -> None:
    page = open_app(browser, server.url + "#/compare?rev=main&rev=nope")
    assert page.eval("document.querySelector('main').textContent") == \
        "error: unknown revision 'nope'"


def test_start_up_errors_are_one_line(project: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "gitml", "ui", "--port", str(port)],
                              cwd=project, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr == f"error: port {port} is in use: choose another with --port " \
                          "(0 picks a free one)\n"
    proc = subprocess.run([sys.executable, "-m", "gitml", "ui", "--host", "0.0.0.0"],
                          cwd=project, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --host 0.0.0.0: give")


def test_a_running_experiment_shows_live_then_lands(project: Path, server: Server,
                                                    browser: Browser, tmp_path: Path) -> None:
    page = open_app(browser, server.url)
    assert "exp-live" not in texts(page, "#exp-table tbody tr")
    barrier = tmp_path / "go"
    env = {**os.environ, "UI_BARRIER": str(barrier)}
    run = subprocess.Popen([sys.executable, "-m", "gitml", "exp", "run", "-n", "exp-live",
                            "-S", "train.lr=0.4"], cwd=project, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        cell = ("(() => { const r = document.querySelector(\"#exp-table tr[data-name='exp-live']"
                "\"); if (!r) return null; const i = [...document.querySelectorAll("
                "'#exp-table thead th')].findIndex(h => h.dataset.col === "
                "'metrics:gitml-live/metrics.json:progress'); return [r.children[2]"
                ".textContent, i < 0 ? null : r.children[i].textContent]; })()")
        deadline = time.monotonic() + 60
        while page.eval(cell) != ["running", "0.5"]:  # refreshed by itself, no reload
            assert run.poll() is None, run.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, page.eval(cell)
            time.sleep(0.1)
        barrier.touch()
        assert run.wait(120) == 0, run.stderr.read()  # type: ignore[union-attr]
    finally:
        barrier.touch()
        run.wait(120)
        run.stderr.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while (page.eval(cell) or [None])[0] != "done":
        assert time.monotonic() < deadline, page.eval(cell)
        time.sleep(0.1)
    assert page.eval("location.hash") in ("", "#/")
    assert page.console_errors() == []
