"""Metric and param changes between two revisions, with a verdict where a direction is known.

A change has the shape every gitml diff uses: a kind (added, deleted, modified, unchanged,
error) plus old and new values. Numbers also get the absolute change and the relative one;
a metric declared ``higher``/``lower`` better gets a verdict: better, worse, within
tolerance, or missing (gone from the new side).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitml.metricspec import Rule
from gitml.revfiles import Snapshot

ABSENT = object()  # a side where the metric does not exist (JSON null is a value)
REGRESSIONS = ("worse", "missing")
_EPS = 1e-12
_NUMBER_TYPES = (int, float)
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class MetricChange:
    kind: str  # added | deleted | modified | unchanged | error
    path: str
    key: str
    old: Any = ABSENT
    new: Any = ABSENT
    delta: float | None = None
    percent: float | None = None
    verdict: str | None = None  # better | worse | within tolerance | missing | unknown
    old_error: str | None = None
    new_error: str | None = None
    rule: Rule | None = None

    @property
    def regressed(self) -> bool:
        """Worse, gone, or a number before that cannot be judged now (its file does not
        parse on the new side, or the value is no longer a number): a CI gate must not pass
        a broken metrics file."""
        return self.verdict in REGRESSIONS or (self.verdict == "unknown" and is_number(self.old))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "key": self.key, "kind": self.kind}
        if self.old is not ABSENT:
            d["old"] = json_number(self.old)
        if self.new is not ABSENT:
            d["new"] = json_number(self.new)
        if self.old_error:
            d["old_error"] = self.old_error
        if self.new_error:
            d["new_error"] = self.new_error
        if self.delta is not None:
            d["change"] = json_number(self.delta)
        if self.percent is not None:
            d["percent"] = json_number(self.percent)
        if self.verdict:
            d["verdict"] = self.verdict
        if self.rule and self.rule.direction:
            d["direction"] = self.rule.direction
            if self.rule.tolerance is not None:
                d["tolerance"] = self.rule.tolerance_text()
        return d


def json_number(v: Any) -> Any:
    """NaN and infinities as strings: JSON has no literal for them."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def is_number(v: Any) -> bool:
    return type(v) in _NUMBER_TYPES  # not bool, which is an int subclass


def same(a: Any, b: Any) -> bool:
    """Equal values; 1 and 1.0 are the same, true and 1 are not, NaN equals NaN."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if is_number(a) and is_number(b):
        return bool(a == b or (math.isnan(a) and math.isnan(b)))
    return type(a) is type(b) and bool(a == b)


def natural_key(key: str) -> list[Any]:
    """``a.2`` before ``a.10``: list indexes sort as numbers."""
    parts = _DIGITS.split(key)
    if len(parts) == 1:
        return [(1, 0, key)]
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def diff(old: Snapshot, new: Snapshot, rule_for: Callable[[str, str], Rule] | None = None,
         *, include_unchanged: bool = False) -> list[MetricChange]:
    """Changes from ``old`` to ``new``, sorted by file then metric name."""
    out: list[MetricChange] = []
    for path in sorted(old.files.keys() | new.files.keys()):
        fo, fn = old.files.get(path), new.files.get(path)
        od = fo.data if fo and fo.data is not None else {}
        nd = fn.data if fn and fn.data is not None else {}
        oerr = fo.error if fo else None
        nerr = fn.error if fn else None
        keys = sorted(od.keys() | nd.keys(), key=natural_key)
        if not keys and (oerr or nerr):
            out.append(MetricChange("error", path, "", old_error=oerr, new_error=nerr))
            continue
        for key in keys:
            rule = rule_for(path, key) if rule_for else Rule()
            c = _change(path, key, od.get(key, ABSENT), nd.get(key, ABSENT), oerr, nerr, rule)
            if c.kind != "unchanged" or include_unchanged:
                out.append(c)
    return out


def _change(path: str, key: str, o: Any, n: Any, oerr: str | None, nerr: str | None,
            rule: Rule) -> MetricChange:
    o_err = oerr if o is ABSENT else None
    n_err = nerr if n is ABSENT else None
    rule_or_none = rule if rule.direction else None
    if o_err or n_err:
        return MetricChange("error", path, key, o, n, old_error=o_err, new_error=n_err,
                            verdict="unknown" if rule.direction else None, rule=rule_or_none)
    if o is ABSENT:
        return MetricChange("added", path, key, new=n, rule=rule_or_none)
    if n is ABSENT:
        return MetricChange("deleted", path, key, old=o, rule=rule_or_none,
                            verdict="missing" if rule.direction else None)
    delta = percent = None
    if is_number(o) and is_number(n):
        delta = n - o
        if math.isnan(delta):  # NaN on a side, or inf - inf: no number to show
            delta = None
        elif o != 0 and math.isfinite(o):
            percent = delta / abs(o) * 100
    if same(o, n):
        return MetricChange("unchanged", path, key, o, n, 0 if delta is not None else None,
                            0.0 if percent is not None else None, rule=rule_or_none)
    return MetricChange("modified", path, key, o, n, delta, percent,
                        verdict(o, n, rule), rule=rule_or_none)


def verdict(old: Any, new: Any, rule: Rule) -> str | None:
    """better / worse / within tolerance for a metric that changed, per its rule."""
    if not rule.direction:
        return None
    if not (is_number(old) and is_number(new)):
        return "unknown"
    if math.isnan(new) or math.isnan(old):
        return "worse" if math.isnan(new) else "better"
    delta = new - old
    worse = delta < 0 if rule.direction == "higher" else delta > 0
    if not worse:
        return "better"
    if rule.tolerance is not None:
        allowed = rule.tolerance * abs(old) if rule.relative else rule.tolerance
        if abs(delta) <= allowed + _EPS * max(1.0, abs(old)):
            return "within tolerance"
    return "worse"


# -- formatting ------------------------------------------------------------------------------

def fmt_number(v: float | int, precision: int = 5, sign: bool = False) -> str:
    """``precision`` significant digits, no exponent for ordinary magnitudes; ints whole."""
    plus = "+" if sign and v > 0 else ""
    if isinstance(v, int):
        return f"{plus}{v}"
    if math.isnan(v) or math.isinf(v):
        return f"{plus}{v}"
    s = f"{v:.{precision}g}"
    if "e+" in s and abs(v) < 1e16:
        s = f"{round(v, precision - 1 - int(math.floor(math.log10(abs(v))))):.0f}"
    return plus + s


def fmt_value(v: Any, precision: int = 5) -> str:
    if v is ABSENT:
        return "-"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return fmt_number(v, precision)
    if isinstance(v, list | dict):
        return "[]" if isinstance(v, list) else "{}"
    return str(v)


def change_text(c: MetricChange, precision: int = 5, percent: bool = False) -> str:
    """The Change cell: a signed difference for numbers, otherwise what happened."""
    if c.kind == "error":
        return "error"
    if c.kind in ("added", "deleted"):
        return c.kind
    if c.delta is None:
        return "changed" if c.kind == "modified" else ""
    text = fmt_number(c.delta, precision, sign=True) if c.kind == "modified" else "0"
    if percent and c.percent is not None:
        text += f" ({fmt_number(c.percent, 3, sign=True)}%)"
    return text


def cell(c: MetricChange, side: str, precision: int = 5) -> str:
    err = c.old_error if side == "old" else c.new_error
    if err:
        return "(unreadable)"
    return fmt_value(c.old if side == "old" else c.new, precision)
