"""Which columns are modelled and how, and their Arrow <-> numpy forms.

Kinds of a source column:

- ``number``: integers, floats, decimals, dates, timestamps, times, durations (modelled on
  their numeric value: dates as days, timestamps in their unit);
- ``bool`` and ``category`` (strings whose frequent values cover at least half the rows);
- ``key``: named with ``--key``, regenerated unique;
- ``text``: strings that are mostly rare values, and types that are not modelled (binary,
  lists, structs): dropped unless a replacement rule keeps them (``null``, ``category``,
  ``template:...{n}...``);
- ``null``: a column with no values at all (written back as nulls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

MIN_COUNT = 10  # a category value seen fewer times than this is pooled
MAX_LEVELS = 1000  # at most this many category values are kept, the most frequent
OTHER = "(other)"  # what pooled values become
RULES = ("null", "category", "template:")


@dataclass(frozen=True)
class SynthOptions:
    """Everything that decides the synthetic rows (recorded in the lineage)."""

    rows: int | None = None  # None: as many as the source
    seed: int = 0
    key: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    replace: tuple[tuple[str, str], ...] = ()  # (column, rule)
    min_count: int = MIN_COUNT
    target: str | None = None  # the model-based check's column (report only)

    @property
    def rules(self) -> dict[str, str]:
        return dict(self.replace)


@dataclass
class Column:
    """The plan for one source column that is written."""

    name: str
    type: pa.DataType  # as in the source schema (a dictionary type stays one)
    kind: str  # number, bool, category, key, replace, null
    rule: str = ""  # for kind replace: null or template:...
    integer: bool = False  # numbers written as integers (ints, dates, times)
    step: float = 0.0  # numbers: rounding step (0: none), e.g. 0.01 for prices
    notes: list[str] = field(default_factory=list)

    @property
    def value_type(self) -> pa.DataType:
        import pyarrow as pa

        return self.type.value_type if pa.types.is_dictionary(self.type) else self.type


def parse_rules(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``COL=RULE`` strings from the command line."""
    out = []
    for item in items:
        col, sep, rule = item.partition("=")
        if not sep or not col or not rule.startswith(RULES) or rule not in (
                "null", "category") and not rule.startswith("template:"):
            raise BadInputError(f"--replace {item!r}: expected COL=null, COL=category or "
                                f"COL=template:TEXT (TEXT may use {{n}}, the row number)")
        out.append((col, rule))
    return tuple(out)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:20])
    return shown + (f", ... ({len(names) - 20} more)" if len(names) > 20 else "")


def check_names(schema: pa.Schema, opts: SynthOptions, name: str) -> None:
    """Every column an option names exists, and no column is named twice over."""
    cols = schema.names
    for what, names in (("--key", list(opts.key)), ("--exclude", list(opts.exclude)),
                        ("--replace", [c for c, _ in opts.replace]),
                        ("--target", [opts.target] if opts.target else [])):
        for n in names:
            if n not in cols:
                raise BadInputError(f"{what} {n}: {name} has no such column "
                                    f"(columns: {_listing(cols)})")
    seen: dict[str, str] = {}
    for what, names in (("--key", opts.key), ("--exclude", opts.exclude),
                        ("--replace", tuple(c for c, _ in opts.replace))):
        for n in names:
            if n in seen and seen[n] != what or n in seen and what == "--replace":
                raise BadInputError(f"column {n} is named by both {seen[n]} and {what}")
            seen[n] = what
    if opts.target and opts.target in seen:
        raise BadInputError(f"--target {opts.target}: the column is {seen[opts.target]}; "
                            "the model check needs a modelled column")


def kind_of(t: pa.DataType) -> str:
    """number, bool, string or other, from an Arrow type."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool"
    if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_temporal(t)):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_null(t):
        return "null"
    return "other"


def plan_key(name: str, t: pa.DataType) -> Column:
    import pyarrow as pa

    vt = t.value_type if pa.types.is_dictionary(t) else t
    if not (pa.types.is_integer(vt) or kind_of(vt) == "string"):
        raise BadInputError(f"--key {name}: a key must be an integer or string column "
                            f"({name} is {t})")
    return Column(name, t, "key")


# -- Arrow <-> numpy ---------------------------------------------------------------------
def _int_view(t: pa.DataType) -> pa.DataType | None:
    """The integer type whose values a temporal type stores."""
    import pyarrow as pa

    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return pa.int32()
    if pa.types.is_temporal(t):
        return pa.int64()
    return None


def decoded(col: Any) -> Any:
    """A dictionary-encoded column as plain values; any other column as it is."""
    import pyarrow as pa

    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def valid_mask(col: Any) -> np.ndarray:
    import numpy as np

    return np.array(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def level_codes(col: Any, values: list[Any], missing: int) -> tuple[np.ndarray, np.ndarray]:
    """(the index of each value of ``col`` in ``values``, ``missing`` when it is not there
    or null; the valid mask)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = decoded(col)
    idx = pc.index_in(col, value_set=pa.array(values, col.type)) if values else \
        pa.nulls(len(col), pa.int32())
    codes = np.array(pc.fill_null(idx, missing).to_numpy(zero_copy_only=False), np.int64)
    return codes, valid_mask(col)


def numbers(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, valid mask) of a numeric, temporal or boolean column.

    NaN and infinite floats count as missing: a quantile of them means nothing.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
    col = decoded(col)
    t = col.type
    iv = _int_view(t)
    if iv is not None:
        col = col.view(iv)
    valid = valid_mask(col)
    if pa.types.is_boolean(t):
        vals = np.array(pc.fill_null(col, False).to_numpy(zero_copy_only=False), np.float64)
    else:
        vals = np.array(pc.fill_null(pc.cast(col, pa.float64(), safe=False), 0.0)
                        .to_numpy(zero_copy_only=False), np.float64)
    if pa.types.is_floating(t):
        finite = np.isfinite(vals)
        valid &= finite
        vals[~finite] = 0.0
    return vals, valid


def tie_bounds(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value of sorted ``xs``: where its run of equal values starts and ends."""
    import numpy as np

    n = len(xs)
    idx = np.arange(n)
    starts = np.ones(n, dtype=bool)
    starts[1:] = xs[1:] != xs[:-1]
    left = np.maximum.accumulate(np.where(starts, idx, 0))
    ends = np.ones(n, dtype=bool)
    ends[:-1] = starts[1:]
    right = np.minimum.accumulate(np.where(ends, idx + 1, n)[::-1])[::-1]
    return left, right


def integer_type(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(t) or _int_view(t) is not None


def detect_step(vals: np.ndarray, integer: bool) -> float:
    """The coarsest power of ten every value is a multiple of (floats: down to 1e-6;
    integers: 1 up to 1e15), 0.0 when there is none: synthetic values are rounded to it,
    so prices keep their cents and timestamps their whole seconds."""
    import numpy as np

    if len(vals) == 0:
        return 1.0 if integer else 0.0
    sample = vals[:: max(1, len(vals) // 100_000)]
    nonzero = sample != 0
    for e in range(15, -1 if integer else -7, -1):
        step = 10.0 ** e
        scaled = sample / step
        r = np.rint(scaled)
        if (np.all(np.abs(scaled - r) <= 1e-9 * np.maximum(1.0, np.abs(scaled)))
                and np.all((r != 0) | ~nonzero)):
            return step
    return 1.0 if integer else 0.0


def to_arrow(vals: np.ndarray, valid: np.ndarray, c: Column) -> pa.Array:
    """Synthetic float64 values back into the column's own type, rounded to its step."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = c.value_type
    mask = ~valid
    if c.step >= 1:
        vals = np.rint(vals / c.step) * c.step
    elif c.step:
        vals = np.round(vals, round(-math.log10(c.step)))  # 60.73, not 60.730000000000004
    if pa.types.is_boolean(t):
        arr: pa.Array = pa.array(vals >= 0.5, pa.bool_(), mask=mask)
    elif integer_type(t):
        iv = _int_view(t) or t
        lo, hi = _int_bounds(iv)
        ints = np.clip(np.rint(vals), lo, hi)
        np_type = np.uint64 if pa.types.is_unsigned_integer(iv) else np.int64
        arr = pa.array(ints.astype(np_type), mask=mask).cast(iv)
        if iv != t:
            arr = arr.cast(t)
    elif pa.types.is_decimal(t):
        vals = np.round(vals, t.scale)
        arr = pc.cast(pa.array(vals, pa.float64(), mask=mask), t, safe=False)
    else:
        arr = pa.array(vals, pa.float64(), mask=mask).cast(t)
    return arr.dictionary_encode().cast(c.type) if pa.types.is_dictionary(c.type) else arr


def _int_bounds(t: pa.DataType) -> tuple[float, float]:
    import numpy as np

    info = np.iinfo(t.to_pandas_dtype())
    return float(info.min), float(info.max)
