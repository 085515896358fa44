"""Matching rows of two tables by key, and the array helpers the diff shares.

Keys must be present and unique (:func:`check_key` says how many are not). Strictly
increasing keys are matched window by window (dense integers without any hash table);
others through one Arrow hash join.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gitml.errors import BadInputError

IA, IB = "\x00gitml_a", "\x00gitml_b"


def arange(n: int) -> pa.Array:
    if n == 0:
        return pa.array([], pa.int64())
    return pc.subtract(pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1)), 1)


def _sorted(a: pa.Array) -> pa.Array:
    a = _flat(a)
    return pc.take(a, pc.sort_indices(a))


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


# -- keys -------------------------------------------------------------------------------
def _align_key_types(ka: pa.Table, kb: pa.Table, key: list[str], name: str) -> pa.Table:
    for k in key:
        ta, tb = ka.schema.field(k).type, kb.schema.field(k).type
        if ta != tb:
            try:
                kb = kb.set_column(kb.schema.get_field_index(k), k, kb[k].cast(ta))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise BadInputError(f"key column {k!r} is {ta} in one table and {tb} in "
                                    f"{name}; they cannot be matched") from None
    return kb


def _increasing(col: pa.Array) -> bool:
    """Strictly increasing (so unique, and matchable window by window without a join)."""
    if len(col) < 2:
        return True
    try:
        return bool(pc.all(pc.greater(col.slice(1), col.slice(0, len(col) - 1))).as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return False


def check_key(keys: pa.Table, key: list[str], name: str) -> bool:
    """Key values must be present and unique: say how many are not.

    Returns True when a single key column is strictly increasing.
    """
    for k in key:
        nulls = keys[k].null_count
        if nulls:
            raise BadInputError(f"key column {k!r} has {nulls:,} null value(s) in {name}")
    if len(key) == 1:
        col = _flat(keys[key[0]])
        if _increasing(col):
            return True
        vc = pc.value_counts(col)
        dup = pc.filter(vc, pc.greater(vc.field(1), 1))
        values = dup.field(0)
        counts = dup.field(1)
    else:
        g = keys.select(key).group_by(key).aggregate(
            [(key[0], "count", pc.CountOptions(mode="all"))])
        dup = g.filter(pc.greater(g[f"{key[0]}_count"], 1))
        values = pc.binary_join_element_wise(*[pc.cast(dup[k], pa.string()) for k in key], "/")
        counts = dup[f"{key[0]}_count"]
    if len(values):
        n = len(values)
        rows = pc.sum(counts).as_py()
        examples = ", ".join(str(v) for v in values.slice(0, 3).to_pylist())
        raise BadInputError(f"key {'+'.join(key)} is not unique in {name}: {n:,} duplicate "
                            f"value(s) in {rows:,} rows (e.g. {examples})")
    return False


def _join(ka: pa.Table, kb: pa.Table, key: list[str]) -> pa.Table:
    return ka.join(kb, key, join_type="full outer", coalesce_keys=True, use_threads=True)


class _Seq:
    """An Arrow array as a Python sequence, for :mod:`bisect`."""

    def __init__(self, a: pa.Array) -> None:
        self.a = a

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> Any:
        return self.a[i].as_py()


MATCH_WINDOW = 1 << 16  # rows of a per window for hash matching (tables stay in cache)
INT_WINDOW = 1 << 18  # for integer keys, usually matched without hashing (see _locate)
_EMPTY = pa.array([], pa.int64())


@dataclass
class Match:
    """Rows matched by key: ``ma[i]`` of a pairs with ``mb[i]`` of b (both increasing in a's
    order); rows only on one side; and for each side a cheap way to pick the matched rows
    in that order (None: every row; a boolean mask; or row numbers to take)."""

    ma: pa.Array
    mb: pa.Array
    only_a: pa.Array
    only_b: pa.Array
    sel_a: pa.Array | slice | None
    sel_b: pa.Array | slice | None


def match(ta: pa.Table, tb: pa.Table, key: list[str], sorted_keys: bool) -> Match:
    """Match rows by key.

    With both key columns strictly increasing, windows of rows of ``a`` are matched
    against the rows of ``b`` in the same key range: identical windows are skipped, dense
    integer keys are located without hashing, others through small hash tables that stay
    in cache. Otherwise one hash join.
    """
    if not sorted_keys or len(key) != 1:
        j = _join(ta.select(key).append_column(IA, arange(ta.num_rows)),
                  tb.select(key).append_column(IB, arange(tb.num_rows)), key)
        ia, ib = _flat(j[IA]), _flat(j[IB])
        both = pc.and_(pc.is_valid(ia), pc.is_valid(ib))
        order = pc.sort_indices(pc.filter(ia, both))  # sequential takes later
        ma, mb = pc.take(pc.filter(ia, both), order), pc.take(pc.filter(ib, both), order)
        only_a = _sorted(pc.filter(ia, pc.is_null(ib)))
        only_b = _sorted(pc.filter(ib, pc.is_null(ia)))
        return Match(ma, mb, only_a, only_b, _selector(ma, ta.num_rows, only_a),
                     _selector(mb, tb.num_rows, only_b))
    import bisect

    ka, kb = _flat(ta[key[0]]), _flat(tb[key[0]])
    integer = pa.types.is_integer(ka.type)
    if integer:
        ka, kb = pc.cast(ka, pa.int64()), pc.cast(kb, pa.int64())
    seq_b = _Seq(kb)
    windows = []  # (a start, a length, b start, b end)
    bpos = 0
    step = INT_WINDOW if integer else MATCH_WINDOW
    for s in range(0, len(ka), step):
        n = min(step, len(ka) - s)
        last = s + n >= len(ka)
        bend = len(kb) if last else bisect.bisect_right(seq_b, ka[s + n - 1].as_py(), lo=bpos)
        windows.append((s, n, bpos, bend))
        bpos = bend

    def one(w: tuple[int, int, int, int]) -> tuple[pa.Array, ...]:
        """(matched a, matched b, only a, only b, a mask, b mask) of one window."""
        s, n, b0, b1 = w
        wa, wb = ka.slice(s, n), kb.slice(b0, b1 - b0)
        if n == len(wb) and pc.all(pc.equal(wa, wb)).as_py():
            every = _true(n)
            return pc.add(arange(n), s), pc.add(arange(n), b0), _EMPTY, _EMPTY, every, every
        dense = _dense_range(wa, wb) if integer else None
        if dense is not None:
            pos, found = _locate(wa, wb, *dense)
        else:
            pos = pc.index_in(wb, value_set=wa)
            found = pc.is_valid(pos)
        rb = arange(len(wb))
        matched_a = pc.add(pc.cast(pc.filter(pos, found), pa.int64()), s)
        only_b = pc.add(pc.filter(rb, pc.invert(found)), b0)
        if len(matched_a) == n:
            only_a, in_b = _EMPTY, _true(n)
        else:
            in_b = (_locate(wb, wa, *dense)[1] if dense is not None
                    else pc.is_in(wa, value_set=wb))
            only_a = pc.add(pc.filter(arange(n), pc.invert(in_b)), s)
        return matched_a, pc.add(pc.filter(rb, found), b0), only_a, only_b, in_b, found

    # sequential: the steps are too small for threads (they would fight over the GIL)
    parts = [one(w) for w in windows]
    if bpos < len(kb):
        rest = len(kb) - bpos
        parts.append((_EMPTY, _EMPTY, _EMPTY, pc.add(arange(rest), bpos), _true(0),
                      pc.invert(_true(rest))))

    def cat(i: int, t: pa.DataType = pa.int64()) -> pa.Array:
        xs = [p[i] for p in parts]
        return pa.concat_arrays(xs) if xs else pa.array([], t)

    only_a, only_b = cat(2), cat(3)
    sel_a = _tail_cut(only_a, len(ka)) or cat(4, pa.bool_())
    sel_b = _tail_cut(only_b, len(kb)) or cat(5, pa.bool_())
    return Match(cat(0), cat(1), only_a, only_b, sel_a, sel_b)


def _tail_cut(only: pa.Array, n: int) -> slice | None:
    """When the unmatched rows (sorted) are exactly the last ones (rows appended to a
    table), the matched rows are a zero-copy slice; none unmatched: every row."""
    if len(only) == 0:
        return slice(0, n)
    if only[0].as_py() == n - len(only):
        return slice(0, n - len(only))
    return None


_NULLS: list[pa.Array] = []


def _dense_range(wa: pa.Array, wb: pa.Array) -> tuple[int, int] | None:
    """(lowest key, key range) when two sorted integer windows are dense enough to index."""
    if not len(wa) or not len(wb):
        return None
    lo = min(wa[0].as_py(), wb[0].as_py())
    span = max(wa[-1].as_py(), wb[-1].as_py()) - lo + 1
    if span > 4 * (len(wa) + len(wb)) or span >= 1 << 31:
        return None
    return lo, span


def _locate(wa: pa.Array, wb: pa.Array, lo: int, span: int) -> tuple[pa.Array, pa.Array]:
    """(index in ``wa`` or null, found) for each key of ``wb``; both sorted unique ints.

    No hash table: list i of a list array with offsets ``wa - lo`` spans the keys from
    ``wa[i]`` up to the next key, so ``list_parent_indices`` maps any key in the range to
    the last key of ``wa`` at or below it; it is a match when that key is equal.
    """
    if not _NULLS or len(_NULLS[0]) < span:
        _NULLS[:] = [pa.nulls(max(span, 1 << 18))]
    offsets = pa.concat_arrays([pa.array([0], pa.int32()),
                                pc.cast(pc.subtract(wa, lo), pa.int32()),
                                pa.array([span], pa.int32())])
    parent = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, _NULLS[0].slice(0, span)))
    cand = pc.subtract(pc.take(parent, pc.subtract(wb, lo)), 1)
    hit = pc.and_(pc.greater_equal(cand, 0),
                  pc.equal(pc.take(wa, pc.max_element_wise(cand, 0)), wb))
    return pc.if_else(hit, cand, pa.scalar(None, pa.int64())), hit


def _true(n: int) -> pa.Array:
    return pa.nulls(n, pa.bool_()).fill_null(True)


def _selector(rows: pa.Array, n: int, others: pa.Array) -> pa.Array | None:
    """How to pick ``rows`` (row numbers of a table of ``n`` rows, ``others`` the rest).

    None when that is every row in order, a boolean mask when ``rows`` is increasing (a
    filter copies runs, much cheaper than a take of each value), else ``rows`` to take.
    """
    if len(rows) == n and len(others) == 0 and _increasing(rows):
        return None
    if _increasing(rows):
        return pc.invert(pc.is_in(arange(n), value_set=others))
    return rows
