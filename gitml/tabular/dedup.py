"""Parquet written so that a new version shares most bytes with the last (issue 21).

gitml stores big files as content-defined chunks (gitml/chunks.py); that saves space only
when unchanged rows give unchanged bytes. pyarrow's ``use_content_defined_chunking``
cuts data pages by content, and one big row group keeps an insert or a delete from
moving every row-group boundary after it (each moved boundary re-encodes the column
chunks around it). Measured in docs/benchmarks.md ("Sub-file deduplication").
"""

from __future__ import annotations

import os
from typing import Any

MARK = b"gitml.cdc"  # key-value metadata written by write_parquet
MAX_ROW_GROUP = 64 << 20  # pyarrow's own cap on rows per row group


def write_parquet(table: Any, path: str | os.PathLike[str] | Any, *,
                  row_group_size: int | None = None, compression: str = "zstd",
                  **options: Any) -> None:
    """Write ``table`` (a pyarrow Table) as Parquet for deduplication: content-defined
    data pages (pyarrow's ``use_content_defined_chunking=True``, pyarrow 21+) and one row
    group for up to 64 Mi rows (``row_group_size`` to choose). ``options`` go to
    ``pyarrow.parquet.write_table``. The file carries the key ``gitml.cdc`` in its
    metadata, so ``gitml add -v`` knows how it was written."""
    import pyarrow.parquet as pq

    meta = dict(table.schema.metadata or {})
    meta[MARK] = b"1"
    table = table.replace_schema_metadata(meta)
    options.setdefault("use_content_defined_chunking", True)
    rows = row_group_size or min(max(table.num_rows, 1), MAX_ROW_GROUP)
    pq.write_table(table, path, row_group_size=rows, compression=compression, **options)


def advice(path: str, rel: str) -> list[str]:
    """What in how the Parquet file at ``path`` was written defeats deduplication, each
    with its fix (read from the footer only); [] when nothing does or it is not Parquet."""
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 - not Parquet after all: nothing to advise
        return []
    notes = []
    fix = "write it with gitml.api.write_parquet(table, path)"
    if MARK not in (md.metadata or {}):
        notes.append(f"{rel} was not written by gitml.api.write_parquet: unless pyarrow's "
                     "use_content_defined_chunking=True was on (it leaves no mark), a change "
                     "of a few rows rewrites most of its bytes, and a new version is stored "
                     f"almost whole; {fix}")
    groups, rows = md.num_row_groups, md.num_rows
    if groups > 1 and rows / groups < MAX_ROW_GROUP:
        notes.append(f"{rel} has {groups} row groups of about {rows // groups:,} rows: an "
                     "insert or delete moves every row-group boundary after it and re-encodes "
                     f"what follows; {fix} (one row group), or pass row_group_size=len(table)")
    return notes
