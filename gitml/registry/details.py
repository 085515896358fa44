"""What ``gitml model show`` tells about each version's commit: its metrics and params
(through :mod:`gitml.metrics` / :mod:`gitml.params`) and the data hashes in ``gitml.lock``."""

from __future__ import annotations

from typing import Any

from gitml import yamlio
from gitml.errors import GitmlError
from gitml.readapi import RevReader
from gitml.repo import Repo

LOCK_FILE = "gitml.lock"


def values(repo: Repo, kind: str, commits: list[str]) -> dict[str, dict[str, Any]]:
    """commit -> flattened metrics (or params) there; one file's keys are bare, several
    files' keys are ``file:key``. A revision that cannot be read gives {}."""
    if kind == "metrics":
        from gitml.metrics import metrics_show as show
    else:
        from gitml.params import params_show as show
    commits = list(dict.fromkeys(commits))
    if not commits:
        return {}
    try:
        by_rev = show(revs=commits, strict=False, repo=repo)
    except GitmlError:  # e.g. a broken gitml.yaml in one old commit: read them one by one
        by_rev = {}
        for c in commits:
            try:
                by_rev[c] = show(rev=c, strict=False, repo=repo)
            except GitmlError:
                by_rev[c] = {}
    return {c: _merge(by_rev.get(c) or {}) for c in commits}


def _merge(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if len(files) == 1:
        return dict(next(iter(files.values())))
    return {f"{p}:{k}": v for p, vals in files.items() for k, v in vals.items()}


def lock_hashes(reader: RevReader, commit: str) -> list[dict[str, Any]]:
    """Every (stage, dep/out, path, hash) that ``gitml.lock`` records at ``commit``."""
    data = reader.batch.read(f"{commit}:{LOCK_FILE}")
    if data is None:
        return []
    try:
        doc = yamlio.loads(data, f"{commit[:7]}:{LOCK_FILE}", "lock")
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
            items = body.get(section) or []
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                    continue
                h = item.get("hash") or item.get("md5")
                if isinstance(h, str):
                    out.append({"stage": str(stage), "kind": section[:-1],
                                "path": item["path"], "hash": h})
    return out
