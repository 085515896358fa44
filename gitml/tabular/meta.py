"""Pointer metadata for tables: row count and schema fingerprint, read from the footer only."""

from __future__ import annotations

import json
from typing import Any

from gitml.hashing import hash_bytes


def schema_fingerprint(fields: list[tuple[str, str, bool]]) -> str:
    """XXH3 of the ordered (name, type, nullable) list, as canonical JSON."""
    data = json.dumps([list(f) for f in fields], separators=(",", ":"), ensure_ascii=False)
    return hash_bytes(data.encode())


def parquet_meta(path: str) -> dict[str, Any]:
    """{format, rows, columns, schema} of a Parquet file, or {} when it is not one."""
    import pyarrow.parquet as pq  # heavy: imported only when a Parquet file is added

    try:
        md = pq.read_metadata(path)
        schema = md.schema.to_arrow_schema()
    except Exception:  # not Parquet after all: no metadata, still tracked
        return {}
    fields = [(f.name, str(f.type), bool(f.nullable)) for f in schema]
    return {"format": "parquet", "rows": int(md.num_rows), "columns": len(fields),
            "schema": schema_fingerprint(fields)}
