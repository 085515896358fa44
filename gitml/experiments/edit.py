"""Change values in YAML, JSON and TOML text in place, keeping order, layout and comments.

Each editor finds the text span of the value (YAML through PyYAML's node marks, JSON and
TOML through small scanners) and replaces only those characters, so an experiment's
``git diff`` of params.yaml is one line. New keys are inserted next to their siblings.
Every edit is checked by parsing the result: when it does not hold exactly the values
asked for, :class:`EditError` is raised and nothing is written.

Why not ruamel.yaml / tomlkit: they re-emit the whole document (ruamel re-indents
sequences and long lines, tomlkit normalises some whitespace), add a dependency and
~100 ms of import, while a span edit touches only the value and is verified anyway.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

Path = tuple[str, ...]
MISSING = object()


class EditError(Exception):
    """The value could not be changed in place (message says why)."""


# -- shared --------------------------------------------------------------------------------

def parse_text(text: str, fmt: str, source: str = "params file") -> Any:
    """Parse a params file (json, yaml or toml) with gitml's one bounded loader."""
    from gitml import yamlio

    return yamlio.loads(text, source, "values", fmt) or {}


def lookup(doc: Any, path: Path) -> Any:
    """The value at ``path`` (list items by index), or MISSING."""
    node = doc
    for seg in path:
        if isinstance(node, dict):
            if seg in node:
                node = node[seg]
                continue
            alt = _int_key(seg)
            if alt is not None and alt in node:  # YAML `1: x` keys are ints
                node = node[alt]
                continue
            return MISSING
        if isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
            node = node[int(seg)]
            continue
        return MISSING
    return node


def _int_key(seg: str) -> int | None:
    return int(seg) if re.fullmatch(r"-?\d+", seg) else None


def set_path(doc: Any, path: Path, value: Any) -> Any:
    """A copy of ``doc`` with ``path`` set (missing mappings created)."""
    doc = copy.deepcopy(doc) if doc is not None else {}
    node = doc
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            idx = int(seg)
            if last:
                node[idx] = value
            else:
                node = node[idx]
            continue
        key: Any = seg
        if seg not in node and _int_key(seg) in node:
            key = _int_key(seg)
        if last:
            node[key] = value
        else:
            if key not in node:
                node[key] = {}
            node = node[key]
    return doc


def same(a: Any, b: Any) -> bool:
    """Equal with types: 1 is not 1.0 is not True; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def edit(text: str, fmt: str, changes: list[tuple[Path, Any]]) -> str:
    """``text`` with each (path, value) set; verified by parsing the result."""
    expected = parse_text(text, fmt)
    from gitml.experiments.tomledit import toml_set

    for path, value in changes:
        editor = {"yaml": _yaml_set, "json": _json_set, "toml": toml_set}[fmt]
        text = editor(text, path, value)
        expected = set_path(expected, path, value)
    try:
        got = parse_text(text, fmt)
    except Exception as e:  # noqa: BLE001 - any parser error means our edit broke the file
        raise EditError(f"the edited file would not parse ({str(e).splitlines()[0]})") from None
    if not same(got, expected):
        raise EditError("the edited file would not hold the new value")
    return text


def _replace(text: str, start: int, end: int, new: str) -> str:
    old = text[start:end]
    tail = old[len(old.rstrip()):]  # keep the newlines a block value ends with
    rest = text[end:]
    if not tail:
        # keep a trailing comment in its column: `lr: 0.002   # x` -> `lr: 0.01    # x`
        gap = len(rest) - len(rest.lstrip(" "))
        if gap and rest[gap:gap + 1] == "#":
            width = max(1, gap + len(old) - len(new))
            rest = " " * width + rest[gap:]
    return text[:start] + new + tail + rest


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl


# -- YAML ----------------------------------------------------------------------------------

def _yaml_flow(value: Any) -> str:
    import yaml

    out = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)
    return out.removesuffix("\n").removesuffix("\n...").strip()


def _yaml_scalar(value: Any, style: str | None = None) -> str:
    if isinstance(value, str):
        if style == "'":
            return "'" + value.replace("'", "''") + "'"
        if style == '"':
            return json.dumps(value, ensure_ascii=False)
        try:
            if "\n" not in value and parse_text(f"x: {value}\n", "yaml") == {"x": value}:
                return value
        except Exception:  # noqa: BLE001
            pass
        return json.dumps(value, ensure_ascii=False)
    return _yaml_flow(value)


def _yaml_node(text: str) -> Any:
    import yaml

    try:
        # the pure-Python composer: its marks count characters of the str we edit
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise EditError(f"invalid YAML: {str(e).splitlines()[0]}") from None


def _yaml_child(node: Any, seg: str) -> tuple[Any, Any] | None:
    """(key node, value node) of ``seg`` in a mapping, or (None, item) in a sequence."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == seg:
                return k, v
        return None
    if isinstance(node, yaml.SequenceNode) and seg.isdigit() and int(seg) < len(node.value):
        return None, node.value[int(seg)]
    return None


def _yaml_content_end(node: Any, text: str) -> int:
    """Index just after the last character of ``node``'s own text (not trailing comments)."""
    import yaml

    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        end = node.end_mark.index
        return len(text[:end].rstrip()) if end > node.start_mark.index else end
    if not node.value:
        return node.end_mark.index
    last = node.value[-1]
    return _yaml_content_end(last[1] if isinstance(last, tuple) else last, text)


def _yaml_block(key: str, value: Any, indent: int, step: int) -> list[str]:
    if isinstance(value, dict) and value:
        lines = [" " * indent + f"{_yaml_scalar(key)}:"]
        for k, v in value.items():
            lines += _yaml_block(str(k), v, indent + step, step)
        return lines
    return [" " * indent + f"{_yaml_scalar(key)}: {_yaml_scalar(value)}"]


def _yaml_set(text: str, path: Path, value: Any) -> str:
    import yaml

    root = _yaml_node(text)
    if root is None:  # an empty document
        nested = _nest(path[1:], value)
        lines = _yaml_block(path[0], nested, 0, 2)
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + "\n".join(lines) + "\n"
    node, parent, key = root, None, None
    for i, seg in enumerate(path):
        found = _yaml_child(node, seg)
        if found is None:
            return _yaml_insert(text, node, path[i:], value, parent)
        parent = node
        key, node = found
    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        new = _yaml_scalar(value, node.style if isinstance(node, yaml.ScalarNode) else None)
        return _replace(text, node.start_mark.index, node.end_mark.index, new)
    # a block collection: the new value goes in flow style right after the key's colon
    end = _yaml_content_end(node, text)
    if key is not None:
        colon = text.index(":", key.end_mark.index)
        return text[:colon + 1] + " " + _yaml_flow(value) + text[end:]
    return text[:node.start_mark.index] + _yaml_flow(value) + text[end:]


def _nest(path: Path, value: Any) -> Any:
    for seg in reversed(path):
        value = {seg: value}
    return value


def _yaml_insert(text: str, node: Any, rest: Path, value: Any, parent: Any) -> str:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise EditError(f"cannot add key {rest[0]!r}: its parent is not a mapping")
    nested = _nest(rest[1:], value)
    if node.flow_style:
        close = node.end_mark.index - 1
        if text[close] != "}":
            raise EditError("unexpected flow mapping layout")
        item = f"{_yaml_scalar(rest[0])}: {_yaml_flow(nested)}"
        sep = ", " if node.value else ""
        return text[:close].rstrip() + sep + item + text[close:]
    if not node.value:
        raise EditError("cannot add to an empty block mapping")
    indent = node.value[0][0].start_mark.column
    step = 2
    if parent is not None and isinstance(parent, yaml.MappingNode) and parent.value:
        step = max(1, indent - parent.value[0][0].start_mark.column)
    else:
        for _k, v in node.value:
            if isinstance(v, yaml.MappingNode) and v.value and not v.flow_style:
                step = max(1, v.value[0][0].start_mark.column - indent)
                break
    lines = _yaml_block(rest[0], nested, indent, step)
    pos = _line_end(text, _yaml_content_end(node, text))
    return text[:pos] + "\n" + "\n".join(lines) + text[pos:]


# -- JSON ----------------------------------------------------------------------------------

class _JNode:
    __slots__ = ("kind", "start", "end", "items")

    def __init__(self, kind: str, start: int, end: int,
                 items: list[tuple[str | None, int, _JNode]]) -> None:
        self.kind, self.start, self.end, self.items = kind, start, end, items


_WS = " \t\r\n"
_NUM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _jskip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _jstring_end(text: str, i: int) -> int:
    i += 1
    while True:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1


def _jvalue(text: str, i: int) -> _JNode:
    i = _jskip(text, i)
    c = text[i]
    if c in "{[":
        close = "}" if c == "{" else "]"
        items: list[tuple[str | None, int, _JNode]] = []
        j = _jskip(text, i + 1)
        if text[j] == close:
            return _JNode("obj" if c == "{" else "arr", i, j + 1, items)
        while True:
            j = _jskip(text, j)
            key, kstart = None, j
            if c == "{":
                kend = _jstring_end(text, j)
                key = json.loads(text[j:kend])
                j = _jskip(text, kend)
                j += 1  # ':'
            child = _jvalue(text, j)
            items.append((key, kstart, child))
            j = _jskip(text, child.end)
            if text[j] == ",":
                j += 1
                continue
            return _JNode("obj" if c == "{" else "arr", i, j + 1, items)
    if c == '"':
        return _JNode("str", i, _jstring_end(text, i), [])
    m = _NUM.match(text, i)
    if m and m.end() > i:
        return _JNode("num", i, m.end(), [])
    for word in ("true", "false", "null", "NaN", "Infinity", "-Infinity"):
        if text.startswith(word, i):
            return _JNode("lit", i, i + len(word), [])
    raise EditError(f"invalid JSON at character {i}")


def _json_dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_set(text: str, path: Path, value: Any) -> str:
    if not text.strip():
        return json.dumps(_nest(path, value), indent=2, ensure_ascii=False) + "\n"
    try:
        node = _jvalue(text, 0)
    except (IndexError, ValueError):
        raise EditError("invalid JSON") from None
    for i, seg in enumerate(path):
        child = None
        if node.kind == "obj":
            child = next((c for k, _s, c in reversed(node.items) if k == seg), None)
        elif node.kind == "arr" and seg.isdigit() and int(seg) < len(node.items):
            child = node.items[int(seg)][2]
        if child is None:
            return _json_insert(text, node, path[i:], value)
        node = child
    return text[:node.start] + _json_dump(value) + text[node.end:]


def _json_insert(text: str, node: _JNode, rest: Path, value: Any) -> str:
    if node.kind != "obj":
        raise EditError(f"cannot add key {rest[0]!r}: its parent is not an object")
    item = f"{_json_dump(rest[0])}: {_json_dump(_nest(rest[1:], value))}"
    if not node.items:
        return text[:node.start + 1] + item + text[node.end - 1:]
    _k, kstart, last = node.items[-1]
    line_start = text.rfind("\n", 0, kstart) + 1
    if "\n" in text[node.start:node.end] and not text[line_start:kstart].strip():
        return text[:last.end] + ",\n" + text[line_start:kstart] + item + text[last.end:]
    return text[:last.end] + ", " + item + text[last.end:]
