"""Vectorised 64-bit hashes of Arrow arrays, with pyarrow compute only (no per-value Python).

Used for approximate distinct counts, duplicate rows, the keyless multiset diff and
hash partitioning. Equal values hash equally whatever array, chunk or offset they sit
in; different values collide with probability about 2**-64 (not cryptographic).

- numbers, booleans and temporal values: their 64-bit integer form through splitmix64;
  floats are normalised first (-0.0 == 0.0, one NaN);
- strings and binaries: a polynomial over the bytes modulo 2**64,
  ``sum((b_k + 1) * P**k)``, computed for a whole array with one cumulative sum and a
  multiplication by ``P**-start`` (P is odd, so it has an inverse modulo 2**64);
- dictionaries hash their dictionary once; structs combine their fields; anything
  else falls back to hashing each value's text.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

U64 = pa.uint64()
_M1 = pa.scalar(0xBF58476D1CE4E5B9, U64)
_M2 = pa.scalar(0x94D049BB133111EB, U64)
_GOLD = 0x9E3779B97F4A7C15
_P = 0x100000001B3 * 2 + 0x3F  # odd, P % 4 == 3: no short collisions like "ab"/"ba"
_Q = pow(_P, -1, 1 << 64)  # P's inverse modulo 2**64
NULL_HASH = 0x5BD1E9955BD1E995
_powers: dict[int, tuple[pa.Array, pa.Array]] = {}


def mix(x: Any) -> Any:
    """A bijective 64-bit finaliser (multiply, xor-shift, multiply, xor-shift; wrapping).

    Bijective, so distinct 64-bit inputs never collide; the high bits, which the sketches
    and the partitioning use, depend on every input bit.
    """
    x = pc.multiply(x, _M1)
    x = pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(32, U64)))
    x = pc.multiply(x, _M2)
    return pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(29, U64)))


def combine(h: Any, other: Any) -> Any:
    """``h * GOLD + other``: order-dependent; :func:`hash_rows` mixes the sum once at the end.

    The column hashes are already mixed, so a collision of two different rows needs the
    weighted sums of their column hashes to agree modulo 2**64 (about 2**-64).
    """
    return pc.add(pc.multiply(h, pa.scalar(_GOLD, U64)), other)


def hash_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A uint64 hash per value (nulls get one fixed hash)."""
    if isinstance(arr, pa.ChunkedArray):
        if pa.types.is_dictionary(arr.type) and arr.num_chunks > 1:
            return _hash_dict_chunks(arr)
        chunks = [hash_array(c) for c in arr.chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], U64)
    h = _hash(arr)
    if arr.null_count:
        h = pc.if_else(arr.is_valid(), h, pa.scalar(NULL_HASH, U64))
    return h


def _hash_dict_chunks(arr: pa.ChunkedArray) -> pa.Array:
    """Chunks often share one dictionary: hash it once, not once per chunk."""
    out = []
    last: tuple[pa.Array, pa.Array] | None = None
    for c in arr.chunks:
        if last is None or not (c.dictionary is last[0] or c.dictionary.equals(last[0])):
            last = (c.dictionary, hash_array(c.dictionary))
        h = pc.take(last[1], c.indices)
        if c.null_count:
            h = pc.if_else(c.is_valid(), h, pa.scalar(NULL_HASH, U64))
        out.append(h)
    return pa.concat_arrays(out)


def hash_rows(columns: list[pa.Array | pa.ChunkedArray], n: int) -> pa.Array:
    """One hash per row over ``columns`` (in order)."""
    h: Any = pa.nulls(n, U64).fill_null(_GOLD)
    for col in columns:
        h = combine(h, hash_array(col))
    return mix(h)


def _hash(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), U64).fill_null(NULL_HASH)
    if pa.types.is_dictionary(t):
        values = hash_array(arr.dictionary)
        return pc.take(values, arr.indices)
    if pa.types.is_boolean(t) or (pa.types.is_integer(t) and t.bit_width < 64):
        return mix(pc.cast(arr, pa.int64()).view(U64))
    if pa.types.is_integer(t):
        return mix(arr.view(U64))
    if pa.types.is_floating(t):
        x = pc.add(pc.cast(arr, pa.float64()), 0.0)  # -0.0 + 0.0 == +0.0
        x = pc.if_else(pc.is_nan(x), float("nan"), x)
        return mix(pc.fill_null(x, 0.0).view(U64))
    if pa.types.is_temporal(t):
        width = 32 if pa.types.is_date32(t) or pa.types.is_time32(t) else 64
        ints = arr.view(pa.int32() if width == 32 else pa.int64())
        return mix(pc.cast(ints, pa.int64()).view(U64))
    if pa.types.is_string(t) or pa.types.is_binary(t):
        return _hash_bytes(arr, large=False)
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return _hash_bytes(arr, large=True)
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        return _hash_bytes(pc.cast(arr, pa.large_binary()), large=True)
    if pa.types.is_decimal(t):
        return _hash_bytes(pc.cast(arr, pa.large_string()), large=True)
    if pa.types.is_struct(t):
        h = pa.nulls(len(arr), U64).fill_null(_GOLD ^ 1)
        for i in range(t.num_fields):
            h = combine(h, hash_array(arr.field(i)))
        return mix(h)
    return _hash_python(arr)


_SLICE_BYTES = 1 << 20  # bytes hashed per step: small temporaries, a small power table


def _hash_bytes(arr: pa.Array, *, large: bool) -> pa.Array:
    """Hash slices of about ``_SLICE_BYTES`` of string data each."""
    n = len(arr)
    size = _data_size(arr, large)
    if size <= 2 * _SLICE_BYTES or n < 2:
        return _hash_bytes_slice(arr, large=large)
    step = max(1, n * _SLICE_BYTES // size)
    return pa.concat_arrays([_hash_bytes_slice(arr.slice(i, step), large=large)
                             for i in range(0, n, step)])


def _data_size(arr: pa.Array, large: bool) -> int:
    if len(arr) == 0:
        return 0
    off_type = pa.int64() if large else pa.int32()
    offsets = pa.Array.from_buffers(off_type, len(arr) + 1, [None, arr.buffers()[1]],
                                    offset=arr.offset)
    return int(offsets[-1].as_py() - offsets[0].as_py())


def _hash_bytes_slice(arr: pa.Array, *, large: bool) -> pa.Array:
    n = len(arr)
    bufs = arr.buffers()
    off_type = pa.int64() if large else pa.int32()
    offsets = pa.Array.from_buffers(off_type, n + 1, [None, bufs[1]], offset=arr.offset)
    offsets = pc.cast(offsets, pa.int64())
    start = offsets[0].as_py() if n else 0
    end = offsets[-1].as_py() if n else 0
    size = end - start
    rel = pc.subtract(offsets, start)
    lengths = pc.subtract(rel.slice(1), rel.slice(0, n))
    if size == 0 or bufs[2] is None:
        return mix(pc.add(pc.cast(lengths, U64), pa.scalar(_GOLD, U64)))
    data = pa.Array.from_buffers(pa.uint8(), size, [None, bufs[2]], offset=start)
    pw, inv = _power_tables(size + 1)
    # G[k] = sum_{i<k} (b_i + 1) * P**i; a string's sum is (G[end] - G[start]) * P**-start
    terms = pc.multiply(pc.add(pc.cast(data, U64), pa.scalar(1, U64)), pw.slice(0, size))
    g = pa.concat_arrays([pa.array([0], U64), pc.cumulative_sum(terms)])
    starts, ends = rel.slice(0, n), rel.slice(1)
    seg = pc.subtract(pc.take(g, ends), pc.take(g, starts))
    seg = pc.multiply(seg, pc.take(inv, starts))
    return mix(pc.bit_wise_xor(seg, mix(pc.add(pc.cast(lengths, U64),
                                                 pa.scalar(_GOLD, U64)))))


def _power_tables(size: int) -> tuple[pa.Array, pa.Array]:
    """(P**k, P**-k) for k < size, cached and grown by doubling."""
    have = max(_powers, default=0)
    if have < size:
        n = max(size, have * 2, 1 << 16)
        pw = pc.cumulative_prod(pa.nulls(n, U64).fill_null(_P))
        inv = pc.cumulative_prod(pa.nulls(n, U64).fill_null(_Q))
        one = pa.array([1], U64)  # index 0 is P**0
        _powers.clear()
        _powers[n] = (pa.concat_arrays([one, pw.slice(0, n - 1)]),
                      pa.concat_arrays([one, inv.slice(0, n - 1)]))
        have = n
    return _powers[have]


def _hash_python(arr: pa.Array) -> pa.Array:
    """Rare types (lists, maps, unions): hash each value's canonical text."""
    import json

    import xxhash

    out = []
    for v in arr.to_pylist():
        text = json.dumps(v, sort_keys=True, default=str, separators=(",", ":"))
        out.append(xxhash.xxh3_64_intdigest(text.encode()))
    return pa.array(out, U64)
