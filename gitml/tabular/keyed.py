"""The row comparison behind ``gitml data diff``: keyed (in memory or streamed) and keyless.

Each function returns a plain dict (rows, added/removed/modified/unchanged, changed
columns, samples, per-column stats of both sides) that :mod:`gitml.tabular.tablediff`
turns into a report.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gitml.tabular.hashing import hash_array, hash_rows
from gitml.tabular.io import Table
from gitml.tabular.matching import (
    IA,
    IB,
    _align_key_types,
    _flat,
    _join,
    _sorted,
    arange,
    check_key,
    match,
)
from gitml.tabular.stats import ColumnStats, plain

HA, HB = "\x00gitml_ha", "\x00gitml_hb"
GATHER_LIMIT = 1_000_000  # modified rows gathered for per-column counts when streaming


def _stats(t: pa.Table, into: dict[str, ColumnStats]) -> None:
    for f in t.schema:
        into.setdefault(f.name, ColumnStats(f.name, f.type)).update(t.column(f.name))


# -- comparing values -------------------------------------------------------------------
def not_equal(x: pa.Array, y: pa.Array) -> pa.Array:
    """True where two aligned arrays differ (null == null and NaN == NaN count as equal)."""
    t = x.type
    if pa.types.is_dictionary(t) and x.dictionary.equals(y.dictionary):
        x, y, t = x.indices, y.indices, x.indices.type  # one dictionary: compare codes
    elif pa.types.is_dictionary(t):
        x, y, t = pc.cast(x, t.value_type), pc.cast(y, t.value_type), t.value_type
    try:
        eq = pc.equal(x, y)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pc.not_equal(hash_array(x), hash_array(y))
    ne = pc.invert(pc.fill_null(eq, False))
    if x.null_count or y.null_count:
        ne = pc.and_not(ne, pc.and_(pc.is_null(x), pc.is_null(y)))
    if pa.types.is_floating(t):
        ne = pc.and_not(ne, pc.and_(pc.fill_null(pc.is_nan(x), False),
                                    pc.fill_null(pc.is_nan(y), False)))
    return ne


def _same_dictionary(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array
                     ) -> tuple[pa.Array, pa.Array]:
    """Both columns as single arrays; dictionary columns re-encoded on one dictionary."""
    if not (pa.types.is_dictionary(a.type) and a.type == b.type):
        return _flat(a), _flat(b)
    ca = a.chunks if isinstance(a, pa.ChunkedArray) else [a]
    cb = b.chunks if isinstance(b, pa.ChunkedArray) else [b]
    both = pa.table({"c": pa.chunked_array(ca + cb, a.type)}).unify_dictionaries()["c"]
    chunks = both.chunks
    return (pa.chunked_array(chunks[:len(ca)], a.type).combine_chunks(),
            pa.chunked_array(chunks[len(ca):], a.type).combine_chunks())


def _row(t: pa.Table, i: int) -> dict[str, Any]:
    return {k: plain(v[0]) for k, v in t.slice(i, 1).to_pydict().items()}


def _first_by_key(t: pa.Table, key: list[str], n: int) -> pa.Table:
    if t.num_rows == 0 or n <= 0:
        return t.slice(0, 0)
    k = min(n, t.num_rows)
    keys = [(c, "ascending") for c in key]
    try:
        return t.take(pc.select_k_unstable(t, k, sort_keys=keys)).sort_by(keys)
    except pa.ArrowNotImplementedError:
        return t.slice(0, k)


def _pick(x: pa.Array, sel: pa.Array | slice | None) -> pa.Array:
    if sel is None:
        return x
    if isinstance(sel, slice):
        return x.slice(sel.start, sel.stop - sel.start)
    return x.filter(sel) if pa.types.is_boolean(sel.type) else x.take(sel)


def _compare_pairs(ta: pa.Table, tb: pa.Table, ma: pa.Array | None, mb: pa.Array | None,
                   key: list[str], compared: list[str], samples: int,
                   sel: tuple[Any, Any] | None = None
                   ) -> tuple[int, dict[str, int], list[Any]]:
    """Row ma[i] of ta and mb[i] of tb are a matched pair (None: row i and row i).

    ``sel`` (from :func:`_selector`) picks the same rows as ``ma``/``mb`` more cheaply.
    Columns are compared in parallel threads; returns the number of modified pairs, the
    changed count per column and samples of modified rows (smallest keys first).
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    sel_a, sel_b = sel if sel is not None else (ma, mb)

    def one(c: str) -> tuple[str, pa.Array, int]:
        x, y = _same_dictionary(ta[c], tb[c])
        x, y = _pick(x, sel_a), _pick(y, sel_b)
        ne = not_equal(x, y)
        return c, ne, pc.sum(ne).as_py() or 0

    with ThreadPoolExecutor(max(1, min(len(compared), os.cpu_count() or 1))) as pool:
        results = list(pool.map(one, compared))
    masks = {c: ne for c, ne, cnt in results if cnt}
    changed = {c: cnt for c, _, cnt in results if cnt}
    if not masks:
        return 0, {}, []
    any_ne: Any = None
    for ne in masks.values():
        any_ne = ne if any_ne is None else pc.or_(any_ne, ne)
    modified = pc.sum(any_ne).as_py() or 0
    pos = pc.filter(arange(len(any_ne)), any_ne)
    rows_b = pos if mb is None else pc.take(mb, pos)
    keyed = tb.select(key).take(rows_b).append_column(IA, pos)
    out = []
    for i in _first_by_key(keyed, key, samples)[IA].to_pylist():
        ra = i if ma is None else ma[i].as_py()
        rb = i if mb is None else mb[i].as_py()
        entry: dict[str, Any] = {"key": {k: plain(tb[k][rb].as_py()) for k in key},
                                 "changes": {}}
        for c, mask in masks.items():
            if mask[i].as_py():
                entry["changes"][c] = {"old": plain(ta[c][ra].as_py()),
                                       "new": plain(tb[c][rb].as_py())}
        out.append(entry)
    return modified, changed, out


# -- keyed, in memory -------------------------------------------------------------------
def _parallel_stats(ta: pa.Table, tb: pa.Table) -> tuple[dict[str, ColumnStats],
                                                         dict[str, ColumnStats]]:
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(args: tuple[pa.Table, str]) -> ColumnStats:
        t, c = args
        cs = ColumnStats(c, t.schema.field(c).type)
        cs.update(t[c])
        return cs

    jobs = [(ta, c) for c in ta.column_names] + [(tb, c) for c in tb.column_names]
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        done = list(pool.map(one, jobs))
    na = ta.num_columns
    return {s.name: s for s in done[:na]}, {s.name: s for s in done[na:]}


def diff_in_memory(old: Table, new: Table, key: list[str], compared: list[str],
                   samples: int) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    encoded = [c for c in old.dictionary_columns() if c in new.dictionary_columns()
               and c not in key]
    ta, tb = old.read(dictionary=encoded), new.read(dictionary=encoded)  # each uses threads
    with ThreadPoolExecutor(1) as bg:  # stats run beside the key work
        stats = bg.submit(_parallel_stats, ta, tb)
        ka = ta.select(key)
        kb = _align_key_types(ka, tb.select(key), key, new.name)
        inc_a = check_key(ka, key, old.name)
        inc_b = check_key(kb, key, new.name)
        m = match(ka, kb, key, inc_a and inc_b)
        stats_a, stats_b = stats.result()
    ma, mb, only_a, only_b = m.ma, m.mb, m.only_a, m.only_b
    modified, changed, mod_samples = _compare_pairs(ta, tb, ma, mb, key, compared, samples,
                                                    (m.sel_a, m.sel_b))
    added_rows = _first_by_key(tb.take(only_b), key, samples)
    removed_rows = _first_by_key(ta.take(only_a), key, samples)
    return {"rows_old": ta.num_rows, "rows_new": tb.num_rows,
            "added": len(only_b), "removed": len(only_a), "modified": modified,
            "unchanged": len(ma) - modified, "changed_columns": changed,
            "samples": {"added": [_row(added_rows, i) for i in range(added_rows.num_rows)],
                        "removed": [_row(removed_rows, i)
                                    for i in range(removed_rows.num_rows)],
                        "modified": mod_samples},
            "stats_old": stats_a, "stats_new": stats_b}


# -- keyed, streamed --------------------------------------------------------------------
def _scan_side(t: Table, key: list[str], compared: list[str], stats: dict[str, ColumnStats],
               idx_name: str, hash_name: str) -> pa.Table:
    """Key columns, a hash of the compared columns and the row number, for every row."""
    parts = []
    offset = 0
    for chunk in t.chunks():
        _stats(chunk, stats)
        n = chunk.num_rows
        h = hash_rows([chunk[c] for c in compared], n)
        cols = [chunk[k] for k in key] + [pc.add(arange(n), offset), h]
        parts.append(pa.Table.from_arrays(cols, names=key + [idx_name, hash_name]))
        offset += n
    if not parts:
        schema = pa.schema([t.schema.field(k) for k in key]
                           + [pa.field(idx_name, pa.int64()), pa.field(hash_name, pa.uint64())])
        return schema.empty_table()
    return pa.concat_tables(parts)


def fetch_rows(t: Table, indices: pa.Array, columns: list[str] | None = None) -> pa.Table:
    """Rows at sorted, distinct row numbers ``indices``, in that order (one streaming pass)."""
    indices = _flat(indices)
    out = []
    offset = 0
    pos = 0
    total = len(indices)
    for chunk in t.chunks(columns):
        if pos >= total:
            break
        n = chunk.num_rows
        local = pc.subtract(indices, offset)
        sel = pc.filter(local, pc.and_(pc.greater_equal(local, 0), pc.less(local, n)))
        if len(sel):
            out.append(chunk.take(sel))
            pos += len(sel)
        offset += n
    schema = t._select(columns)
    return pa.concat_tables(out) if out else schema.empty_table()


def diff_streaming(old: Table, new: Table, key: list[str], compared: list[str],
                   samples: int) -> dict[str, Any]:
    stats_a: dict[str, ColumnStats] = {}
    stats_b: dict[str, ColumnStats] = {}
    sa = _scan_side(old, key, compared, stats_a, IA, HA)
    sb = _scan_side(new, key, compared, stats_b, IB, HB)
    sb = _align_key_types(sa, sb, key, new.name)
    check_key(sa.select(key), key, old.name)
    check_key(sb.select(key), key, new.name)
    j = _join(sa, sb, key)
    ia, ib = _flat(j[IA]), _flat(j[IB])
    both = pc.and_(pc.is_valid(ia), pc.is_valid(ib))
    diff = pc.and_(both, pc.not_equal(_flat(j[HA]), _flat(j[HB])))
    diff = pc.fill_null(diff, False)
    modified = pc.sum(diff).as_py() or 0
    matched = pc.sum(both).as_py() or 0
    changed: dict[str, int] = {}
    mod_samples: list[Any] = []
    if modified:
        pairs = pa.table({IA: pc.filter(ia, diff), IB: pc.filter(ib, diff)}).sort_by(IA)
        pairs = pairs.slice(0, GATHER_LIMIT)
        xa = fetch_rows(old, pairs[IA], key + compared)
        order_b = pc.sort_indices(pairs[IB])
        xb_sorted = fetch_rows(new, pc.take(pairs[IB], order_b), key + compared)
        pos_b = pc.index_in(pairs[IB], value_set=pc.take(pairs[IB], order_b))
        xb = xb_sorted.take(pos_b)
        _, changed, mod_samples = _compare_pairs(xa, xb, None, None, key, compared,
                                                 samples)
        if pairs.num_rows < modified:  # scale the sample's counts: marked as estimates
            scale = modified / pairs.num_rows
            changed = {c: round(v * scale) for c, v in changed.items()}
    added = _side_samples(new, j, key, ia, IB, samples)
    removed = _side_samples(old, j, key, ib, IA, samples)
    return {"rows_old": sa.num_rows, "rows_new": sb.num_rows,
            "added": added[0], "removed": removed[0], "modified": modified,
            "unchanged": matched - modified, "changed_columns": changed,
            "changed_columns_estimated": modified > GATHER_LIMIT,
            "samples": {"added": added[1], "removed": removed[1], "modified": mod_samples},
            "stats_old": stats_a, "stats_new": stats_b}


def _side_samples(t: Table, j: pa.Table, key: list[str], other: pa.Array, idx_name: str,
                  samples: int) -> tuple[int, list[dict[str, Any]]]:
    """Rows only on one side: how many, and the first few by key."""
    only = j.filter(pc.is_null(other)).select(key + [idx_name])
    first = _first_by_key(only, key, samples)
    rows = fetch_rows(t, _sorted(first[idx_name]) if first.num_rows else first[idx_name])
    keys = [(k, "ascending") for k in key]
    try:
        rows = rows.sort_by(keys)
    except pa.ArrowNotImplementedError:
        pass
    return only.num_rows, [_row(rows, i) for i in range(rows.num_rows)]


# -- keyless ----------------------------------------------------------------------------
def diff_multiset(old: Table, new: Table, compared: list[str], samples: int
                  ) -> dict[str, Any]:
    stats_a: dict[str, ColumnStats] = {}
    stats_b: dict[str, ColumnStats] = {}
    ha = _hash_side(old, compared, stats_a)
    hb = _hash_side(new, compared, stats_b)
    ca = _counts(ha, "a")
    cb = _counts(hb, "b")
    j = ca.join(cb, "h", join_type="full outer")
    na = pc.fill_null(_flat(j["a"]), 0)
    nb = pc.fill_null(_flat(j["b"]), 0)
    delta = pc.subtract(nb, na)
    added = pc.sum(pc.max_element_wise(delta, 0)).as_py() or 0
    removed = pc.sum(pc.max_element_wise(pc.negate(delta), 0)).as_py() or 0
    unchanged = pc.sum(pc.min_element_wise(na, nb)).as_py() or 0
    h = _flat(j["h"])
    more_b = pa.table({"h": pc.filter(h, pc.greater(delta, 0)),
                       "n": pc.filter(delta, pc.greater(delta, 0))})
    more_a = pa.table({"h": pc.filter(h, pc.less(delta, 0)),
                       "n": pc.negate(pc.filter(delta, pc.less(delta, 0)))})
    return {"rows_old": len(ha), "rows_new": len(hb), "added": added, "removed": removed,
            "unchanged": unchanged,
            "samples": {"added": _hash_samples(new, hb, more_b, samples),
                        "removed": _hash_samples(old, ha, more_a, samples)},
            "stats_old": stats_a, "stats_new": stats_b}


def _hash_side(t: Table, compared: list[str], stats: dict[str, ColumnStats]) -> pa.Array:
    parts = []
    for chunk in t.chunks():
        _stats(chunk, stats)
        parts.append(hash_rows([chunk[c] for c in compared], chunk.num_rows))
    return pa.concat_arrays(parts) if parts else pa.array([], pa.uint64())


def _counts(h: pa.Array, name: str) -> pa.Table:
    vc = pc.value_counts(h)
    return pa.table({"h": vc.field(0), name: pc.cast(vc.field(1), pa.int64())})


def _hash_samples(t: Table, hashes: pa.Array, wanted: pa.Table, samples: int
                  ) -> list[dict[str, Any]]:
    """The first rows of ``t`` whose hash has an excess, each shown as often as its excess."""
    if wanted.num_rows == 0 or samples <= 0:
        return []
    excess = dict(zip(wanted["h"].to_pylist(), wanted["n"].to_pylist(), strict=True))
    cand = pc.filter(arange(len(hashes)), pc.is_in(hashes, value_set=wanted["h"]))
    cand = cand.slice(0, samples * 1000)
    chosen = []
    for i, h in zip(cand.to_pylist(), pc.take(hashes, cand).to_pylist(), strict=True):
        if excess.get(h, 0) > 0:
            excess[h] -= 1
            chosen.append(i)
            if len(chosen) == samples:
                break
    rows = fetch_rows(t, pa.array(chosen, pa.int64()))
    return [_row(rows, i) for i in range(rows.num_rows)]
