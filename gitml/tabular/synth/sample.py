"""Drawing synthetic rows from a fitted model.

Normal vectors with the model's correlation become uniform scores (``Φ``), then values
through each column's inverse CDF. A drawn row equal to a source row on every modelled
column is drawn again (up to ``ROUNDS`` times), so that no source row is copied; keys are
new values none of which occurs in the source; replacement rules fill kept text columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError
from gitml.tabular.synth.columns import OTHER, Column, to_arrow

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from gitml.tabular.synth.model import Marginal, Model

ROUNDS = 20


def draw(model: Model, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` normal vectors with the model's correlation (rows x modelled columns)."""
    import numpy as np

    d = len(model.corr)
    g = rng.standard_normal((d, n))  # a row per dimension: contiguous columns below
    z = np.zeros((d, n))
    for i in range(d):  # z = chol @ g, in a fixed order of sums (see model.py)
        for j in range(i + 1):
            z[i] += g[j] * model.chol[i, j]
    return z.T


def decode(model: Model, z: np.ndarray) -> dict[str, pa.Array]:
    """The modelled columns' values for normal vectors ``z``."""
    from scipy.special import ndtr

    u = ndtr(z)
    return {m.column.name: _values(m, u) for m in model.marginals}


def _values(m: Marginal, u: np.ndarray) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    if m.is_number:
        valid = u[:, m.null_dim] >= m.p_null if m.null_dim is not None else \
            np.ones(len(u), dtype=bool)
        pos = u[:, m.dim] * (len(m.grid) - 1)  # the quantile grid is evenly spaced
        lo = np.minimum(pos.astype(np.int64), len(m.grid) - 2) if len(m.grid) > 1 else \
            np.zeros(len(pos), np.int64)
        hi = np.minimum(lo + 1, len(m.grid) - 1)
        vals = m.grid[lo] + (pos - lo) * (m.grid[hi] - m.grid[lo])
        return to_arrow(vals, valid, m.column)
    cum = np.cumsum(m.probs)
    codes = np.minimum(np.searchsorted(cum, u[:, m.dim] * cum[-1], "right"), len(m.levels) - 1)
    c = m.column
    vt = c.value_type
    nulls = np.array([v is None for v in m.levels])
    values = pa.array([(False if pa.types.is_boolean(vt) else "") if v is None else v
                       for v in m.levels], vt)
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32),
                                                  mask=nulls[codes]), values)
    plain = arr.cast(vt)
    return plain.dictionary_encode().cast(c.type) if pa.types.is_dictionary(c.type) else plain


def row_hashes(cols: list[pa.Array | pa.ChunkedArray], n: int) -> pa.Array:
    from gitml.tabular.hashing import hash_rows

    return hash_rows(cols, n)


def sample(model: Model, n: int, seed: int, source: pa.Table, forbid: pa.Array | None
           ) -> pa.Table:
    """``n`` synthetic rows; ``forbid``: hashes of the source rows over the modelled columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, 2])
    z = draw(model, rng, n)
    names = model.names
    if forbid is not None and names and n:
        rows = np.arange(n)
        for _ in range(ROUNDS):
            vals = decode(model, z[rows])
            copies = pc.is_in(row_hashes([vals[c] for c in names], len(rows)), value_set=forbid)
            rows = rows[np.asarray(copies.to_numpy(zero_copy_only=False), dtype=bool)]
            if not len(rows):
                break
            z[rows] = draw(model, rng, len(rows))
    values = decode(model, z)
    out = []
    for c in model.columns:
        if c.name in values:
            out.append(values[c.name])
        elif c.kind == "key":
            out.append(new_keys(c, source[c.name], n))
        elif c.kind == "replace" and c.rule.startswith("template:"):
            out.append(_template(c, c.rule[len("template:"):], n))
        else:  # null columns, and text kept as nulls
            out.append(pa.nulls(n, c.type))
    schema = pa.schema([source.schema.field(c.name).remove_metadata() for c in model.columns])
    return pa.Table.from_arrays(out, schema=schema)


def _numbers(start: int, n: int) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitml.tabular.matching import arange

    return pc.add(arange(n), pa.scalar(start, pa.int64()))


def new_keys(c: Column, existing: pa.ChunkedArray, n: int) -> pa.Array:
    """``n`` unique key values, none of which is a source key: integers continue after the
    source's largest (or end below its smallest), strings are ``syn-000001`` and on."""
    import pyarrow as pa
    import pyarrow.compute as pc

    vt = c.value_type
    if pa.types.is_integer(vt):
        lo, hi = _bounds(vt)
        mm = pc.min_max(existing.cast(vt) if existing.type != vt else existing).as_py()
        smin, smax = mm["min"], mm["max"]
        if smax is None:  # no source key at all
            start = 1 if n <= hi else lo
        elif smax + n <= hi:
            start = smax + 1
        elif smin - n >= lo:
            start = smin - n
        else:
            raise BadInputError(f"--key {c.name}: {vt} has no room for {n:,} new values "
                                f"outside the source's {smin}..{smax}")
        arr = _numbers(start, n).cast(vt)
    else:
        width = len(str(max(n, 1)))
        nums = pc.utf8_lpad(pc.cast(_numbers(1, n), pa.string()), width=width, padding="0")
        src = existing.cast(vt) if existing.type != vt else existing
        for i in range(1000):
            prefix = "syn-" if i == 0 else f"syn{i}-"
            arr = pc.binary_join_element_wise(prefix, nums, "").cast(vt)
            if not pc.any(pc.is_in(arr, value_set=pc.unique(src))).as_py():
                break
    return arr.dictionary_encode().cast(c.type) if pa.types.is_dictionary(c.type) else arr


def _bounds(t: pa.DataType) -> tuple[int, int]:
    import pyarrow as pa

    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _template(c: Column, text: str, n: int) -> pa.Array:
    """``text`` with each ``{n}`` replaced by the row number (from 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = []
    pieces = text.split("{n}")
    nums = pc.cast(_numbers(1, n), pa.string())
    for i, piece in enumerate(pieces):
        if i:
            parts.append(nums)
        parts.append(piece)
    arr = pc.binary_join_element_wise(*parts, "") if len(pieces) > 1 else \
        pa.array([text] * n, pa.string())
    vt = c.value_type
    arr = arr.cast(vt)
    return arr.dictionary_encode().cast(c.type) if pa.types.is_dictionary(c.type) else arr


__all__ = ["OTHER", "decode", "draw", "new_keys", "sample"]
