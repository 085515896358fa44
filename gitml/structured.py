"""Params and metrics files: parse JSON, YAML, TOML, CSV/TSV and flatten to dotted keys."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from gitml.errors import FormatError

FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
           ".csv": "csv", ".tsv": "tsv"}
MAX_BYTES = 64 << 20  # CSV/TSV; JSON, YAML and TOML: also gitml.yamlio's limit of their kind


def format_of(path: str) -> str | None:
    for ext, fmt in FORMATS.items():
        if path.lower().endswith(ext):
            return fmt
    return None


def bounded_text(data: bytes, source: str, too_big: str, limit: int = MAX_BYTES) -> str:
    """``data`` as text (UTF-8, a BOM dropped); FormatError ``too_big`` past ``limit``."""
    if len(data) > limit:
        raise FormatError(source, too_big)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(source, "not UTF-8 text") from None


def parse(data: bytes, path: str, source: str | None = None) -> Any:
    """Parse ``data`` by the extension of ``path``; errors name ``source`` (e.g. file@rev)."""
    src = source or path
    fmt = format_of(path)
    if fmt is None:
        raise FormatError(src, "unknown format (use .json, .yaml, .yml, .toml, .csv or .tsv)")
    text = bounded_text(data, src, f"file is larger than {MAX_BYTES >> 20} MiB; not read")
    if fmt not in ("csv", "tsv"):
        from gitml import yamlio

        return yamlio.loads(text, src, "values", fmt) or {}
    try:
        return _table(text, "\t" if fmt == "tsv" else ",")
    except (ValueError, TypeError, csv.Error) as e:
        raise FormatError(src, f"cannot parse {fmt.upper()}: {e}") from None


def _table(text: str, delim: str) -> dict[str, Any]:
    """A metrics table: header + rows; the last row holds the values."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    rows = [r for r in rows if r]
    if not rows:
        return {}
    header, last = rows[0], rows[-1] if len(rows) > 1 else []
    if len(rows) > 1 and len(last) != len(header):
        raise ValueError(f"last row has {len(last)} fields, header has {len(header)}")
    return {h: _scalar(v) for h, v in zip(header, last, strict=False)}


def _scalar(v: str) -> Any:
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
        return f if math.isfinite(f) or v.lower() in ("nan", "inf", "-inf") else v
    except ValueError:
        return v


def flatten(obj: Any, prefix: str = "", limit: int | None = None) -> dict[str, Any]:
    """Nested mappings to dotted keys (``val.acc``); list items get an index (``a.0``).

    With ``limit``, more than that many entries raise ValueError before memory fills up.
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, obj)]
    pushed = 0
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict | list) and value:
            pushed += len(value)
            if limit is not None and pushed > limit:
                raise ValueError(f"more than {limit:,} values")
        if isinstance(value, dict) and value:
            for k, v in reversed(list(value.items())):
                stack.append((f"{key}.{k}" if key else str(k), v))
        elif isinstance(value, list) and value:
            for i in range(len(value) - 1, -1, -1):
                stack.append((f"{key}.{i}" if key else str(i), value[i]))
        elif key:
            out[key] = value
    return out
