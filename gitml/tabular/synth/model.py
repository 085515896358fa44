"""Fitting the copula: one marginal per modelled column and the correlation of normal scores.

Each value occupies an interval of its column's CDF (a single point for a continuous
value; a tie or a category a wider one) and gets the normal score of that interval, the
mean of a standard normal inside it. Numbers with nulls get a second dimension, null or
not. The correlation matrix of those scores, corrected for the coarseness of discrete
columns, is the copula; sampling draws correlated normals and runs the map backwards.

Sums are numpy's own (pairwise, a fixed order), not BLAS, so that the model, and the rows
drawn from it, do not depend on the number of threads or the BLAS build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.tabular.synth.columns import (
    MAX_LEVELS,
    OTHER,
    Column,
    SynthOptions,
    decoded,
    detect_step,
    integer_type,
    kind_of,
    level_codes,
    numbers,
    plan_key,
    tie_bounds,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

GRID = 10_001  # quantiles kept per number column (all values when there are fewer)
EPS = 1e-12


@dataclass
class Marginal:
    """How one modelled column's values are distributed."""

    column: Column
    dim: int  # its dimension in the correlation matrix
    null_dim: int | None = None  # numbers with nulls: the dimension of being null
    p_null: float = 0.0  # numbers: the fraction of nulls
    grid: Any = None  # numbers: quantiles at evenly spaced probabilities
    levels: list[Any] = field(default_factory=list)  # categories: values; None is null
    probs: Any = None  # categories: the probability of each level
    pooled_values: int = 0  # rare values pooled into OTHER
    pooled_rows: int = 0

    @property
    def is_number(self) -> bool:
        return self.grid is not None


@dataclass
class Model:
    columns: list[Column]  # every written column, in source order
    marginals: list[Marginal]  # the modelled ones, in source order
    corr: Any  # correlation matrix of normal scores
    chol: Any  # its Cholesky factor
    dropped: list[tuple[str, str]]  # (column, why)

    @property
    def names(self) -> list[str]:
        return [m.column.name for m in self.marginals]


def plan(table: pa.Table, opts: SynthOptions) -> tuple[list[Column], list[tuple[str, str]],
                                                         dict[str, Any]]:
    """(written columns, dropped columns with why, category value counts) for ``table``."""
    import pyarrow as pa

    rules = opts.rules
    cols: list[Column] = []
    dropped: list[tuple[str, str]] = []
    counts: dict[str, Any] = {}
    for f in table.schema:
        name, t = f.name, f.type
        kind = kind_of(t)
        rule = rules.get(name)
        if name in opts.exclude:
            dropped.append((name, "excluded"))
        elif name in opts.key:
            cols.append(plan_key(name, t))
        elif rule == "null":
            cols.append(Column(name, t, "replace", "null"))
        elif rule and rule.startswith("template:"):
            if kind != "string":
                raise _bad(f"--replace {name}={rule}: a template makes text, and {name} is {t}")
            cols.append(Column(name, t, "replace", rule))
        elif rule == "category" and kind != "string":
            raise _bad(f"--replace {name}=category: {name} is {t}, not text")
        elif kind == "null" or table[name].null_count == table.num_rows:
            cols.append(Column(name, t, "null"))
        elif kind == "number":
            cols.append(Column(name, t, "number", integer=integer_type(
                t.value_type if pa.types.is_dictionary(t) else t)))
        elif kind == "bool":
            cols.append(Column(name, t, "bool"))
        elif kind == "string":
            vc = _value_counts(table[name])
            counts[name] = vc
            kept = _kept(vc, opts.min_count)
            nonnull = table.num_rows - table[name].null_count
            if rule == "category" or sum(n for _, n in kept) * 2 >= nonnull:
                cols.append(Column(name, t, "category"))
            else:
                dropped.append((name, f"text: most values occur fewer than {opts.min_count} "
                                      f"times; keep it with --replace {name}=null, =category "
                                      f"or =template:TEXT"))
        else:
            dropped.append((name, f"type {t} is not modelled; keep it as nulls with "
                                  f"--replace {name}=null"))
    return cols, dropped, counts


def _bad(msg: str) -> Exception:
    from gitml.errors import BadInputError

    return BadInputError(msg)


def _value_counts(col: pa.ChunkedArray) -> list[tuple[Any, int]]:
    """(value, count) of the non-null values, most frequent first, ties by value."""
    import pyarrow.compute as pc

    vc = pc.value_counts(decoded(col))
    pairs = [(v, n) for v, n in zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(),
                                    strict=True) if v is not None]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pairs


def _kept(vc: list[tuple[Any, int]], min_count: int) -> list[tuple[Any, int]]:
    return [p for p in vc[:MAX_LEVELS] if p[1] >= min_count]


def fit(table: pa.Table, opts: SynthOptions) -> Model:
    """The model of ``table`` (the rows the synthesiser may learn from)."""
    cols, dropped, counts = plan(table, opts)
    marginals: list[Marginal] = []
    scores: list[np.ndarray] = []
    for c in cols:
        if c.kind == "number":
            fitted = _fit_number(c, table[c.name], len(scores))
            if fitted is None:  # NaN or infinite floats only: nothing to model
                c.kind = "null"
                continue
            m, s = fitted
        elif c.kind in ("bool", "category"):
            m, s = _fit_levels(c, table[c.name], counts.get(c.name), opts.min_count,
                               len(scores))
        else:
            continue
        marginals.append(m)
        scores.extend(s)
    corr = _correlation(scores)
    import numpy as np

    return Model(cols, marginals, corr, np.linalg.cholesky(corr), dropped)


def _scores(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """E[Z | Φ⁻¹(lo) < Z < Φ⁻¹(hi)] for a standard normal Z: the normal score of a value
    that occupies [lo, hi) of its column's CDF (a category, a tie, a single value)."""
    import numpy as np
    from scipy.special import ndtri

    width = hi - lo
    wide = width > 1e-7
    out = ndtri(np.clip((lo + hi) / 2, EPS, 1 - EPS))
    if wide.any():
        a, b = ndtri(lo[wide]), ndtri(hi[wide])
        out[wide] = (_pdf(a) - _pdf(b)) / width[wide]
    return out


def _pdf(x: np.ndarray) -> np.ndarray:
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        y = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    return np.where(np.isfinite(x), y, 0.0)


def _fit_number(c: Column, col: pa.ChunkedArray, dim: int
                ) -> tuple[Marginal, list[np.ndarray]] | None:
    """Quantiles of the values; the normal scores of the values (NaN for nulls) and, when
    there are nulls, of being null (its own dimension, so that missing values keep their
    own relation to the other columns)."""
    import numpy as np

    vals, valid = numbers(col)
    n = len(vals)
    v = vals[valid]
    order = np.argsort(v, kind="stable")
    xs = v[order]
    nn = len(xs)
    if nn == 0:
        return None
    p_null = (n - nn) / n
    c.step = detect_step(xs, c.integer)
    k = min(nn, GRID)
    pos = np.linspace(0.0, nn - 1, k)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, nn - 1)
    grid = xs[lo] + (pos - lo) * (xs[hi] - xs[lo])
    left, right = tie_bounds(xs)  # of each sorted value's run of equal values
    score = np.full(n, np.nan)
    scored = np.empty(nn)
    scored[order] = _scores(left / nn, right / nn)
    score[valid] = scored
    out = [score]
    null_dim = None
    if p_null > 0:
        null_dim = dim + 1
        out.append(_scores(np.where(valid, p_null, 0.0), np.where(valid, 1.0, p_null)))
    return Marginal(c, dim=dim, null_dim=null_dim, p_null=p_null, grid=grid), out


def _fit_levels(c: Column, col: pa.ChunkedArray, vc: list[tuple[Any, int]] | None,
                min_count: int, dim: int) -> tuple[Marginal, list[np.ndarray]]:
    """Booleans and categories: levels by frequency (rare category values pooled)."""
    import numpy as np

    col = decoded(col)
    n = len(col)
    nulls = col.null_count
    if vc is None:  # booleans: never pooled, two values cannot single anyone out
        vc = _value_counts(col)
        kept = vc
    else:
        kept = _kept(vc, min_count)
    pooled = n - nulls - sum(k for _, k in kept)
    levels: list[tuple[Any, int]] = list(kept)
    if pooled:
        levels.append((OTHER, pooled))
    if nulls:
        levels.append((None, nulls))
    levels.sort(key=lambda p: -p[1])  # stable: ties keep value order, OTHER and null last
    values = [v for v, _ in levels]
    probs = np.array([k for _, k in levels], np.float64) / n
    # each row's level: its value's index among the kept values, else OTHER, else null
    code_of = {v: i for i, v in enumerate(values)}
    kept_vals = [v for v, _ in kept]
    raw, valid = level_codes(col, kept_vals, len(kept_vals))
    codes = np.array([code_of[v] for v in kept_vals] + [-1], np.int64)[raw]
    if pooled:
        codes[(codes < 0) & valid] = code_of[OTHER]
    if nulls:
        codes[~valid] = code_of[None]
    cum = np.concatenate([[0.0], np.cumsum(probs)])
    cum[-1] = 1.0
    level_scores = _scores(cum[:-1], cum[1:])
    m = Marginal(c, dim=dim, levels=values, probs=probs,
                 pooled_values=len(vc) - len(kept), pooled_rows=pooled)
    return m, [level_scores[codes]]


def _correlation(scores: list[np.ndarray]) -> np.ndarray:
    """The latent correlation of the columns' normal scores, made positive definite.

    A column cut into intervals (categories, ties) has scores with a standard deviation
    s < 1, and their correlation with another column is the latent one times s (times the
    other's s): dividing by both undoes that attenuation (the ad hoc polyserial
    estimator). Rows where a score is missing (a null value) are left out of its pairs.
    """
    import numpy as np

    d = len(scores)
    corr = np.eye(d)
    if d < 2:
        return corr
    ok = [np.isfinite(s) for s in scores]
    full = [bool(m.all()) for m in ok]
    sd = [float(s[m].std()) if m.any() else 0.0 for s, m in zip(scores, ok, strict=True)]
    for i in range(d):
        for j in range(i + 1, d):
            if sd[i] < 1e-9 or sd[j] < 1e-9:
                continue
            x, y = scores[i], scores[j]
            if not (full[i] and full[j]):
                both = ok[i] & ok[j]
                x, y = x[both], y[both]
            if len(x) < 3:
                continue
            x, y = x - x.mean(), y - y.mean()
            den = float(np.sqrt((x * x).sum() * (y * y).sum()))
            r = float((x * y).sum()) / den if den > 0 else 0.0
            corr[i, j] = corr[j, i] = max(-0.995, min(0.995, r / (sd[i] * sd[j])))
    w, v = np.linalg.eigh(corr)
    if w.min() < 1e-6:  # not positive definite (corrected pairs, columns that move together)
        corr = (v * np.maximum(w, 1e-6)) @ v.T
        s = np.sqrt(np.diag(corr))
        corr = corr / s[:, None] / s[None, :]
    return corr
