"""What the web app shows, as JSON-ready dicts: each function calls the API the CLI uses.

experiments  -> gitml.experiments.table.collect (``exp show``), worktrees.running
compare      -> gitml.metrics.diff_report (``metrics diff`` / ``params diff`` verdicts)
plots        -> gitml.plots.charts_at + spec.chart_spec (``plots diff``, same templates)
commit       -> Repo.diff (``gitml diff``), gitml.lock (lineage), gitml.registry.state
datadiff     -> gitml.tabular.api.data_diff (``gitml data diff``)
models/model -> gitml.registry.models / show (``model list`` / ``model show``)

Nothing here writes to the repository or its store.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from gitml import gitio
from gitml.compare import ABSENT, json_number
from gitml.errors import BadInputError, GitmlError
from gitml.repo import Repo

MAX_REVS = 12


def _jv(v: Any) -> Any:
    """A value as JSON can carry it (NaN/inf as strings)."""
    if isinstance(v, dict):
        return {str(k): _jv(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jv(x) for x in v]
    return json_number(v)


# -- live refresh --------------------------------------------------------------------------

def token(repo: Repo) -> str:
    """Changes whenever a ref moves or a running experiment writes its logger's files."""
    h = hashlib.sha1()
    h.update(gitio.run(repo.root, "for-each-ref", "--format=%(refname) %(objectname)"))
    try:
        with open(os.path.join(repo.root, ".git", "HEAD"), "rb") as f:
            h.update(f.read())
    except OSError:
        pass
    for name, path in _running(repo):
        h.update(name.encode())
        for rel in ("gitml-live/metrics.json", "metrics.json"):
            try:
                st = os.stat(os.path.join(path, rel))
                h.update(f"{rel}{st.st_mtime_ns}{st.st_size}".encode())
            except OSError:
                pass
    return h.hexdigest()[:16]


def _running(repo: Repo) -> list[tuple[str, str]]:
    from gitml.experiments.worktrees import base_dir, running

    base = base_dir(repo)
    return [(n, os.path.join(base, n)) for n in running(repo)]


# -- the experiments table -------------------------------------------------------------------

def experiments(repo: Repo) -> dict[str, Any]:
    """Baseline, experiments (local and fetched), queued and running runs; one column per
    metric and param (``exp show``'s), with the direction gitml.yaml declares."""
    from gitml.experiments import refs
    from gitml.experiments.table import collect

    table = collect(repo)
    remote = {e.name: e.remote for e in refs.listing(repo).experiments if e.remote}
    cols = {c: f"{c[0]}:{c[1]}:{c[2]}" for c in table.columns}
    columns = [{"id": cid, "kind": c[0], "path": c[1], "key": c[2], "label": table.labels[c],
                "direction": (table.rules[c].direction if c in table.rules else None)}
               for c, cid in cols.items()]
    rows = []
    for r in table.rows:
        values = {}
        for c, cid in cols.items():
            v = r.get(c)
            if v is not ABSENT:
                values[cid] = _jv(v)
        rows.append({"name": r.name, "type": r.type, "status": r.status, "rev": r.rev,
                     "remote": remote.get(r.name) if r.type == "experiment" else None,
                     "created": r.created or None, "base": r.base or None,
                     "overrides": r.overrides, "values": values, "errors": r.errors})
    running = _running_rows(repo, columns, rows)
    return {"columns": columns, "rows": rows + running,
            "baseline": table.baseline.name}


def _running_rows(repo: Repo, columns: list[dict[str, Any]], rows: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Experiments being run now: their live metrics and params, read from their worktree
    (the training logger flushes there while it runs)."""
    from gitml.metrics import metrics_show
    from gitml.params import params_show

    known = {c["id"] for c in columns}
    queued = {r["name"]: r for r in rows if r["type"] == "queued"}
    out = []
    for name, path in _running(repo):
        row = queued.get(name)
        if row is None:
            row = {"name": name, "type": "running", "rev": None, "created": None,
                   "base": None, "overrides": [], "values": {}, "errors": []}
            out.append(row)
        row["status"] = "running"
        try:
            wt = Repo(path)
        except GitmlError:
            continue  # not checked out yet
        for kind, show in (("metrics", metrics_show), ("params", params_show)):
            try:
                files = show(strict=False, repo=wt)
            except GitmlError as e:
                row["errors"].append(str(e))
                continue
            for fpath, data in files.items():
                for key, v in data.items():
                    cid = f"{kind}:{fpath}:{key}"
                    if cid not in known:
                        known.add(cid)
                        columns.append({"id": cid, "kind": kind, "path": fpath, "key": key,
                                        "label": key, "direction": None})
                    row["values"][cid] = _jv(v)
    return out


# -- compare ---------------------------------------------------------------------------------

def _check_revs(revs: list[str]) -> list[str]:
    revs = list(dict.fromkeys(r for r in revs if r))
    if not revs:
        raise BadInputError("choose at least one revision")
    if len(revs) > MAX_REVS:
        raise BadInputError(f"compare at most {MAX_REVS} revisions at once")
    return revs


def compare(repo: Repo, revs: list[str]) -> dict[str, Any]:
    """Params and metrics of ``revs`` side by side; each one after the first against the
    first, with ``metrics diff``'s change, percent and verdict."""
    from gitml.metrics import diff_report

    revs = _check_revs(revs)
    shas = [{"label": r, "sha": gitio.rev_parse(repo.root, r)} for r in revs]
    out: dict[str, Any] = {"revs": shas, "warnings": []}
    for kind in ("params", "metrics"):
        table: dict[tuple[str, str], dict[str, Any]] = {}
        for i, rev in enumerate(revs[1:] or revs[:1], start=1):
            rep = diff_report(kind, revs[0], rev, include_unchanged=True, repo=repo)
            for w in rep.warnings:
                if w not in out["warnings"]:
                    out["warnings"].append(w)
            for c in rep.changes:
                row = table.setdefault((c.path, c.key), {
                    "path": c.path, "key": c.key, "values": [None] * len(revs),
                    "present": [False] * len(revs), "changes": [None] * len(revs),
                    "direction": None})
                if c.old is not ABSENT:
                    row["values"][0], row["present"][0] = _jv(c.old), True
                if c.new is not ABSENT and len(revs) > 1:
                    row["values"][i], row["present"][i] = _jv(c.new), True
                if c.rule is not None and c.rule.direction:
                    row["direction"] = c.rule.direction
                if len(revs) > 1:
                    d = c.to_dict()
                    row["changes"][i] = {k: d[k] for k in ("kind", "change", "percent",
                                                           "verdict", "old_error",
                                                           "new_error") if k in d}
        out[kind] = sorted(table.values(), key=lambda r: (r["path"], r["key"]))
    return out


def plots(repo: Repo, revs: list[str]) -> dict[str, Any]:
    """The charts of ``plots diff REVS``: Vega-Lite specs from the same templates."""
    from gitml.plots import charts_at
    from gitml.plots.spec import chart_spec

    revs = _check_revs(revs)
    resolved, charts = charts_at(repo, list(revs))
    labels = [r.label for r in resolved]
    out = []
    for chart in charts:
        spec, notes = chart_spec(chart, labels)
        out.append({"id": chart.id, "title": chart.title, "path": chart.path,
                    "template": chart.template, "notes": chart.notes + notes,
                    "summary": _jv(chart.summary), "x_label": chart.x_label,
                    "spec": spec if chart.traces else None})
    from urllib.parse import urlencode

    from gitml.plots import images

    imgs = []
    for series in images.collect(repo, resolved):
        sha = {r.label: r.sha for r in resolved}
        imgs.append({"name": series.name, "revisions": {
            label: [{"step": step, "url": "/api/image?" + urlencode({"rev": sha[label],
                                                                    "path": path})}
                    for step, path in images.thin(steps)]
            for label, steps in series.at.items()}})
    return {"revs": [{"label": r.label, "sha": r.sha} for r in resolved], "charts": out,
            "images": imgs}


def image(repo: Repo, rev: str, path: str) -> tuple[bytes, str]:
    """The bytes and MIME type of a logged image at ``rev`` (PNG/JPEG/GIF/WebP only)."""
    from gitml.fsutil import check_relpath
    from gitml.plots import images
    from gitml.plots.series import Rev
    from gitml.readapi import RevReader

    check_relpath(path)
    if not (path.startswith(images.IMAGES + "/") and images.is_image(path)):
        raise BadInputError(f"{path} is not a logged image")
    sha = gitio.rev_parse(repo.root, rev)
    with RevReader(repo) as reader:
        got = images.read(reader, Rev(rev, sha), path)
    if got is None:
        raise BadInputError(f"{path} is not an image at {rev}")
    return got


# -- one commit: data changes and lineage -----------------------------------------------------

def commit(repo: Repo, rev: str, base: str | None = None) -> dict[str, Any]:
    """A commit: who and what, the tracked data it changed (against ``base``, default its
    first parent), how it was made (gitml.lock: stages, their data, params and code) and
    which model versions it is."""
    from gitml.tabular.table import format_of

    sha = gitio.rev_parse(repo.root, rev)
    raw = gitio.run(repo.root, "log", "-1", "--format=%P%x00%an%x00%ae%x00%at%x00%B", sha)
    parents, author, email, when, message = raw.decode(errors="replace").split("\0", 4)
    parent_list = parents.split()
    base_sha = gitio.rev_parse(repo.root, base) if base else (parent_list[0] if parent_list
                                                               else None)
    changes = []
    if base_sha:
        for c in repo.diff(base_sha, sha):
            d = c.to_dict()
            d["table"] = bool(format_of(c.path)) and c.kind == "modified"
            changes.append(d)
    return {"rev": rev, "sha": sha, "parents": parent_list, "author": author, "email": email,
            "time": int(when or 0), "subject": message.split("\n", 1)[0],
            "message": message.strip(), "base": base_sha, "changes": changes,
            "lineage": lineage(repo, sha), "models": _models_at(repo, sha),
            "metrics": _values(repo, "metrics", sha), "params": _values(repo, "params", sha)}


def _values(repo: Repo, kind: str, sha: str) -> dict[str, Any]:
    from gitml.registry.details import values

    return _jv(values(repo, kind, [sha]).get(sha, {}))  # type: ignore[no-any-return]


def lineage(repo: Repo, sha: str) -> list[dict[str, Any]]:
    """The stages gitml.lock records at ``sha``: command, deps (data and code) with
    hashes, params with values, outs with hashes."""
    from gitml.pipeline import lockfile
    from gitml.readapi import RevReader

    with RevReader(repo) as reader:
        data = reader.batch.read(f"{sha}:{lockfile.LOCK_FILE}")
    if data is None:
        return []
    try:
        entries = lockfile.loads(data, f"{sha[:7]}:{lockfile.LOCK_FILE}")
    except GitmlError as e:
        return [{"stage": None, "error": str(e)}]
    out = []
    for name, entry in entries.items():
        d = entry.to_dict()
        out.append({"stage": name, "cmd": d.get("cmd"), "deps": d.get("deps") or [],
                    "params": _jv(d.get("params") or {}), "outs": d.get("outs") or []})
    return out


def _models_at(repo: Repo, sha: str) -> list[dict[str, Any]]:
    from gitml.registry import state

    out = []
    for name, m in sorted(state.load(repo.root).items()):
        for v in m.sorted_versions():
            if v.commit == sha:
                out.append({"model": name, "version": v.name, "stages": list(v.stages),
                            "active": v.active})
    return out


def datadiff(repo: Repo, a: str, b: str, path: str, key: list[str] | None = None
             ) -> dict[str, Any]:
    """``gitml data diff A:path B:path [--key]``: rows and schema of one table."""
    from gitml.fsutil import check_relpath
    from gitml.tabular.api import data_diff

    check_relpath(path)
    for r in (a, b):
        gitio.rev_parse(repo.root, r)
    return _jv(data_diff(f"{a}:{path}", f"{b}:{path}", key=key or None).to_dict())


# -- the model registry ---------------------------------------------------------------------

def models(repo: Repo) -> list[dict[str, Any]]:
    from gitml.registry import models as list_models

    return [m.to_dict() for m in list_models(repo)]


def model(repo: Repo, name: str) -> dict[str, Any]:
    from gitml.registry import show

    return _jv(show(name, repo))  # type: ignore[no-any-return]
