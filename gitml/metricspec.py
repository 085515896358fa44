"""Which files hold metrics and params, and how a metric is judged: the ``gitml.yaml`` schema.

::

    metrics:
      - metrics.json                    # a path or a glob (``*``, ``?``, ``[..]``, ``**``)
      - path: eval/*.json
        direction: higher               # better when it goes up (or: lower)
        tolerance: 0.01                 # a drop of up to 0.01 is "within tolerance"; or "2%"
        keys:                           # per-metric settings (dotted names, globs allowed)
          loss: lower                   # shorthand for {direction: lower}
          epochs: none                  # never judged
          val.acc: {direction: higher, tolerance: 0.005}
    params:
      - params.yaml
      - configs/*.yaml

Also counted: the ``metrics``/``params`` of pipeline stages (``stages.<name>.metrics``
entries as above; ``stages.<name>.params`` names keys of ``params.yaml`` or maps a file to
keys) and the training logger's ``gitml-live/metrics.json`` / ``gitml-live/params.yaml``.
With nothing declared, ``metrics.{json,yaml,yml,toml}`` / ``params.{yaml,yml,json,toml}`` at
the root count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from gitml.errors import FormatError

KINDS = ("metrics", "params")
DEFAULTS = {"metrics": ("metrics.json", "metrics.yaml", "metrics.yml", "metrics.toml"),
            "params": ("params.yaml", "params.yml", "params.json", "params.toml")}
LIVE = {"metrics": "gitml-live/metrics.json", "params": "gitml-live/params.yaml"}
STAGE_PARAMS_FILE = "params.yaml"
DIRECTIONS = ("higher", "lower", "none")
_ENTRY_KEYS = {"metrics": {"path", "direction", "tolerance", "keys"}, "params": {"path"}}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Rule:
    """How a metric is judged: ``tolerance`` is absolute, or a fraction of the old value
    when ``relative``."""

    direction: str | None = None
    tolerance: float | None = None
    relative: bool = False

    def over(self, base: Rule) -> Rule:
        """This rule with the fields it leaves unset taken from ``base``."""
        if self.tolerance is None:
            return Rule(self.direction or base.direction, base.tolerance, base.relative)
        return Rule(self.direction or base.direction, self.tolerance, self.relative)

    def tolerance_text(self) -> str:
        if self.tolerance is None:
            return ""
        return f"{self.tolerance * 100:g}%" if self.relative else f"{self.tolerance:g}"


@dataclass(frozen=True)
class Entry:
    """One declared path or glob and the rules for the metrics in it."""

    pattern: str
    rule: Rule = Rule()
    keys: tuple[tuple[str, Rule], ...] = ()

    def matches(self, path: str) -> bool:
        return path == self.pattern or match_path(self.pattern, path)


@dataclass(frozen=True)
class Declared:
    """What one revision's ``gitml.yaml`` declares for one kind (metrics or params)."""

    kind: str
    entries: tuple[Entry, ...]
    explicit: bool  # False: nothing declared, the root defaults apply
    required: tuple[str, ...] = ()  # declared metrics paths (no glob) that must be there

    def patterns(self) -> list[str]:
        out = [e.pattern for e in self.entries]
        return out + [LIVE[self.kind]] if LIVE[self.kind] not in out else out

    def for_path(self, path: str) -> Declared | None:
        """Only the entries that match ``path`` and judge something; None when none do (so a
        diff of 100,000 keys does not match every key against every entry)."""
        judging = tuple(e for e in self.entries
                        if (e.keys or e.rule.direction or e.rule.tolerance is not None)
                        and e.matches(path))
        return Declared(self.kind, judging, True) if judging else None

    def rule_for(self, path: str, key: str) -> Rule | None:
        """The direction/tolerance of ``key`` in ``path``: an exact key rule beats a key glob,
        which beats the file-level rule; the first declaring entry wins. None: nothing
        declared; a rule without direction: declared ``direction: none`` (never judged)."""
        for e in self.entries:
            if not e.matches(path):
                continue
            exact = next((r for k, r in e.keys if k == key), None)
            glob = exact or next((r for k, r in e.keys if fnmatchcase(key, k)), None)
            rule = glob.over(e.rule) if glob else e.rule
            if rule.direction == "none":
                return Rule()
            if rule.direction:
                return rule
        return None


def declared(project: dict[str, Any], kind: str, source: str = "gitml.yaml") -> Declared:
    """The entries of ``kind`` in a parsed project file; bad entries raise FormatError."""
    entries: list[Entry] = []
    top = project.get(kind)
    if top is not None:
        if not isinstance(top, list):
            raise FormatError(source, f"'{kind}' must be a list of paths")
        for i, item in enumerate(top):
            entries.append(_entry(item, kind, f"{kind}[{i}]", source))
    stages = project.get("stages")
    if isinstance(stages, dict):
        for name, stage in stages.items():
            if isinstance(stage, dict):
                entries.extend(_stage_entries(stage, kind, f"stages.{name}", source))
    explicit = bool(entries)
    if not explicit:
        entries = [Entry(p) for p in DEFAULTS[kind]]
    if kind == "params":  # the files pipelines interpolate from are params too
        from gitml.pipeline.interp import var_files

        entries += [Entry(_pattern(f, "vars", source)) for f in var_files(project.get("vars"))
                    if f.rsplit(".", 1)[-1].lower() in ("yaml", "yml", "json", "toml")]
    seen: set[Entry] = set()
    unique = [e for e in entries if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]
    required = tuple(dict.fromkeys(e.pattern for e in unique if not has_glob(e.pattern))) \
        if explicit and kind == "metrics" else ()
    return Declared(kind, tuple(unique), explicit, required)


def _stage_entries(stage: dict[str, Any], kind: str, where: str, source: str) -> list[Entry]:
    items = stage.get(kind)
    if not isinstance(items, list):
        return []
    out: list[Entry] = []
    for i, item in enumerate(items):
        loc = f"{where}.{kind}[{i}]"
        if kind == "params":
            # bare names are keys of params.yaml; {file: [keys]} names another file
            if isinstance(item, str):
                out.append(Entry(STAGE_PARAMS_FILE))
            elif isinstance(item, dict):
                out.extend(Entry(_pattern(f, loc, source)) for f in item)
            continue
        if isinstance(item, dict) and "path" not in item and len(item) == 1:
            # DVC's shape, ``- file.json: {cache: false}``: options we know are read
            (path, opts), = item.items()
            opts = {k: v for k, v in (opts or {}).items() if k in _ENTRY_KEYS[kind]} \
                if isinstance(opts, dict) else {}
            item = {"path": path, **opts}
        elif isinstance(item, dict):
            item = {k: v for k, v in item.items() if k in _ENTRY_KEYS[kind]}
        out.append(_entry(item, kind, loc, source))
    return out


def _entry(item: Any, kind: str, loc: str, source: str) -> Entry:
    if isinstance(item, str):
        return Entry(_pattern(item, loc, source))
    if not isinstance(item, dict):
        raise FormatError(source, f"{loc}: expected a path or a mapping with 'path', "
                                  f"not {type(item).__name__}")
    unknown = sorted(set(item) - _ENTRY_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(_ENTRY_KEYS[kind]))
        raise FormatError(source, f"{loc}: unknown key {unknown[0]!r} (allowed: {allowed})")
    if "path" not in item:
        raise FormatError(source, f"{loc}: missing 'path'")
    pattern = _pattern(item["path"], loc, source)
    where = f"{loc} ({pattern})"
    rule = _rule(item, where, source)
    keys = item.get("keys") or {}
    if not isinstance(keys, dict):
        raise FormatError(source, f"{where}: 'keys' must map metric names to settings")
    key_rules = []
    for k, v in keys.items():
        kw = f"{where} key {k!r}"
        if isinstance(v, str):
            v = {"direction": v}
        if not isinstance(v, dict):
            raise FormatError(source, f"{kw}: expected 'higher', 'lower', 'none' or a mapping")
        bad = sorted(set(v) - {"direction", "tolerance"})
        if bad:
            raise FormatError(source, f"{kw}: unknown key {bad[0]!r} "
                                      "(allowed: direction, tolerance)")
        key_rules.append((str(k), _rule(v, kw, source)))
    return Entry(pattern, rule, tuple(key_rules))


def _pattern(value: Any, loc: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FormatError(source, f"{loc}: a path must be a non-empty string, not {value!r}")
    p = value.strip().removeprefix("./").rstrip("/")
    parts = p.split("/")
    if p.startswith("/") or "\\" in p or "\0" in p or any(x in ("", ".", "..") for x in parts):
        raise FormatError(source, f"{loc}: path {value!r} must be relative to the repository "
                                  "root, without '..'")
    return p


def _rule(d: dict[str, Any], where: str, source: str) -> Rule:
    direction = d.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise FormatError(source, f"{where}: direction must be 'higher', 'lower' or 'none', "
                                  f"not {direction!r}")
    tol, relative = parse_tolerance(d.get("tolerance"), where, source)
    return Rule(direction, tol, relative)


def parse_tolerance(value: Any, where: str, source: str) -> tuple[float | None, bool]:
    """``0.01`` (absolute) or ``"2%"`` (relative to the old value) -> (amount, relative)."""
    if value is None:
        return None, False
    amount: Any = value
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if m:
            return float(m.group(1)) / 100, True
        try:
            amount = float(value)
        except ValueError:
            amount = None
    if isinstance(amount, bool) or not isinstance(amount, int | float) \
            or not math.isfinite(amount) or amount < 0:
        raise FormatError(source, f"{where}: tolerance must be a number >= 0 or a "
                                  f"percentage like '2%', not {value!r}")
    return float(amount), False


def has_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


def match_path(pattern: str, path: str) -> bool:
    """Match a repository path against a glob: ``*`` stays within a folder, ``**`` spans any
    number of folders, and a folder matches every file below it."""
    return _match(pattern.split("/"), path.split("/"))


def _match(pat: list[str], parts: list[str]) -> bool:
    if not pat:
        return True  # the pattern named a folder: everything below it
    if pat[0] == "**":
        return any(_match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
    if not parts:
        return False
    return fnmatchcase(parts[0], pat[0]) and _match(pat[1:], parts[1:])
