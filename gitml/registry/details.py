"""What ``gitml model show`` tells about each version's commit: the model object, its
metrics and params, and the data hashes recorded in ``gitml.lock``."""

from __future__ import annotations

from typing import Any

from gitml import project, structured, yamlio
from gitml.errors import GitmlError
from gitml.readapi import NotFoundError, RevReader
from gitml.repo import Repo

LOCK_FILE = "gitml.lock"
_DEFAULTS = {"metrics": ("metrics.json", "metrics.yaml", "metrics.yml", "metrics.toml"),
             "params": ("params.yaml", "params.yml", "params.json", "params.toml")}


def at_commit(repo: Repo, reader: RevReader, commit: str) -> dict[str, Any]:
    """{"metrics": {...}, "params": {...}, "data": [...]} at ``commit``; flat dotted keys."""
    out: dict[str, Any] = {}
    for kind in ("metrics", "params"):
        out[kind] = _values(repo, reader, commit, kind)
    out["data"] = lock_hashes(reader, commit)
    return out


def _values(repo: Repo, reader: RevReader, commit: str, kind: str) -> dict[str, Any]:
    """Flattened values of the declared (or default) files of ``kind``; one file's keys are
    bare, several files' keys are ``file:key``."""
    files = _declared(repo, reader, commit, kind)
    per_file: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            data = reader.read_bytes(path, commit)
        except (NotFoundError, GitmlError):
            continue
        try:
            per_file[path] = structured.flatten(structured.parse(data, path,
                                                                 f"{commit[:7]}:{path}"))
        except GitmlError:
            continue  # one unreadable file must not hide the rest of `show`
    if len(per_file) == 1:
        return next(iter(per_file.values()))
    return {f"{p}:{k}": v for p, vals in per_file.items() for k, v in vals.items()}


def _declared(repo: Repo, reader: RevReader, commit: str, kind: str) -> list[str]:
    try:
        proj = project.load(repo, commit, reader.batch)
    except GitmlError:
        proj = {}
    try:  # the metrics part owns the schema; use it when it is there
        from gitml import metricspec

        decl = metricspec.declared(proj, kind, f"{commit[:7]}:gitml.yaml")
        return [p for p in decl.patterns() if not metricspec.has_glob(p)]
    except ImportError:
        pass
    except GitmlError:
        return list(_DEFAULTS[kind])
    items = proj.get(kind)
    paths = []
    if isinstance(items, list):
        for item in items:
            if isinstance(item, str):
                paths.append(item)
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                paths.append(item["path"])
    return paths or list(_DEFAULTS[kind])


def lock_hashes(reader: RevReader, commit: str) -> list[dict[str, Any]]:
    """Every (stage, deps/outs, path, hash) that ``gitml.lock`` records at ``commit``."""
    data = reader.batch.read(f"{commit}:{LOCK_FILE}")
    if data is None:
        return []
    try:
        doc = yamlio.loads(data, f"{commit[:7]}:{LOCK_FILE}")
    except GitmlError:
        return []
    out: list[dict[str, Any]] = []
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        return out
    for stage, body in stages.items():
        if not isinstance(body, dict):
            continue
        for section in ("deps", "outs"):
            for item in body.get(section) or []:
                if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                    continue
                h = item.get("hash") or item.get("md5")
                if isinstance(h, str):
                    out.append({"stage": str(stage), "kind": section[:-1],
                                "path": item["path"], "hash": h})
    return out
