"""In-place edits of TOML text (see :mod:`gitml.experiments.edit`).

A line scanner finds where each ``key = value`` of a table (``[a.b]`` headers, dotted
keys) has its value, so a change replaces only those characters and a new key goes
after the last entry of its table. Arrays of tables and keys inside inline tables are
not edited (an error says so).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gitml.experiments.edit import EditError, Path, _jstring_end, _line_end, _replace

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(text: str, i: int) -> tuple[list[str], int]:
    """A (dotted, maybe quoted) key starting at ``i``: its parts and the end index."""
    parts: list[str] = []
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            q = text[i]
            end = text.index(q, i + 1) if q == "'" else _jstring_end(text, i) - 1
            raw = text[i + 1:end]
            parts.append(raw if q == "'" else json.loads(f'"{raw}"'))
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                raise EditError(f"unexpected TOML at character {i}")
            parts.append(m.group())
            i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return parts, i


def _toml_value_end(text: str, i: int) -> int:
    if text.startswith(('"""', "'''"), i):
        q = text[i:i + 3]
        end = text.index(q, i + 3)
        while text.startswith(q[0], end + 3):  # up to two quotes may close the string
            end += 1
        return end + 3
    c = text[i]
    if c == '"':
        return _jstring_end(text, i)
    if c == "'":
        return text.index("'", i + 1) + 1
    if c in "[{":
        depth, j = 0, i
        while j < len(text):
            ch = text[j]
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif ch in "\"'":
                j = _toml_value_end(text, j) - 1
            elif ch == "#":
                j = _line_end(text, j) - 1
            j += 1
        raise EditError("unterminated TOML array or table")
    j = i
    while j < len(text) and text[j] not in "#\n,]}":
        j += 1
    return len(text[:j].rstrip())


class _TomlIndex:
    """Where each key's value sits, and where each table's section ends."""

    def __init__(self, text: str) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.tables: dict[Path, int] = {(): 0}  # table -> insertion point (end of last entry)
        self.arrays: set[Path] = set()
        current: Path = ()
        i = 0
        while i < len(text):
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            if i >= len(text):
                break
            c = text[i]
            if c == "#":
                i = _line_end(text, i)
                continue
            if c == "[":
                array = text.startswith("[[", i)
                parts, j = _toml_key(text, i + (2 if array else 1))
                current = tuple(parts)
                if array:
                    self.arrays.add(current)
                i = _line_end(text, j)
                self.tables[current] = i
                continue
            parts, j = _toml_key(text, i)
            if j >= len(text) or text[j] != "=":
                raise EditError(f"unexpected TOML at character {i}")
            j += 1
            while text[j] in " \t":
                j += 1
            end = _toml_value_end(text, j)
            self.values[current + tuple(parts)] = (j, end)
            i = _line_end(text, end)
            if current not in self.arrays:
                self.tables[current] = i


def _toml_render(value: Any) -> str:
    if value is None:
        raise EditError("TOML has no null value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_keytext(k)} = {_toml_render(v)}"
                               for k, v in value.items()) + "}"
    raise EditError(f"cannot write {type(value).__name__} to TOML")


def _toml_keytext(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def toml_set(text: str, path: Path, value: Any) -> str:
    index = _TomlIndex(text)
    span = index.values.get(path)
    if span is not None:
        return _replace(text, span[0], span[1], _toml_render(value))
    if any(path[:n] in index.arrays for n in range(1, len(path) + 1)):
        raise EditError("cannot edit inside an array of tables")
    table = max((t for t in index.tables if path[:len(t)] == t and len(t) < len(path)),
                key=len)
    rest = path[len(table):]
    line = ".".join(_toml_keytext(k) for k in rest) + " = " + _toml_render(value)
    pos = index.tables[table]
    if table == () and pos == 0:
        return line + "\n" + text
    return text[:pos] + "\n" + line + text[pos:]
