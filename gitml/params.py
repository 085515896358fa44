"""Params at any revision: the same reading and diffing as metrics, without verdicts.

    from gitml import api
    api.params_show(rev="exp-3")              # {"params.yaml": {"train.lr": 0.01, ...}}
    api.params_diff("main", "exp-3")          # {"a", "b", "changes": [...], "warnings"}
"""

from __future__ import annotations

from typing import Any

from gitml.metrics import _show, diff_report
from gitml.repo import Repo


def params_show(rev: str | None = None, *, revs: list[str] | None = None,
                all_branches: bool = False, all_tags: bool = False,
                branches: list[str] | None = None, targets: list[str] | None = None,
                strict: bool = True, repo: Repo | None = None) -> dict[str, Any]:
    """Params at ``rev`` (None: the workspace) as ``{path: {dotted.key: value}}``; with
    ``revs``/``all_branches``/``all_tags``/``branches``, one such dict per revision."""
    return _show("params", rev, revs, all_branches, all_tags, branches, targets, strict, repo)


def params_diff(a: str | None = None, b: str | None = None, *,
                targets: list[str] | None = None, all: bool = False, strict: bool = False,
                repo: Repo | None = None) -> dict[str, Any]:
    """Param changes from ``a`` (default HEAD) to ``b`` (default: the workspace)."""
    return diff_report("params", a, b, targets=targets, include_unchanged=all, strict=strict,
                       repo=repo).to_dict()
