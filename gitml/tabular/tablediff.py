"""``gitml data diff``: what changed inside a table between two versions.

Schema changes (added, removed, retyped columns), row counts and per-column statistics
before and after, then rows:

- with a key: rows added, removed and modified (a value differs in a column both sides
  have with the same type), which columns changed and sample rows. Two tables that fit in
  the memory budget (``GITML_DATA_MEMORY``, MiB, default 2048, decoded size of both) are
  joined in memory with Arrow's hash join; larger ones are streamed twice, keeping only the
  key, a 64-bit hash of the other columns and a row number per row;
- without a key: a multiset comparison of whole rows through 64-bit row hashes (rows
  only in the old table are removed, only in the new one added).

A retyped column is a schema change and is left out of the value comparison.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError

if TYPE_CHECKING:
    import pyarrow as pa

    from gitml.tabular.io import Table

SAMPLES = 5


@dataclass
class TableDiff:
    old: str
    new: str
    rows_old: int
    rows_new: int
    schema: dict[str, list[dict[str, str]]]
    key: list[str] | None
    compared: list[str]
    added: int = 0
    removed: int = 0
    modified: int = 0
    unchanged: int = 0
    changed_columns: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[Any]] = field(default_factory=dict)
    columns: list[dict[str, Any]] = field(default_factory=list)
    estimated: bool = False  # changed-column counts scaled from a sample (streamed, huge)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.modified
                    or any(self.schema.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new,
                "rows": {"old": self.rows_old, "new": self.rows_new},
                "schema": self.schema, "key": self.key, "compared_columns": self.compared,
                "rows_added": self.added, "rows_removed": self.removed,
                "rows_modified": self.modified, "rows_unchanged": self.unchanged,
                "changed_columns": self.changed_columns,
                **({"changed_columns_estimated": True} if self.estimated else {}),
                "samples": self.samples, "columns": self.columns}


def memory_budget() -> int:
    raw = os.environ.get("GITML_DATA_MEMORY", "2048")
    try:
        return int(float(raw) * (1 << 20))
    except ValueError:
        raise BadInputError(f"GITML_DATA_MEMORY must be a number of MiB, not {raw!r}") from None


def diff(old: Table, new: Table, key: list[str] | None = None,
         samples: int = SAMPLES) -> TableDiff:
    """Compare two tables (see :func:`gitml.tabular.io.open_table`)."""
    sa, sb = old.schema, new.schema
    schema = _schema_changes(sa, sb)
    retyped = {c["name"] for c in schema["retyped"]}
    common = [n for n in sa.names if n in sb.names and n not in retyped]
    if key:
        for k in key:
            for t, s in ((old, sa), (new, sb)):
                if k not in s.names:
                    raise BadInputError(f"key column {k!r} is missing in {t.name} "
                                        f"(columns: {', '.join(s.names)})")
        compared = [c for c in common if c not in key]
        fits = old.nbytes_estimate + new.nbytes_estimate <= memory_budget()
        if fits:
            from gitml.tabular.keyed import diff_in_memory as run
        else:
            from gitml.tabular.keyed import diff_streaming as run
        result = run(old, new, key, compared, samples)
    else:
        compared = common
        from gitml.tabular.keyed import diff_multiset

        result = diff_multiset(old, new, compared, samples)
    out = TableDiff(old.name, new.name, result["rows_old"], result["rows_new"], schema,
                    key, compared, result["added"], result["removed"],
                    result.get("modified", 0), result["unchanged"],
                    result.get("changed_columns", {}), result["samples"])
    out.columns = _column_stats(result["stats_old"], result["stats_new"], sa, sb)
    out.estimated = bool(result.get("changed_columns_estimated"))
    return out


def _schema_changes(sa: pa.Schema, sb: pa.Schema) -> dict[str, list[dict[str, str]]]:
    added = [{"name": f.name, "type": str(f.type)} for f in sb if f.name not in sa.names]
    removed = [{"name": f.name, "type": str(f.type)} for f in sa if f.name not in sb.names]
    retyped = [{"name": f.name, "old": str(f.type), "new": str(sb.field(f.name).type)}
               for f in sa if f.name in sb.names and sb.field(f.name).type != f.type]
    return {"added": added, "removed": removed, "retyped": retyped}


def _column_stats(old: dict[str, Any], new: dict[str, Any], sa: pa.Schema, sb: pa.Schema
                  ) -> list[dict[str, Any]]:
    names = list(sa.names) + [n for n in sb.names if n not in sa.names]
    out = []
    for n in names:
        o, w = old.get(n), new.get(n)
        out.append({"name": n, "old": o.to_dict() if o else None,
                    "new": w.to_dict() if w else None})
    return out
