"""``gitml monitor drift``: how far current data moved from a reference, column by column.

- numbers (and dates, timestamps): PSI over quantile bins fixed from the reference and
  the two-sample Kolmogorov-Smirnov statistic; both from a uniform sample of up to
  ``SAMPLE`` rows of each side (every row of a smaller table), drawn by a seeded hash of
  the row number, so a run is repeatable;
- strings, booleans and other values: the reference's ``CATEGORIES`` most frequent values
  (the rest is "(other)", nulls their own bucket), counted on every row; PSI over those
  buckets and the frequency drift (total variation distance, half the sum of |p - q|).

Thresholds come from ``gitml.yaml``::

    drift:
      psi: 0.2          # default 0.2
      ks: 0.1           # default 0.1
      frequency: 0.1    # default 0.1
      bins: 10          # default 10
      exclude: [user_id]
      columns:
        age: {psi: 0.3, ks: 0.15}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError, FormatError
from gitml.tabular.io import EmptyTableError

if TYPE_CHECKING:
    import pyarrow as pa

    from gitml.tabular.io import Table

SAMPLE = 200_000
CATEGORIES = 50
EPS = 1e-4  # floor for empty bins in PSI
DEFAULTS = {"psi": 0.2, "ks": 0.1, "frequency": 0.1}
_KEYS = ("psi", "ks", "frequency", "bins", "exclude", "columns")


@dataclass(frozen=True)
class DriftConfig:
    thresholds: dict[str, float]
    bins: int = 10
    exclude: tuple[str, ...] = ()
    columns: dict[str, dict[str, float]] = field(default_factory=dict)

    def limit(self, column: str, metric: str) -> float:
        return self.columns.get(column, {}).get(metric, self.thresholds[metric])


def _err(where: str, problem: str) -> FormatError:
    return FormatError("gitml.yaml", f"drift: {where}: {problem}")


def _threshold(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise _err(where, f"expected a number >= 0, not {v!r}")
    return float(v)


def parse_config(section: Any, overrides: dict[str, float] | None = None) -> DriftConfig:
    """Validate the ``drift:`` section (None: defaults); ``overrides`` from the command line."""
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise _err("section", "expected a mapping")
    for k in section:
        if k not in _KEYS:
            raise _err(str(k), f"unknown key (known: {', '.join(_KEYS)})")
    th = {m: _threshold(section.get(m, d), m) for m, d in DEFAULTS.items()}
    for k, v in (overrides or {}).items():
        if k not in DEFAULTS:
            raise BadInputError(f"unknown drift threshold {k!r} (known: {', '.join(DEFAULTS)})")
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise BadInputError(f"drift threshold {k}: expected a number >= 0, not {v!r}")
            th[k] = float(v)
    bins = section.get("bins", 10)
    if type(bins) is not int or not 2 <= bins <= 100:
        raise _err("bins", f"expected a whole number from 2 to 100, not {bins!r}")
    exclude = section.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise _err("exclude", "expected a list of column names")
    cols = section.get("columns", {}) or {}
    if not isinstance(cols, dict):
        raise _err("columns", "expected a mapping of column -> thresholds")
    per: dict[str, dict[str, float]] = {}
    for name, body in cols.items():
        if not isinstance(body, dict):
            raise _err(f"columns.{name}", "expected {psi: N, ks: N, frequency: N}")
        for m in body:
            if m not in DEFAULTS:
                raise _err(f"columns.{name}", f"unknown threshold {m!r} "
                                              f"(known: {', '.join(DEFAULTS)})")
        per[str(name)] = {m: _threshold(v, f"columns.{name}.{m}") for m, v in body.items()}
    return DriftConfig(th, bins, tuple(exclude), per)


@dataclass
class ColumnDrift:
    name: str
    type: str
    kind: str  # numeric, categorical, missing, new, retyped
    status: str  # ok, drift, new
    psi: float | None = None
    ks: float | None = None
    ks_pvalue: float | None = None
    frequency: float | None = None
    null_ref: float | None = None
    null_cur: float | None = None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v)
                for k, v in self.__dict__.items()}


@dataclass
class DriftReport:
    reference: str
    current: str
    rows_ref: int
    rows_cur: int
    config: DriftConfig
    columns: list[ColumnDrift] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [c.name for c in self.columns if c.status == "drift"]

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "current": self.current,
                "rows": {"reference": self.rows_ref, "current": self.rows_cur},
                "thresholds": self.config.thresholds, "bins": self.config.bins,
                "drifted": self.drifted, "columns": [c.to_dict() for c in self.columns]}


def _numeric(t: pa.DataType) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_temporal(t))


def _as_float(col: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitml.tabular.matching import _flat

    t = col.type
    if pa.types.is_dictionary(t):
        col, t = pc.cast(col, t.value_type), t.value_type
    if pa.types.is_temporal(t):
        col = _flat(col).view(pa.int32() if pa.types.is_date32(t) or pa.types.is_time32(t)
                       else pa.int64())
    return pc.cast(col, pa.float64())


class _Side:
    """One pass over a table: a uniform row sample and category counts."""

    def __init__(self, table: Table, numeric: list[str], categorical: list[str],
                 categories: dict[str, Any] | None) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        from gitml.tabular.hashing import mix
        from gitml.tabular.matching import _flat, arange

        self.rows = 0
        self.nulls = {c: 0 for c in numeric + categorical}
        self.counts: dict[str, Any] = {}
        sample: pa.Table | None = None
        cols = numeric + categorical
        for chunk in table.chunks(cols):
            n = chunk.num_rows
            for c in cols:
                self.nulls[c] += chunk[c].null_count
            if numeric:
                keys = mix(pc.cast(pc.add(arange(n), self.rows + 1), pa.uint64()))
                part = pa.table({"k": keys, **{c: _flat(_as_float(chunk[c])) for c in numeric}})
                if sample is not None and sample.num_rows >= SAMPLE:
                    part = part.filter(pc.less(part["k"], sample["k"][-1]))
                sample = part if sample is None else pa.concat_tables([sample, part])
                if sample.num_rows > SAMPLE:
                    sample = sample.take(pc.select_k_unstable(
                        sample, SAMPLE, sort_keys=[("k", "ascending")]))
                sample = sample.sort_by("k")
            for c in categorical:
                self._count(c, chunk[c], categories.get(c) if categories else None)
            self.rows += n
        self.sample = sample

    def _count(self, c: str, col: Any, known: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, col.type.value_type)
        if known is not None:  # the current side counts only the reference's categories
            col = pc.index_in(col, value_set=known)
        vc = pc.value_counts(col)
        t = pa.table({"v": vc.field(0), "n": pc.cast(vc.field(1), pa.int64())})
        t = t.filter(pc.is_valid(t["v"]))
        if c in self.counts:
            t = pa.concat_tables([self.counts[c], t]).group_by("v").aggregate(
                [("n", "sum")]).rename_columns(["v", "n"])
        if known is None and t.num_rows > 100_000:  # keep the frequent ones
            t = t.take(pc.select_k_unstable(t, 50_000, sort_keys=[("n", "descending")]))
        self.counts[c] = t

    def values(self, c: str) -> Any:
        import pyarrow.compute as pc

        from gitml.tabular.matching import _flat

        assert self.sample is not None
        return _flat(pc.drop_null(self.sample[c]))


def _psi(p: list[float], q: list[float]) -> float:
    total = 0.0
    for a, b in zip(p, q, strict=True):
        a, b = max(a, EPS), max(b, EPS)
        total += (b - a) * math.log(b / a)
    return total


def _bin_fractions(values: Any, edges: list[float], nulls: float) -> list[float]:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    idx: Any = pa.nulls(n, pa.int64()).fill_null(0)
    for e in edges:
        idx = pc.add(idx, pc.cast(pc.greater(values, e), pa.int64()))
    counts = [0] * (len(edges) + 1)
    vc = pc.value_counts(idx)
    for v, k in zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True):
        counts[v] = k
    valid = 1.0 - nulls
    return [valid * k / n if n else 0.0 for k in counts] + [nulls]


def _ks(a: Any, b: Any) -> tuple[float, float]:
    """Two-sample KS statistic and its asymptotic p-value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    na, nb = len(a), len(b)
    if not na or not nb:
        return 0.0, 1.0
    vals = pa.concat_arrays([a, b])
    w = pa.concat_arrays([pa.nulls(na, pa.float64()).fill_null(1.0 / na),
                          pa.nulls(nb, pa.float64()).fill_null(-1.0 / nb)])
    order = pc.sort_indices(vals)
    vs, ws = pc.take(vals, order), pc.take(w, order)
    cs = pc.cumulative_sum(ws)
    last = pa.concat_arrays([pc.not_equal(vs.slice(0, len(vs) - 1), vs.slice(1)),
                             pa.array([True])])
    d = pc.max(pc.abs(pc.filter(cs, last))).as_py() or 0.0
    en = math.sqrt(na * nb / (na + nb))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 101))
    return d, min(1.0, max(0.0, p)) if d else 1.0


def drift(reference: Table, current: Table, config: DriftConfig | None = None
          ) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cfg = config or parse_config(None)
    sr, sc = reference.schema, current.schema
    _check_names(cfg, list(dict.fromkeys([*sr.names, *sc.names])))
    report = DriftReport(reference.name, current.name, 0, 0, cfg)
    numeric, categorical = [], []
    for f in sr:
        if f.name in cfg.exclude:
            continue
        if f.name not in sc.names:
            report.columns.append(ColumnDrift(f.name, str(f.type), "missing", "drift",
                                              reasons=["missing in the current data"]))
            continue
        ct = sc.field(f.name).type
        if _numeric(f.type) != _numeric(ct):
            report.columns.append(ColumnDrift(f.name, f"{f.type} -> {ct}", "retyped", "drift",
                                              reasons=[f"type changed: {f.type} -> {ct}"]))
            continue
        (numeric if _numeric(f.type) else categorical).append(f.name)
    ref = _Side(reference, numeric, categorical, None)
    if ref.rows == 0:
        raise EmptyTableError(f"{reference.name}: the reference table is empty (0 rows)")
    cats = {}
    for c in categorical:
        t = ref.counts.get(c)
        if t is None or t.num_rows == 0:
            cats[c] = pa.array([], sr.field(c).type if not pa.types.is_dictionary(
                sr.field(c).type) else sr.field(c).type.value_type)
            continue
        k = min(CATEGORIES, t.num_rows)
        top = t.take(pc.select_k_unstable(t, k, sort_keys=[("n", "descending")]))
        cats[c] = top["v"].combine_chunks()
    cur = _Side(current, numeric, categorical, cats)
    if cur.rows == 0:
        raise EmptyTableError(f"{current.name}: the current table is empty (0 rows)")
    report.rows_ref, report.rows_cur = ref.rows, cur.rows
    for c in numeric + categorical:
        report.columns.append(_column(c, sr.field(c).type, ref, cur, cats.get(c), cfg))
    report.columns.sort(key=lambda d: sr.names.index(d.name))
    report.columns += [ColumnDrift(f.name, str(f.type), "new", "new",
                                   reasons=["not in the reference"])
                       for f in sc if f.name not in sr.names and f.name not in cfg.exclude]
    return report


def _check_names(cfg: DriftConfig, known: list[str]) -> None:
    """``exclude`` and ``columns`` must name columns of either table: a typo would
    otherwise be ignored without a word (an excluded id column failing, a threshold
    never applied)."""
    for key, names in (("exclude", list(cfg.exclude)), ("columns", list(cfg.columns))):
        unknown = [n for n in names if n not in known]
        if unknown:
            shown = ", ".join(known[:10]) + (f", ... ({len(known) - 10} more)"
                                              if len(known) > 10 else "")
            raise _err(key, f"unknown column{'s' * (len(unknown) > 1)} "
                            f"{', '.join(map(repr, unknown))} (available: {shown})")


def _column(c: str, t: Any, ref: _Side, cur: _Side, cats: Any, cfg: DriftConfig
            ) -> ColumnDrift:
    import pyarrow.compute as pc

    nr, nc = ref.nulls[c] / ref.rows, cur.nulls[c] / cur.rows
    out = ColumnDrift(c, str(t), "numeric" if cats is None else "categorical", "ok",
                      null_ref=nr, null_cur=nc)
    if cats is None:
        a, b = ref.values(c), cur.values(c)
        qs = [i / cfg.bins for i in range(1, cfg.bins)]
        edges = sorted(set(pc.quantile(a, q=qs, interpolation="lower").to_pylist())) \
            if len(a) else []
        out.psi = _psi(_bin_fractions(a, edges, nr), _bin_fractions(b, edges, nc))
        out.ks, out.ks_pvalue = _ks(a, b)
    else:
        p = _cat_fractions(ref.counts[c], cats, ref.rows, nr, by_value=True)
        q = _cat_fractions(cur.counts[c], cats, cur.rows, nc, by_value=False)
        out.psi = _psi(p, q)
        out.frequency = 0.5 * sum(abs(x - y) for x, y in zip(p, q, strict=True))
    for metric in ("psi", "ks", "frequency"):
        v = getattr(out, metric)
        limit = cfg.limit(c, metric)
        if v is not None and v > limit:
            out.reasons.append(f"{metric} {v:.3f} > {limit:g}")
    if out.reasons:
        out.status = "drift"
    return out


def _cat_fractions(counts: Any, cats: Any, rows: int, nulls: float, by_value: bool
                   ) -> list[float]:
    """Fractions of each reference category, then (other), then null."""
    got = dict(zip(counts["v"].to_pylist(), counts["n"].to_pylist(), strict=True))
    keys = cats.to_pylist() if by_value else list(range(len(cats)))
    fr = [got.get(k, 0) / rows for k in keys]
    valid = rows * (1 - nulls)
    other = max(0.0, valid / rows - sum(fr)) if rows else 0.0
    return fr + [other, nulls]
