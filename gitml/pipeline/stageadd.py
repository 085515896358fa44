"""``gitml stage add``: append a stage to ``gitml.yaml``, keeping the rest of the file as is.

A new stage is inserted as text at the end of the ``stages:`` block, so comments and
layout survive. Replacing a stage (``force``) or a ``stages`` section written in flow
style rewrites the file from its parsed form (comments are then lost).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from gitml import project, yamlio
from gitml.errors import BadInputError
from gitml.fsutil import atomic_write
from gitml.pipeline.schema import _NAME, SOURCE, Stage

if TYPE_CHECKING:
    from gitml.repo import Repo

_STAGES_LINE = re.compile(r"^stages:[ \t]*(#.*)?$")


def stage_add(repo: Repo, name: str, *, cmd: str | list[str], deps: list[str] | None = None,
              outs: list[str] | None = None, outs_no_cache: list[str] | None = None,
              metrics: list[str] | None = None, plots: list[str] | None = None,
              params: list[str] | None = None, wdir: str | None = None,
              always_changed: bool = False, desc: str | None = None,
              force: bool = False) -> Stage:
    """Add stage ``name`` to gitml.yaml (replace it with ``force``); returns the stage.

    ``params`` items are keys of params.yaml (``train.lr``, ``a,b``) or
    ``file.yaml:key1,key2``. The new file is validated as a whole before it is written.
    """
    if not _NAME.match(name or ""):
        raise BadInputError(f"invalid stage name {name!r} (use letters, digits, '_', '-', '.')")
    if not cmd:
        raise BadInputError("give the stage's command, e.g. gitml stage add -n eval python "
                            "eval.py")
    body: dict[str, Any] = {"cmd": cmd}
    if wdir and wdir != ".":
        body["wdir"] = wdir
    if deps:
        body["deps"] = list(deps)
    if params:
        body["params"] = _params(params)
    out_list: list[Any] = list(outs or []) + [{p: {"cache": False}} for p in outs_no_cache or []]
    if out_list:
        body["outs"] = out_list
    if metrics:
        body["metrics"] = list(metrics)
    if plots:
        body["plots"] = list(plots)
    if always_changed:
        body["always_changed"] = True
    if desc:
        body["desc"] = desc
    path = os.path.join(repo.root, SOURCE)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    doc = project.parse(text) if text.strip() else {}
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise BadInputError(f"{SOURCE}: 'stages' is not a mapping; fix it first")
    if name in stages and not force:
        raise BadInputError(f"stage {name!r} already exists in {SOURCE} "
                            "(use --force to replace it)")
    new = None if name in stages else _insert(text, name, body)
    if new is None:
        doc.setdefault("stages", {})
        doc["stages"] = {**(doc.get("stages") or {}), name: body}
        new = yamlio.dumps(doc)
    from gitml.pipeline.loader import from_doc

    pipe = from_doc(repo.root, project.parse(new))  # nothing is written unless it is valid
    atomic_write(path, new.encode())
    return pipe.stages[name]


def _params(items: list[str]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        file, sep, keys = item.rpartition(":")
        if sep and file:
            out.append({file: [k.strip() for k in keys.split(",") if k.strip()]})
        else:
            out.extend(k.strip() for k in item.split(",") if k.strip())
    return out


def _insert(text: str, name: str, body: dict[str, Any]) -> str | None:
    """``text`` with the stage appended to its block-style ``stages:``; None to rewrite."""
    block = yamlio.dumps({name: body})
    if not text.strip():
        return "stages:\n" + _indent(block, "  ")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, ln in enumerate(lines) if _STAGES_LINE.match(ln.rstrip("\n"))), None)
    if start is None:
        if any(ln.startswith("stages:") for ln in lines):
            return None  # flow style (stages: {...}): rewrite
        return "".join(lines) + "stages:\n" + _indent(block, "  ")
    end = start + 1
    last = start  # last line belonging to the block's content
    indent = None
    while end < len(lines):
        ln = lines[end]
        stripped = ln.strip()
        if stripped and not ln[0].isspace() and not stripped.startswith("#"):
            break
        if stripped and ln[0].isspace():
            last = end
            if indent is None and not stripped.startswith("#"):
                indent = ln[: len(ln) - len(ln.lstrip())]
        end += 1
    new = lines[: last + 1] + [_indent(block, indent or "  ")] + lines[last + 1:]
    result = "".join(new)
    try:  # the text edit must mean exactly what we intended
        parsed = project.parse(result)
    except Exception:
        return None
    return result if (parsed.get("stages") or {}).get(name) == body else None


def _indent(block: str, prefix: str) -> str:
    return "".join(prefix + ln if ln.strip() else ln for ln in block.splitlines(keepends=True))
