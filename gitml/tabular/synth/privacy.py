"""The privacy half of the report: exact copies and distance to the closest record (DCR).

- **exact copies**: synthetic rows equal, on every modelled column, to a source row (any
  row, held out or not). Keys are new and dropped text is gone, so they are not compared.
- **DCR**: each synthetic row's distance to the closest row the model learnt from, against
  its distance to the closest held-out source row the model never saw (as many of each).
  A synthesiser that generalises is as close to the one as to the other: the share of rows
  nearer the training rows is about 0.5. A share near 1 means it reproduces its training
  rows. ``privacy`` = min(1, 2 * (1 - share)).

Rows are embedded so that every column weighs the same: numbers (and dates) by their rank
in the source, in [0, 1]; categories one-hot over their 15 most frequent levels (a
mismatch costs 1, as the full range of a number); a null is 1 away from any value. The
nearest neighbours come from scipy's KD-tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from gitml.tabular.synth.model import Marginal, Model

DCR_ROWS = 50_000  # at most this many rows on each side (training sample, held-out)
DCR_QUERIES = 100_000  # synthetic rows whose DCR is measured
ONE_HOT = 15


@dataclass
class DcrResult:
    share_closer_to_training: float
    privacy: float
    dcr_median: float  # synthetic -> training rows
    dcr_p05: float
    baseline_median: float  # held-out -> training rows: how close new real rows come
    baseline_p05: float
    rows: int  # synthetic rows measured
    reference_rows: int  # rows on each side

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def source_hashes(source: pa.Table, names: list[str]) -> pa.Array | None:
    """The distinct hashes of the source's rows over ``names`` (None: nothing to compare)."""
    import pyarrow.compute as pc

    from gitml.tabular.synth.sample import row_hashes

    if not names or not source.num_rows:
        return None
    return pc.unique(row_hashes([source[c] for c in names], source.num_rows))


def exact_copies(synth: pa.Table, names: list[str], forbid: pa.Array | None) -> int:
    """Synthetic rows equal to a source row over ``names`` (``forbid``: their hashes)."""
    import pyarrow.compute as pc

    from gitml.tabular.synth.sample import row_hashes

    if forbid is None or not synth.num_rows:
        return 0
    hits = pc.is_in(row_hashes([synth[c] for c in names], synth.num_rows), value_set=forbid)
    return int(pc.sum(hits).as_py() or 0)


def embed(model: Model, table: pa.Table) -> np.ndarray:
    """Rows of ``table`` as points (see the module's docstring)."""
    import numpy as np

    from gitml.tabular.synth.columns import numbers

    parts = []
    for m in model.marginals:
        col = table[m.column.name]
        if m.is_number:
            vals, valid = numbers(col)
            k = len(m.grid)
            u = np.interp(vals, m.grid, np.linspace(0.0, 1.0, k)) if k > 1 else \
                np.zeros(len(vals))
            parts.append(np.where(valid, u, -1.0)[:, None])
        else:
            parts.append(_one_hot(m, col))
    if not parts:
        return np.zeros((table.num_rows, 0))
    return np.hstack(parts)


def _one_hot(m: Marginal, col: pa.ChunkedArray) -> np.ndarray:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    top = [v for v in m.levels if v is not None][:ONE_HOT]
    n = len(col)
    idx = pc.index_in(col, value_set=pa.array(top, col.type)) if top else pa.nulls(n, pa.int32())
    code = np.asarray(pc.fill_null(idx, len(top)).to_numpy(zero_copy_only=False), np.int64)
    code[~np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = len(top) + 1
    out = np.zeros((n, len(top) + 2))
    out[np.arange(n), code] = np.sqrt(0.5)
    return out


def dcr(model: Model, train: pa.Table, holdout: pa.Table, synth: pa.Table,
        rng: np.random.Generator) -> DcrResult | None:
    """The DCR comparison, or None without held-out rows or modelled columns."""
    import numpy as np
    from scipy.spatial import cKDTree

    if not model.marginals or holdout.num_rows == 0 or synth.num_rows == 0:
        return None
    k = min(holdout.num_rows, train.num_rows, DCR_ROWS)
    hold = _take(holdout, k, rng)
    tr = _take(train, k, rng)
    queries = _take(synth, min(synth.num_rows, DCR_QUERIES), rng)
    pts_t, pts_h, pts_q = embed(model, tr), embed(model, hold), embed(model, queries)
    tree_t, tree_h = cKDTree(pts_t), cKDTree(pts_h)
    d_t, _ = tree_t.query(pts_q, k=1, workers=-1)
    d_h, _ = tree_h.query(pts_q, k=1, workers=-1)
    tie = np.isclose(d_t, d_h, rtol=0, atol=1e-9)
    share = float(((d_t < d_h) & ~tie).mean() + 0.5 * tie.mean())
    base, _ = tree_t.query(pts_h, k=1, workers=-1)
    return DcrResult(share, min(1.0, 2 * (1 - share)), float(np.median(d_t)),
                     float(np.quantile(d_t, 0.05)), float(np.median(base)),
                     float(np.quantile(base, 0.05)), len(queries), k)


def _take(t: pa.Table, k: int, rng: np.random.Generator) -> pa.Table:
    import numpy as np

    if k >= t.num_rows:
        return t
    return t.take(np.sort(rng.choice(t.num_rows, k, replace=False)))
