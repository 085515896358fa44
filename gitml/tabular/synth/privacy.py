"""The privacy half of the report: exact copies and distance to the closest record (DCR).

- **exact copies**: synthetic rows equal, on every modelled column, to a source row (any
  row, held out or not). Keys are new and dropped text is gone, so they are not compared.
- **DCR** (distance to closest record): is each synthetic row's closest source row one the
  model learnt from (training) or one it never saw (held out)? Rows drawn from the data's
  distribution, knowing nothing of either set, find it in the training rows as often as
  those are frequent among the two (the expected share, 0.8 with 20 % held out); a
  synthesiser that reproduces its training rows finds them more often, up to always.
  ``privacy`` = (1 - share) / (1 - expected share), at most 1. The reference is every
  source row up to ``DCR_REFERENCE`` rows (beyond, the same fraction of each set: copies of
  rows left out then go unseen, and the report gives the fraction); the median distances
  of synthetic rows, and of held-out rows, to the training rows are reported beside it.

Rows are embedded so that every column weighs the same: numbers (and dates) by their rank
in the source, in [0, 1]; categories one-hot over their 8 most frequent levels (a
mismatch costs 1, as the full range of a number); a null is 1 away from any value.

Nearest neighbours are found by brute force in blocks (one float32 matrix product per block
of queries, blocks on all cores, see :func:`nearest`), and the distance to the neighbour
found is then computed exactly in float64. A KD-tree was tried first: with the
one-hot dimensions of a few categorical columns (50 and more in all) it took minutes for
what the matrix products do in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from gitml.tabular.synth.model import Marginal, Model

DCR_REFERENCE = 100_000  # source rows (training and held out) compared against, at most
DCR_QUERIES = 20_000  # synthetic rows measured
BASELINE_QUERIES = 5_000  # held-out rows measured, for the median distance of real rows
ONE_HOT = 8
BLOCK = 256  # queries per matrix product


@dataclass
class DcrResult:
    share_closer_to_training: float  # of synthetic rows whose closest source row trained
    expected_share: float  # for rows that know nothing of either set
    privacy: float
    dcr_median: float  # synthetic -> training rows
    dcr_p05: float
    baseline_median: float  # held-out -> training rows: how close new real rows come
    baseline_p05: float
    rows: int  # synthetic rows measured
    reference_rows: int  # source rows compared against
    reference_fraction: float  # of the source

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
    """The ``ONE_HOT`` most frequent values of a category, one dimension each, one for any
    other value, and one for null when the model has nulls (else a null is another value).
    The dimensions depend on the model only, so that every table embeds alike."""
    import numpy as np

    from gitml.tabular.synth.columns import level_codes

    top = [v for v in m.levels if v is not None][:ONE_HOT]
    n = len(col)
    code, valid = level_codes(col, top, len(top))
    null_dim = None in m.levels
    if null_dim:
        code[~valid] = len(top) + 1
    out = np.zeros((n, len(top) + 1 + null_dim))
    out[np.arange(n), code] = np.sqrt(0.5)
    return out


def dcr(model: Model, train: pa.Table, holdout: pa.Table, synth: pa.Table,
        rng: np.random.Generator) -> DcrResult | None:
    """The DCR comparison, or None without held-out rows or modelled columns."""
    import numpy as np

    if not model.marginals or holdout.num_rows == 0 or synth.num_rows == 0:
        return None
    n = train.num_rows + holdout.num_rows
    frac = min(1.0, DCR_REFERENCE / n)
    tr = _take(train, max(1, round(train.num_rows * frac)), rng)
    hold = _take(holdout, max(1, round(holdout.num_rows * frac)), rng)
    queries = _take(synth, DCR_QUERIES, rng)
    pts_t, pts_h = embed(model, tr), embed(model, hold)
    pts_q = embed(model, queries)
    d_t, d_h = nearest(pts_q, pts_t), nearest(pts_q, pts_h)
    expected = tr.num_rows / (tr.num_rows + hold.num_rows)
    tie = np.isclose(d_t, d_h, rtol=0, atol=1e-9)  # as likely either side as the sizes say
    share = float(((d_t < d_h) & ~tie).mean() + expected * tie.mean())
    base = nearest(embed(model, _take(hold, BASELINE_QUERIES, rng)), pts_t)
    return DcrResult(share, expected, max(0.0, min(1.0, (1 - share) / (1 - expected))),
                     float(np.median(d_t)), float(np.quantile(d_t, 0.05)),
                     float(np.median(base)), float(np.quantile(base, 0.05)), len(queries),
                     tr.num_rows + hold.num_rows, (tr.num_rows + hold.num_rows) / n)


def nearest(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The distance from each row of ``q`` to its nearest row of ``r``.

    The nearest ``r`` maximises ``q·r - |r|²/2``: one float32 matrix product of ``[q, -1]``
    and ``[r, |r|²/2]`` per block of queries (small blocks: the product stays in cache),
    then the exact distance to the row found, in float64.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    qa = np.hstack([q, -np.ones((len(q), 1))]).astype(np.float32)
    ra = np.ascontiguousarray(np.hstack([r, 0.5 * (r * r).sum(1)[:, None]]).T, np.float32)
    best = np.empty(len(q), np.int64)

    def block(i: int) -> None:
        best[i:i + BLOCK] = (qa[i:i + BLOCK] @ ra).argmax(1)  # GIL released: all cores

    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(block, range(0, len(q), BLOCK)))
    diff = q - r[best]
    return np.sqrt((diff * diff).sum(1))


def _take(t: pa.Table, k: int, rng: np.random.Generator) -> pa.Table:
    from gitml.tabular.synth.fidelity import sample_rows

    return sample_rows(t, k, rng)
