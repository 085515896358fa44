"""``gitml data profile``: what a table holds, from one streaming pass.

Rows, columns, types, nulls, distinct values (exact below 4,096, estimated above),
min/max/mean/std, top values and duplicate rows. Columns of a chunk are worked on in
parallel threads (pyarrow releases the GIL); memory holds one chunk per column plus
8 bytes per row for the duplicate count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.tabular.io import EmptyTableError

if TYPE_CHECKING:
    from gitml.tabular.io import Table

DUP_EXACT_LIMIT = 200_000_000  # rows; above this duplicates are estimated from a sketch


@dataclass
class ColumnProfile:
    stats: dict[str, Any]
    distinct: int
    distinct_exact: bool
    top: list[tuple[Any, int]]
    top_approx: bool = False

    def to_dict(self) -> dict[str, Any]:
        from gitml.tabular.stats import plain

        d = dict(self.stats)
        d["distinct"] = self.distinct
        d["distinct_exact"] = self.distinct_exact
        d["top"] = [{"value": plain(v), "count": c} for v, c in self.top]
        if self.top_approx:
            d["top_approx"] = True
        return d


@dataclass
class Profile:
    path: str
    format: str
    files: int
    rows: int
    duplicate_rows: int
    duplicates_exact: bool
    columns: list[ColumnProfile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "files": self.files,
                "rows": self.rows, "column_count": len(self.columns),
                "duplicate_rows": self.duplicate_rows,
                "duplicates_exact": self.duplicates_exact,
                "columns": [c.to_dict() for c in self.columns]}


class _Column:
    def __init__(self, name: str, type: Any, top_n: int) -> None:
        from gitml.tabular.stats import ColumnStats, DistinctSketch, TopValues

        self.stats = ColumnStats(name, type)
        self.sketch = DistinctSketch()
        self.top = TopValues(top_n)

    def update(self, col: Any) -> Any:
        from gitml.tabular.hashing import hash_array

        self.stats.update(col)
        import pyarrow as pa
        import pyarrow.compute as pc

        h = hash_array(col)
        if col.null_count:  # distinct counts values, not nulls
            valid = pc.is_valid(col)
            if isinstance(valid, pa.ChunkedArray):
                valid = valid.combine_chunks()
            self.sketch.update(pc.filter(h, valid))
        else:
            self.sketch.update(h)
        if self.top.counts is None and not self.top.skipped:  # first chunk: worth counting?
            valid_rows = len(col) - col.null_count
            est = self.sketch.estimate()
            if est > self.top.cap and est > valid_rows // 2:
                self.top.skipped = True
        self.top.update(col)
        return h


def profile(table: Table, top: int = 5, columns: list[str] | None = None) -> Profile:
    """Profile ``table`` (see :func:`gitml.tabular.io.open_table`) in one pass."""
    import pyarrow as pa

    from gitml.tabular.hashing import U64, combine, mix
    from gitml.tabular.stats import DistinctSketch, ExactDistinct

    schema = table._select(columns)
    cols = [_Column(f.name, f.type, top) for f in schema]
    row_hashes = ExactDistinct()
    row_sketch = DistinctSketch(1 << 14)
    rows = 0
    workers = max(1, min(len(cols), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        encoded = [c for c in table.dictionary_columns() if c in schema.names]
        for chunk in table.chunks(schema.names, dictionary=encoded):
            n = chunk.num_rows
            if n == 0:
                continue
            hashes = list(pool.map(_Column.update, cols, chunk.columns))
            h: Any = pa.nulls(n, U64).fill_null(0x9E3779B97F4A7C15)
            for col_hash in hashes:
                h = combine(h, col_hash)
            h = mix(h)
            rows += n
            if rows <= DUP_EXACT_LIMIT:
                row_hashes.add(h)
            else:
                row_hashes.clear()
            row_sketch.update(h)
    if rows == 0:
        raise EmptyTableError(f"{table.name}: the table is empty (0 rows)")
    if row_hashes.count:
        distinct_rows, exact = row_hashes.distinct(), True
    else:
        distinct_rows, exact = min(rows, row_sketch.estimate()), False
    out = Profile(table.name, table.fmt, len(table.parts), rows, rows - distinct_rows, exact)
    for c in cols:
        out.columns.append(ColumnProfile(c.stats.to_dict(), min(c.sketch.estimate(), rows),
                                         c.sketch.exact, c.top.top(), c.top.approx))
    return out
