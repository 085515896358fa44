"""``${...}`` interpolation of stage definitions from ``vars`` (params files, inline values).

A string that is exactly one ``${name}`` takes the value's own type (a list for
``foreach: ${models}``); inside a longer string, scalars are spliced in as text.
``\\${`` is a literal ``${``. Names are dotted paths, list items by index
(``${train.layers.0}`` or ``${train.layers[0]}``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from gitml.errors import FormatError

_REF = re.compile(r"(\\)?\$\{([^}]*)\}")
_OPEN = re.compile(r"(?<!\\)\$\{")
_NAME = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*$")


class InterpolationError(Exception):
    """Raised with a short problem; the caller adds the file, stage and key."""


def lookup(ctx: dict[str, Any], name: str) -> Any:
    """The value at dotted path ``name`` in ``ctx``."""
    if not _NAME.match(name):
        raise InterpolationError(f"${{{name}}} is not a valid name")
    node: Any = ctx
    walked: list[str] = []
    for part in re.findall(r"[^.\[\]]+", name):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = f" (no {part!r} in {'.'.join(walked)})" if walked else ""
            raise InterpolationError(f"${{{name}}} is not defined{where}")
        walked.append(part)
    return node


def _text(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        raise InterpolationError(f"${{{name}}} is a {type(value).__name__}; "
                                 "only a whole value can be a list or mapping")
    return str(value)


def render(value: Any, ctx: dict[str, Any]) -> Any:
    """Interpolate every string in ``value`` (recursively, not in mapping keys)."""
    if isinstance(value, str):
        return _render_str(value, ctx)
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    return value


def _render_str(s: str, ctx: dict[str, Any]) -> Any:
    if "${" not in s:
        return s
    spans = [m.span() for m in _REF.finditer(s)]
    for m in _OPEN.finditer(s):
        if not any(a <= m.start() < b for a, b in spans):
            raise InterpolationError(f"unclosed ${{ in {s!r} (write \\${{ for a literal ${{)")
    m = _REF.fullmatch(s)
    if m and not m.group(1):
        return lookup(ctx, m.group(2).strip())

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)[1:]  # escaped: keep ${...} literally
        name = m.group(2).strip()
        return _text(lookup(ctx, name), name)

    return _REF.sub(sub, s)


def refs(value: Any) -> list[str]:
    """Names referenced by ``${...}`` anywhere in ``value``."""
    if isinstance(value, str):
        return [m.group(2).strip() for m in _REF.finditer(value) if not m.group(1)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in refs(v)]
    return []


def render_keys(value: Any, ctx: dict[str, Any]) -> Any:
    """:func:`render`, mapping keys included (``- ${dir}/loss.tsv: {x: step}``)."""
    if isinstance(value, list):
        return [render_keys(v, ctx) for v in value]
    if isinstance(value, dict):
        return {(_render_str(k, ctx) if isinstance(k, str) else k): render_keys(v, ctx)
                for k, v in value.items()}
    return render(value, ctx)


def refs_keys(value: Any) -> bool:
    """Whether ``value`` has a ``${...}`` anywhere, mapping keys included."""
    if isinstance(value, dict):
        return any(refs(k) or refs_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return any(refs_keys(v) for v in value)
    return bool(refs(value))


def var_files(spec: Any) -> list[str]:
    """The files a ``vars`` section names (without their ``:keys``)."""
    items = spec if isinstance(spec, list) else [] if spec is None else [spec]
    return [i.partition(":")[0] for i in items if isinstance(i, str) and i]


def load_vars(root: str, spec: Any, source: str) -> dict[str, Any]:
    """The interpolation context of the work tree at ``root`` (see :func:`vars_context`)."""
    from gitml.project import workspace_reader

    return vars_context(workspace_reader(root), spec, source)


def vars_context(read: Any, spec: Any, source: str) -> dict[str, Any]:
    """The interpolation context: ``params.yaml`` (when present) then each ``vars`` item,
    files read through ``read(path) -> bytes | None`` (the workspace's, or a revision's).

    Items are a file (``config.yaml``), a file with chosen top-level keys
    (``config.yaml:model,data``) or an inline mapping. A key defined twice is an error.
    """
    from gitml import structured
    from gitml.fsutil import check_relpath

    ctx: dict[str, Any] = {}
    origin: dict[str, str] = {}
    items: list[Any] = list(spec) if isinstance(spec, list) else [] if spec is None else [spec]
    default = None
    if "params.yaml" not in [i for i in items if isinstance(i, str)]:
        default = read("params.yaml")
        if default is not None:
            items.insert(0, "params.yaml")
    for item in items:
        if isinstance(item, dict):
            _merge(ctx, origin, item, "inline vars", source)
            continue
        if not isinstance(item, str) or not item:
            raise FormatError(source, f"vars: expected a file name or a mapping, not {item!r}")
        path, _, keys = item.partition(":")
        check_relpath(path, source=f"{source}: vars")
        body = default if path == "params.yaml" and default is not None else read(path)
        if body is None:
            raise FormatError(source, f"vars: {path} does not exist")
        data = structured.parse(body, path)
        if not isinstance(data, dict):
            raise FormatError(source, f"vars: {path} must hold a mapping")
        if keys:
            wanted = [k.strip() for k in keys.split(",") if k.strip()]
            missing = [k for k in wanted if k not in data]
            if missing:
                raise FormatError(source, f"vars: {path} has no key {missing[0]!r}")
            data = {k: data[k] for k in wanted}
        _merge(ctx, origin, data, path, source)
    return ctx


def _merge(ctx: dict[str, Any], origin: dict[str, str], new: dict[str, Any], where: str,
           source: str) -> None:
    for k, v in new.items():
        if k in ctx:
            raise FormatError(source, f"vars: {k!r} is defined in both {origin[k]} and {where}")
        ctx[k] = v
        origin[k] = where


def fmt(value: Any) -> str:
    """A param value as a user reads it in a reason line (``0.1``, ``adam``, ``[1, 2]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
