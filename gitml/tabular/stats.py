"""Mergeable column statistics: counted a chunk at a time, combined exactly.

``ColumnStats`` (nulls, min/max, mean/std) is shared by profile and diff; ``DistinctSketch``
(k minimum values) estimates distinct counts from 64-bit hashes; ``TopValues`` keeps the
most frequent values.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gitml.tabular.hashing import U64


def is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def has_order(t: pa.DataType) -> bool:
    return (is_numeric(t) or pa.types.is_temporal(t) or pa.types.is_string(t)
            or pa.types.is_large_string(t) or pa.types.is_boolean(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t))


def plain(v: Any) -> Any:
    """A JSON-friendly Python value (datetimes and decimals as text, NaN as None)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return str(v)


def _sig(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(f"{v:.12g}")


class ColumnStats:
    """Rows, nulls, min, max, mean and standard deviation of one column."""

    def __init__(self, name: str, type: pa.DataType) -> None:
        self.name = name
        self.type = type
        self.rows = 0
        self.nulls = 0
        self.min: Any = None
        self.max: Any = None
        self.n = 0  # non-null numbers counted in mean/m2
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, col: pa.Array | pa.ChunkedArray) -> None:
        self.rows += len(col)
        self.nulls += col.null_count
        if len(col) == col.null_count:
            return
        t = col.type if pa.types.is_dictionary(col.type) else self.type
        if pa.types.is_dictionary(t) and is_numeric(t.value_type):
            col, t = pc.cast(col, t.value_type), t.value_type
        elif pa.types.is_dictionary(t):  # min/max over the dictionary values in use
            chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
            self._min_max(pa.chunked_array(
                [pc.take(c.dictionary, pc.unique(c.indices).drop_null()) for c in chunks],
                t.value_type))
            return
        if has_order(t):
            self._min_max(col)
        if is_numeric(t) and not pa.types.is_decimal(t):
            n = len(col) - col.null_count
            mean = pc.mean(col).as_py()
            var = pc.variance(col, ddof=0).as_py()
            if mean is None or var is None or not math.isfinite(mean):
                return
            self._merge_moments(n, mean, var * n)

    def _min_max(self, col: pa.Array | pa.ChunkedArray) -> None:
        if len(col) > col.null_count:
            mm = pc.min_max(col)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            if isinstance(lo, float) and math.isnan(lo):
                lo = hi = None
            if lo is not None:
                self.min = lo if self.min is None or lo < self.min else self.min
                self.max = hi if self.max is None or hi > self.max else self.max

    def _merge_moments(self, n: int, mean: float, m2: float) -> None:
        if self.n == 0:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    def merge(self, other: ColumnStats) -> None:
        self.rows += other.rows
        self.nulls += other.nulls
        for v in (other.min,):
            if v is not None and (self.min is None or v < self.min):
                self.min = v
        for v in (other.max,):
            if v is not None and (self.max is None or v > self.max):
                self.max = v
        if other.n:
            self._merge_moments(other.n, other.mean, other.m2)

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None

    def to_dict(self) -> dict[str, Any]:
        shown = self.type.value_type if pa.types.is_dictionary(self.type) else self.type
        d: dict[str, Any] = {"name": self.name, "type": str(shown), "rows": self.rows,
                             "nulls": self.nulls,
                             "null_fraction": round(self.nulls / self.rows, 6) if self.rows
                             else 0.0,
                             "min": plain(self.min), "max": plain(self.max)}
        if self.n:  # 12 significant digits: merge order must not show in the output
            d["mean"] = plain(_sig(self.mean))
            d["std"] = plain(_sig(self.std))
        return d


class DistinctSketch:
    """K minimum values: exact below ``k`` distinct values, about 1.6 % error above."""

    def __init__(self, k: int = 4096) -> None:
        self.k = k
        self.mins = pa.array([], U64)

    def update(self, hashes: pa.Array) -> None:
        if len(self.mins) >= self.k:
            hashes = pc.filter(hashes, pc.less(hashes, self.mins[-1]))
        if len(hashes) > 4 * self.k:
            # the 4k smallest values hold the k smallest distinct ones whenever they hold
            # k distinct values at all (every value below their maximum is among them)
            few = pc.unique(pc.take(hashes, pc.select_k_unstable(
                hashes, 4 * self.k, sort_keys=[("dummy", "ascending")])))
            if len(few) >= self.k:
                hashes = few
        if len(hashes) == 0:
            return
        cand = pc.unique(pa.concat_arrays([self.mins, hashes]))
        if len(cand) > self.k:
            idx = pc.select_k_unstable(cand, self.k, sort_keys=[("dummy", "ascending")])
            cand = pc.take(cand, idx)
        self.mins = pc.take(cand, pc.sort_indices(cand))

    @property
    def exact(self) -> bool:
        return len(self.mins) < self.k

    def estimate(self) -> int:
        if self.exact:
            return len(self.mins)
        return int(round((self.k - 1) * 2.0 ** 64 / (self.mins[-1].as_py() + 1)))


class ExactDistinct:
    """Exact count of distinct 64-bit hashes: bucketed by their top bits as they arrive,
    so each bucket's hash table stays small enough for the cache."""

    BITS = 6

    def __init__(self) -> None:
        self.buckets: list[list[pa.Array]] = [[] for _ in range(1 << self.BITS)]
        self.count = 0

    def add(self, hashes: pa.Array) -> None:
        b = pc.shift_right(hashes, pa.scalar(64 - self.BITS, U64))
        order = pc.sort_indices(b)
        ordered = pc.take(hashes, order)
        vc = pc.value_counts(pc.take(b, order))
        pos = 0
        for k, m in sorted(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(),
                               strict=True)):
            self.buckets[k].append(ordered.slice(pos, m))
            pos += m
        self.count += len(hashes)

    def clear(self) -> None:
        self.buckets = [[] for _ in range(1 << self.BITS)]
        self.count = 0

    def distinct(self) -> int:
        return sum(len(pc.unique(pa.concat_arrays(b))) for b in self.buckets if b)


class TopValues:
    """Most frequent values; exact while fewer than ``cap`` distinct values were seen."""

    def __init__(self, n: int = 5, cap: int = 20_000) -> None:
        self.n = n
        self.cap = cap
        self.counts: pa.Table | None = None
        self.approx = False
        self.skipped = False  # nearly every value distinct: top values mean nothing

    def update(self, col: pa.Array | pa.ChunkedArray) -> None:
        if self.skipped:
            return
        if pa.types.is_dictionary(col.type):  # count codes, then look the values up
            parts = []
            for c in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
                vc = pc.value_counts(c.indices)
                parts.append(pa.table({"value": pc.take(c.dictionary, vc.field(0)),
                                       "count": pc.cast(vc.field(1), pa.int64())}))
            t = pa.concat_tables(parts).group_by("value").aggregate([("count", "sum")])
            values, counts = t["value"].combine_chunks(), t["count_sum"].combine_chunks()
        else:
            vc = pc.value_counts(col)
            values, counts = vc.field(0), vc.field(1)
        valid = len(col) - col.null_count
        if self.counts is None and len(values) > self.cap and len(values) > valid // 2:
            self.skipped = True
            return
        chunk = pa.table({"value": values, "count": pc.cast(counts, pa.int64())})
        if self.counts is not None:
            merged = pa.concat_tables([self.counts, chunk])
            chunk = merged.group_by("value").aggregate([("count", "sum")]).rename_columns(
                ["value", "count"])
        if chunk.num_rows > self.cap:
            self.approx = True
            idx = pc.select_k_unstable(chunk, self.cap // 2, sort_keys=[("count", "descending")])
            chunk = chunk.take(idx)
        self.counts = chunk

    def top(self) -> list[tuple[Any, int]]:
        if self.counts is None or self.skipped:
            return []
        t = self.counts.filter(pc.is_valid(self.counts["value"]))
        k = min(self.n, t.num_rows)
        if k == 0:
            return []
        keys = [("count", "descending")]
        if _sortable(t):
            keys.append(("value", "ascending"))
        t = t.take(pc.select_k_unstable(t, k, sort_keys=keys)).sort_by(keys)
        if t["count"][0].as_py() < 2:
            return []  # every value is distinct: nothing is frequent
        return list(zip(t["value"].to_pylist(), t["count"].to_pylist(), strict=True))


def _sortable(t: pa.Table) -> bool:
    return has_order(t.schema.field("value").type)
