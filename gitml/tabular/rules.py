"""The ``checks:`` section of ``gitml.yaml``: its schema, validated before any data is read.

    checks:
      data/train.parquet:              # a path (file or directory of parts) or a glob
        rows: {min: 1000, max: 5000000}
        schema:
          columns: {user_id: int64, age: int, country: string}
          extra: false                 # columns not listed are an error (default: allowed)
        not_null: [user_id]
        unique: [user_id, [user_id, day]]   # a column or a composite key
        max_null_fraction: 0.05        # for every column
        synth: {privacy: 0.9}          # a synthetic table: its lineage's report (meta.synth)
        columns:
          age: {min: 0, max: 120}
          country: {allowed: [DE, FR, US], not_null: true}
          email: {regex: '^[^@]+@[^@]+$', max_null_fraction: 0.1}
          order_id: {unique: true}

Types in ``schema.columns`` are a family (int, float, number, string, bool, date,
timestamp, decimal, binary) or an exact Arrow type (int64, double, timestamp[us], ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitml.errors import FormatError

SOURCE = "gitml.yaml"
FAMILIES = ("int", "integer", "float", "number", "string", "bool", "boolean", "date",
            "timestamp", "datetime", "decimal", "binary")
_ARROW_TYPE = re.compile(
    r"^(u?int(8|16|32|64)|float(16|32|64)?|double|halffloat|(large_)?(string|utf8|binary)"
    r"|bool|date(32|64)(\[(day|ms)\])?|time(32|64)\[(s|ms|us|ns)\]|duration\[(s|ms|us|ns)\]"
    r"|timestamp\[(s|ms|us|ns)(, tz=[^\]]+)?\]|decimal(128|256)?\(\d+, ?\d+\)|null)$")
TABLE_KEYS = ("rows", "schema", "not_null", "unique", "max_null_fraction", "synth", "columns")
SYNTH_SCORES = ("fidelity", "correlation", "utility", "privacy")
COLUMN_KEYS = ("min", "max", "allowed", "regex", "not_null", "unique", "max_null_fraction")


@dataclass(frozen=True)
class Rule:
    """One declared check. ``column`` is a name, a composite key (tuple) or None."""

    kind: str  # rows, schema, not_null, unique, min, max, allowed, regex, max_null_fraction
    column: str | tuple[str, ...] | None
    arg: Any = None

    @property
    def label(self) -> str:
        col = "+".join(self.column) if isinstance(self.column, tuple) else self.column
        return f"{self.kind} {col}" if col else self.kind


@dataclass(frozen=True)
class Target:
    pattern: str
    rules: tuple[Rule, ...]


def _err(where: str, problem: str) -> FormatError:
    return FormatError(SOURCE, f"checks: {where}: {problem}")


def _names(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(x, str) and x for x in items):
        raise _err(where, "expected a column name or a list of column names")
    return items


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(where, f"expected a number, not {value!r}")
    return value


def _fraction(value: Any, where: str) -> float:
    v = _number(value, where)
    if not 0 <= v <= 1:
        raise _err(where, f"expected a fraction between 0 and 1, not {value!r}")
    return v


def _bound(value: Any, where: str) -> Any:
    """A min/max: a number, or text for dates, timestamps and strings."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        import datetime

        if isinstance(value, (datetime.date, datetime.datetime)):
            return value
        raise _err(where, f"expected a number, date or text, not {value!r}")
    return value


def valid_type(spec: str) -> bool:
    return spec in FAMILIES or bool(_ARROW_TYPE.match(spec))


def parse(section: Any) -> list[Target]:
    """Validate the ``checks:`` section; a problem is a one-line :class:`FormatError`."""
    if section is None:
        return []
    if not isinstance(section, dict):
        raise _err("section", "expected a mapping of path or glob -> rules")
    targets = []
    for pattern, body in section.items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise _err(repr(pattern), "a target must be a path or a glob")
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise _err(pattern, "targets are paths inside the repository")
        if not isinstance(body, dict) or not body:
            raise _err(pattern, "expected a mapping of rules (rows, schema, not_null, unique, "
                                "max_null_fraction, columns)")
        targets.append(Target(pattern, tuple(_table_rules(pattern, body))))
    return targets


def _table_rules(pattern: str, body: dict[str, Any]) -> list[Rule]:
    rules: list[Rule] = []
    for key, value in body.items():
        where = f"{pattern}: {key}"
        if key not in TABLE_KEYS:
            raise _err(pattern, f"unknown rule {key!r} (known: {', '.join(TABLE_KEYS)})")
        if key == "rows":
            if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
                raise _err(where, "expected {min: N, max: N}")
            lo, hi = value.get("min"), value.get("max")
            for name, v in (("min", lo), ("max", hi)):
                if v is not None and (type(v) is not int or v < 0):
                    raise _err(f"{where}.{name}", f"expected a row count, not {v!r}")
            if lo is not None and hi is not None and lo > hi:
                raise _err(where, f"min {lo} is above max {hi}")
            rules.append(Rule("rows", None, (lo, hi)))
        elif key == "schema":
            rules.append(_schema_rule(where, value))
        elif key == "not_null":
            rules.extend(Rule("not_null", c) for c in _names(value, where))
        elif key == "unique":
            items = value if isinstance(value, list) else [value]
            for item in items:
                cols = _names(item, where)
                rules.append(Rule("unique", tuple(cols) if len(cols) > 1 else cols[0]))
        elif key == "max_null_fraction":
            rules.append(Rule("max_null_fraction", None, _fraction(value, where)))
        elif key == "synth":
            if not isinstance(value, dict) or set(value) - set(SYNTH_SCORES):
                raise _err(where, "expected {fidelity: F, correlation: F, utility: F, "
                                  "privacy: F} (minimums from 0 to 1; {} for none)")
            rules.append(Rule("synth", None, tuple(
                (k, _fraction(v, f"{where}.{k}")) for k, v in value.items())))
        else:
            if not isinstance(value, dict) or not value:
                raise _err(where, "expected a mapping of column -> rules")
            for col, crules in value.items():
                rules.extend(_column_rules(f"{pattern}: columns.{col}", str(col), crules))
    return rules


def _schema_rule(where: str, value: Any) -> Rule:
    if not isinstance(value, dict) or set(value) - {"columns", "extra"}:
        raise _err(where, "expected {columns: {name: type}, extra: true|false}")
    cols = value.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise _err(f"{where}.columns", "expected a mapping of column -> type")
    for name, typ in cols.items():
        if not isinstance(typ, str) or not valid_type(typ.strip()):
            raise _err(f"{where}.columns.{name}",
                       f"unknown type {typ!r} (use {', '.join(FAMILIES[:1] + FAMILIES[2:])} "
                       f"or an Arrow type such as int64, double, timestamp[us])")
    extra = value.get("extra", True)
    if not isinstance(extra, bool):
        raise _err(f"{where}.extra", f"expected true or false, not {extra!r}")
    return Rule("schema", None, ({str(k): v.strip() for k, v in cols.items()}, extra))


def _column_rules(where: str, col: str, body: Any) -> list[Rule]:
    if not isinstance(body, dict) or not body:
        raise _err(where, f"expected a mapping of rules ({', '.join(COLUMN_KEYS)})")
    rules = []
    for key, value in body.items():
        w = f"{where}.{key}"
        if key not in COLUMN_KEYS:
            raise _err(where, f"unknown rule {key!r} (known: {', '.join(COLUMN_KEYS)})")
        if key in ("min", "max"):
            rules.append(Rule(key, col, _bound(value, w)))
        elif key == "allowed":
            if not isinstance(value, list) or not value:
                raise _err(w, "expected a list of values")
            kinds = {_kind(v) for v in value if v is not None}
            if "other" in kinds or len(kinds) > 1:
                raise _err(w, "expected values of one kind (all numbers, all text or all "
                              f"true/false), not {value!r}")
            rules.append(Rule("allowed", col, tuple(value)))
        elif key == "regex":
            if not isinstance(value, str):
                raise _err(w, "expected a regular expression")
            try:
                re.compile(value)
            except re.error as e:
                raise _err(w, f"invalid regular expression ({e})") from None
            rules.append(Rule("regex", col, value))
        elif key in ("not_null", "unique"):
            if not isinstance(value, bool):
                raise _err(w, f"expected true or false, not {value!r}")
            if value:
                rules.append(Rule(key, col))
        else:
            rules.append(Rule("max_null_fraction", col, _fraction(value, w)))
    lo = next((r.arg for r in rules if r.kind == "min"), None)
    hi = next((r.arg for r in rules if r.kind == "max"), None)
    if (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi):
        raise _err(where, f"min {lo} is above max {hi}")
    return rules


def _kind(v: Any) -> str:
    import datetime

    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "text" if isinstance(v, (str, datetime.date)) else "other"


def _expected(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "a whole number"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "a number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_date(t):
        return "a date such as 2024-01-31"
    if pa.types.is_timestamp(t):
        return "a timestamp such as 2024-01-31 12:00:00"
    if pa.types.is_boolean(t):
        return "true or false"
    return f"a {t} value"


def _fits(v: Any, t: Any) -> bool:
    """Whether a min/max/allowed value can be compared with a column of type ``t``: numbers
    with numbers, text with text, and (as the checks cast them) nothing else silently."""
    import pyarrow as pa

    kind = _kind(v)
    if pa.types.is_boolean(t):
        return kind == "bool"
    if pa.types.is_integer(t):
        if kind != "number" or (isinstance(v, float) and not v.is_integer()):
            return False
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        if kind != "number":
            return False
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        return isinstance(v, str)
    elif (pa.types.is_date(t) or pa.types.is_timestamp(t)) and kind != "text":
        return False
    try:
        pa.scalar(v).cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        return False
    return True


def check_values(pattern: str, rules: tuple[Rule, ...] | list[Rule], schema: Any,
                 table: str) -> None:
    """``min``, ``max`` and ``allowed`` values must fit their column's type in ``schema`` (a
    table's footer), checked before any row is read; one line naming the rule and what it
    expects. A missing column is left to the check itself (a failed rule)."""
    import pyarrow as pa

    for r in rules:
        if r.kind not in ("min", "max", "allowed") or not isinstance(r.column, str) \
                or r.column not in schema.names:
            continue
        t = schema.field(r.column).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        for v in r.arg if r.kind == "allowed" else (r.arg,):
            if v is not None and not _fits(v, t):
                raise _err(f"{pattern}: columns.{r.column}.{r.kind}",
                           f"expected {_expected(t)} ({r.column} is {t} in {table}), "
                           f"not {v!r}")


def type_matches(spec: str, t: Any) -> bool:
    """Whether Arrow type ``t`` satisfies a declared type (family or exact)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    fam = {
        "int": pa.types.is_integer, "integer": pa.types.is_integer,
        "float": pa.types.is_floating,
        "number": lambda x: pa.types.is_integer(x) or pa.types.is_floating(x)
        or pa.types.is_decimal(x),
        "string": lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)
        or pa.types.is_string_view(x),
        "bool": pa.types.is_boolean, "boolean": pa.types.is_boolean,
        "date": pa.types.is_date, "timestamp": pa.types.is_timestamp,
        "datetime": pa.types.is_timestamp, "decimal": pa.types.is_decimal,
        "binary": lambda x: pa.types.is_binary(x) or pa.types.is_large_binary(x)
        or pa.types.is_fixed_size_binary(x),
    }.get(spec)
    if fam is not None:
        return bool(fam(t))
    aliases = {"float64": "double", "float32": "float", "float16": "halffloat",
               "utf8": "string", "large_utf8": "large_string", "date32": "date32[day]",
               "date64": "date64[ms]"}
    want = aliases.get(spec, spec).replace(", ", ",")
    return str(t).replace(", ", ",") == want
