"""``-S`` param overrides: parsing (Hydra's conventions), grids, and in-place file edits.

::

    train.lr=0.01                  # a key of params.yaml
    configs/model.toml:depth=5     # a key of another params file (YAML, JSON or TOML)
    +train.new=1                   # add a key that is not there yet (or use --add)
    train.lr=0.1,0.01              # a sweep: one experiment per value
    train.opt="adam,w"             # quoted: one value that contains a comma
    train.layers=[64,32]           # a list (commas inside brackets do not split)

Values are typed as Hydra types them: ``1`` int, ``0.1``/``1e-5`` float, ``true``/``false``,
``null``, ``[..]``/``{..}`` YAML flow collections, anything else (or quoted) a string.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from dataclasses import dataclass
from typing import Any

from gitml import structured
from gitml.errors import BadInputError, FormatError
from gitml.experiments import edit
from gitml.fsutil import atomic_write, check_relpath
from gitml.structured import flatten

DEFAULT_FILE = "params.yaml"
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?")
_EDITABLE = ("yaml", "json", "toml")


@dataclass(frozen=True)
class Override:
    """One key set to one value in one params file."""

    file: str
    key: str
    value: Any
    text: str  # the value as the user wrote it (for messages)
    add: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    def __str__(self) -> str:
        where = "" if self.file == DEFAULT_FILE else f"{self.file}:"
        return f"{where}{self.key}={self.text}"

    def to_dict(self) -> dict[str, Any]:
        d = {"file": self.file, "key": self.key, "value": self.value, "text": self.text}
        if self.add:
            d["add"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Override:
        return cls(str(d["file"]), str(d["key"]), d.get("value"), str(d.get("text", "")),
                   bool(d.get("add", False)))


def _malformed(spec: str, why: str) -> BadInputError:
    return BadInputError(f"malformed -S {spec!r}: {why}")


def split_values(spec: str, text: str) -> list[str]:
    """Split a sweep on commas outside quotes and brackets; ``\\,`` is a literal comma."""
    items, buf, depth, quote, i = [], [], 0, "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and not quote:
            buf.append(c + text[i + 1])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
            if depth < 0:
                raise _malformed(spec, f"unbalanced {c!r}")
        elif c == "," and depth == 0:
            items.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    if quote:
        raise _malformed(spec, f"unterminated {quote} quote")
    if depth:
        raise _malformed(spec, "unbalanced brackets")
    items.append("".join(buf))
    for item in items:
        if not item.strip():
            raise _malformed(spec, "empty value (quote it for an empty string: key='')")
    return [item.strip() for item in items]


def parse_value(spec: str, text: str) -> Any:
    """One value typed the way Hydra types it."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        if text[0] == '"':
            return re.sub(r"\\(.)", r"\1", inner)
        return inner
    text = text.replace("\\,", ",")
    if _NUMBER.fullmatch(text) and any(ch.isdigit() for ch in text):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            try:
                return float(text.replace("_", ""))
            except ValueError:
                pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~"):
        return None
    if low in ("nan", "inf", "+inf", "-inf"):
        return float(low)
    if text[0] in "[{":
        try:
            return edit.parse_text(f"v: {text}\n", "yaml")["v"]
        except Exception:  # noqa: BLE001 - any YAML error is the user's
            raise _malformed(spec, f"cannot read {text!r} as a list or mapping") from None
    return text


_KEY = re.compile(r"[^\s=.]+(?:\.[^\s=.]+)*")


def parse(spec: str, *, add: bool = False) -> list[Override]:
    """One ``-S`` item: one Override per sweep value."""
    if "=" not in spec:
        raise _malformed(spec, "expected KEY=VALUE (e.g. train.lr=0.01)")
    target, _, raw = spec.partition("=")
    target = target.strip()
    if target.startswith("~"):
        raise _malformed(spec, "deleting keys (~key) is not supported")
    if target.startswith("++"):
        target, add = target[2:], True
    elif target.startswith("+"):
        target, add = target[1:], True
    file, sep, key = target.rpartition(":")
    file = file if sep else DEFAULT_FILE
    if not key or not _KEY.fullmatch(key):
        raise _malformed(spec, "expected KEY=VALUE with a dotted key (e.g. train.lr=0.01)")
    file = os.path.normpath(file).replace(os.sep, "/") if sep else file
    try:
        check_relpath(file)
    except Exception:  # noqa: BLE001
        raise _malformed(spec, f"{file!r} is not a path inside the repository") from None
    if structured.format_of(file) not in _EDITABLE:
        raise _malformed(spec, f"{file}: params overrides edit .yaml, .yml, .json or .toml files")
    if not raw.strip():
        raise _malformed(spec, "no value (quote it for an empty string: key='')")
    values = split_values(spec, raw)
    return [Override(file, key, parse_value(spec, v), v, add) for v in values]


def grid(specs: list[str], *, add: bool = False) -> list[list[Override]]:
    """Every combination of the sweeps (one list of overrides per experiment), in order."""
    axes: dict[tuple[str, str], list[Override]] = {}
    for spec in specs:
        ovs = parse(spec, add=add)
        axes[(ovs[0].file, ovs[0].key)] = ovs  # a later -S for the same key wins
    if not axes:
        return [[]]
    return [list(combo) for combo in itertools.product(*axes.values())]


# -- applying --------------------------------------------------------------------------------

def check(root: str, overrides: list[Override]) -> None:
    """Raise BadInputError unless every override can be applied to the files under ``root``
    (the file exists and parses; the key exists or ``add``; the edit works). Writes nothing."""
    _plan(root, overrides)


def apply(root: str, overrides: list[Override]) -> list[str]:
    """Edit the params files under ``root`` in place; returns the files changed."""
    plan = _plan(root, overrides)
    for file, new in plan.items():
        atomic_write(os.path.join(root, *file.split("/")), new.encode(), durable=False)
    return sorted(plan)


def _plan(root: str, overrides: list[Override]) -> dict[str, str]:
    by_file: dict[str, list[Override]] = {}
    for o in overrides:
        by_file.setdefault(o.file, []).append(o)
    out: dict[str, str] = {}
    for file, ovs in by_file.items():
        full = os.path.join(root, *file.split("/"))
        try:
            with open(full, "rb") as f:
                text = f.read().decode("utf-8-sig")
        except FileNotFoundError:
            hint = " (name another with -S FILE:KEY=VALUE)" if file == DEFAULT_FILE else ""
            raise BadInputError(f"{file}: no such params file{hint}") from None
        except UnicodeDecodeError:
            raise BadInputError(f"{file}: not UTF-8 text") from None
        fmt = structured.format_of(file) or ""
        try:
            doc = edit.parse_text(text, fmt, file)
        except FormatError as e:
            raise BadInputError(f"{file}: cannot parse: {e.problem}") from None
        for o in ovs:
            if not o.add and edit.lookup(doc, o.path) is edit.MISSING:
                raise BadInputError(_unknown(file, o.key, doc))
        try:
            out[file] = edit.edit(text, fmt, [(o.path, o.value) for o in ovs])
        except edit.EditError as e:
            keys = ", ".join(o.key for o in ovs)
            raise BadInputError(f"{file}: cannot set {keys} in place: {e}") from None
    return out


def _unknown(file: str, key: str, doc: Any) -> str:
    keys = list(flatten(doc)) if isinstance(doc, dict | list) else []
    near = difflib.get_close_matches(key, keys, n=1)
    hint = f"did you mean {near[0]}? " if near else ""
    return f"{file}: no param {key!r} ({hint}use --add or +{key}=VALUE to add it)"
