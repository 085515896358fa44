"""The fidelity half of the report: how much the synthetic table behaves like the source.

- per column: the two-sample Kolmogorov-Smirnov statistic for numbers (nulls counted as
  the lowest value, so a wrong null rate shows), the total variation distance for
  categories and booleans (with the source's rare values counted as the pooled
  ``(other)``: pooling is a privacy choice, reported on its own);
- correlations: Spearman's rank correlation between every two numeric, date or boolean
  columns, on each table; the largest and the mean absolute difference;
- the model check, when scikit-learn is installed: a gradient-boosted model of one column
  (``--target``; by default the last categorical or boolean column of at most 50 levels)
  trained on synthetic
  rows and one trained on source rows, both scored on held-out source rows the synthesiser
  never saw (balanced accuracy, or R² for a number); ``utility`` is their ratio.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from gitml.tabular.synth.columns import OTHER, decoded, level_codes, numbers, tie_bounds

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from gitml.tabular.synth.model import Marginal, Model

SAMPLE = 200_000  # rows of each table for the correlation and per-column statistics
ML_ROWS = 25_000  # rows to train each model on, and to score them on
MAX_CLASSES = 50  # a category with more levels is no target (a model per class and round)


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample KS statistic of two value arrays (-inf for nulls is fine)."""
    import numpy as np

    if not len(a) or not len(b):
        return 0.0 if len(a) == len(b) else 1.0
    a, b = np.sort(a), np.sort(b)
    v = np.concatenate([a, b])
    fa = np.searchsorted(a, v, "right") / len(a)
    fb = np.searchsorted(b, v, "right") / len(b)
    return float(np.abs(fa - fb).max())


def _with_nulls(col: Any) -> np.ndarray:
    import numpy as np

    vals, valid = numbers(col)
    return np.where(valid, vals, -np.inf)


def tvd(m: Marginal, source: Any, synth: Any) -> float:
    """Total variation distance of two category columns, rare source values as OTHER."""
    import pyarrow.compute as pc

    known = set(m.levels)

    def freqs(col: Any, pool: bool) -> dict[Any, float]:
        vc = pc.value_counts(decoded(col))
        out: dict[Any, float] = {}
        for v, k in zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True):
            key = OTHER if pool and v not in known else v
            out[key] = out.get(key, 0) + k / len(col)
        return out

    p, q = freqs(source, True), freqs(synth, False)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def columns(model: Model, source: pa.Table, synth: pa.Table) -> list[dict[str, Any]]:
    """Per modelled column: its metric and distance, null rates, pooling."""
    out = []
    for m in model.marginals:
        name = m.column.name
        a, b = source[name], synth[name]
        row: dict[str, Any] = {"name": name, "kind": m.column.kind}
        if m.is_number:
            row.update(metric="ks", distance=ks(_with_nulls(a), _with_nulls(b)))
        else:
            row.update(metric="tvd", distance=tvd(m, a, b))
        row.update(null_source=a.null_count / max(1, len(a)),
                   null_synthetic=b.null_count / max(1, len(b)))
        if m.pooled_values:
            row.update(pooled_values=m.pooled_values, pooled_rows=m.pooled_rows)
        out.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    return out


def _ranks(col: Any) -> np.ndarray:
    """Average ranks of the values, NaN for nulls (scipy.stats would cost a second to
    import)."""
    import numpy as np

    vals, valid = numbers(col)
    r = np.full(len(vals), np.nan)
    v = vals[valid]
    order = np.argsort(v, kind="stable")
    left, right = tie_bounds(v[order])
    ranks = np.empty(len(v))
    ranks[order] = (left + right + 1) / 2
    r[valid] = ranks
    return r


def spearman(table: pa.Table, names: list[str]) -> np.ndarray:
    """Spearman's correlation matrix (pairwise complete rows; 0 where undefined)."""
    import numpy as np

    ranks = [_ranks(table[c]) for c in names]
    d = len(names)
    out = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            ok = ~np.isnan(ranks[i]) & ~np.isnan(ranks[j])
            if ok.sum() < 3:
                continue
            x, y = ranks[i][ok], ranks[j][ok]
            x, y = x - x.mean(), y - y.mean()
            den = np.sqrt((x * x).sum() * (y * y).sum())
            out[i, j] = out[j, i] = float((x * y).sum() / den) if den > 0 else 0.0
    return out


def correlation(model: Model, source: pa.Table, synth: pa.Table) -> dict[str, Any] | None:
    """Largest and mean absolute difference of the two Spearman matrices."""
    import numpy as np

    names = [m.column.name for m in model.marginals if m.is_number or m.column.kind == "bool"]
    if len(names) < 2:
        return None
    a, b = spearman(source, names), spearman(synth, names)
    diff = np.abs(a - b)[np.triu_indices(len(names), 1)]
    i, j = np.unravel_index(int(np.argmax(np.abs(a - b))), a.shape)
    return {"columns": names, "max_abs_diff": round(float(diff.max()), 4),
            "mean_abs_diff": round(float(diff.mean()), 4),
            "worst_pair": [names[i], names[j]],
            "source": np.round(a, 4).tolist(), "synthetic": np.round(b, 4).tolist()}


def sample_rows(t: pa.Table, k: int, rng: np.random.Generator) -> pa.Table:
    import numpy as np

    if k >= t.num_rows:
        return t
    return t.take(np.sort(rng.choice(t.num_rows, k, replace=False)))


# -- the model check ------------------------------------------------------------------------
def default_target(model: Model) -> str | None:
    """The last categorical or boolean column with at most ``MAX_CLASSES`` levels."""
    cats = [m.column.name for m in model.marginals
            if not m.is_number and len(m.levels) <= MAX_CLASSES]
    return cats[-1] if cats else None


def _features(model: Model, t: pa.Table, target: str) -> tuple[np.ndarray, list[bool]]:
    """A float matrix: numbers as values, levels as their code (NaN: null)."""
    import numpy as np

    cols, categorical = [], []
    for m in model.marginals:
        if m.column.name == target:
            continue
        col = t[m.column.name]
        if m.is_number:
            vals, valid = numbers(col)
            cols.append(np.where(valid, vals, np.nan))
            categorical.append(False)
        else:
            cols.append(_codes(m, col))
            categorical.append(len(m.levels) <= 250)
    return (np.column_stack(cols) if cols else np.zeros((t.num_rows, 0))), categorical


def _codes(m: Marginal, col: Any) -> np.ndarray:
    """Level codes as floats; rare values are OTHER's code, nulls NaN."""
    import numpy as np

    values = [v for v in m.levels if v is not None]
    codes, valid = level_codes(col, values, values.index(OTHER) if OTHER in values else
                               len(values))
    out = codes.astype(np.float64)
    out[~valid] = np.nan
    return out


def model_check(model: Model, target: str | None, train: pa.Table, holdout: pa.Table,
                synth: pa.Table, seed: int) -> dict[str, Any]:
    """Train on synthetic vs train on real, scored on held-out real rows."""
    import numpy as np

    if target is None:
        return {"skipped": "no categorical or boolean column to predict (use --target)"}
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return {"skipped": "scikit-learn is not installed (pip install scikit-learn)"}
    m = next((m for m in model.marginals if m.column.name == target), None)
    if m is None:
        return {"skipped": f"{target} is not a modelled column"}
    if not m.is_number and len(m.levels) > MAX_CLASSES:
        return {"skipped": f"{target} has {len(m.levels):,} levels (at most {MAX_CLASSES})"}
    rng = np.random.default_rng([seed, 5])
    test = sample_rows(holdout, ML_ROWS, rng)
    if test.num_rows < 20:
        return {"skipped": "fewer than 20 held-out rows"}
    sets = {"real": sample_rows(train, ML_ROWS, rng), "synthetic": sample_rows(synth, ML_ROWS, rng)}
    x_test, cat = _features(model, test, target)
    y_test = _target(m, test[target])
    scores = {}
    for name, t in sets.items():
        x, _ = _features(model, t, target)
        scores[name] = _fit_score(m, x, _target(m, t[target]), x_test, y_test, cat, seed)
    metric = "r2" if m.is_number else "balanced_accuracy"
    real, syn = scores["real"], scores["synthetic"]
    utility = None if real is None or syn is None or real <= 0 else round(max(0.0, syn) / real, 4)
    return {"target": target, "metric": metric, "train_rows": sets["real"].num_rows,
            "test_rows": test.num_rows, "real": None if real is None else round(real, 4),
            "synthetic": None if syn is None else round(syn, 4), "utility": utility}


def _target(m: Marginal, col: Any) -> np.ndarray:
    import numpy as np

    if m.is_number:
        vals, valid = numbers(col)
        return np.where(valid, vals, np.nan)
    return _codes(m, col)


def _fit_score(m: Marginal, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
               y_test: np.ndarray, categorical: list[bool], seed: int) -> float | None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import balanced_accuracy_score, r2_score

    ok, ok_test = ~np.isnan(y), ~np.isnan(y_test)
    x, y, x_test, y_test = x[ok], y[ok], x_test[ok_test], y_test[ok_test]
    if len(y) < 10 or len(y_test) < 10:
        return None
    from threadpoolctl import threadpool_limits

    cat = categorical if any(categorical) else None
    kw: dict[str, Any] = {"max_iter": 100, "early_stopping": False,
                          "random_state": seed % 2**32, "categorical_features": cat}
    # One OpenMP thread: on a busy machine its spinning threads took 40x longer (measured),
    # and one thread gives the same model everywhere.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a class the held-out rows lack
        if m.is_number:
            reg = HistGradientBoostingRegressor(**kw).fit(x, y)
            return float(r2_score(y_test, reg.predict(x_test)))
        if len(np.unique(y)) < 2:
            return 0.0
        clf = HistGradientBoostingClassifier(**kw).fit(x, y.astype(np.int64))
        return float(balanced_accuracy_score(y_test.astype(np.int64), clf.predict(x_test)))
