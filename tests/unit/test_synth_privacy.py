"""The privacy measures catch a synthesiser that copies: DCR share and exact copies."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

from gitml.tabular.synth import privacy
from gitml.tabular.synth.columns import SynthOptions
from gitml.tabular.synth.run import generate


def table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table({"a": x, "b": np.round(x + rng.normal(0, 0.5, n), 3),
                     "c": rng.choice(["p", "q", "r"], n).tolist(),
                     "d": rng.integers(0, 1000, n)})


def test_nearest_is_exact() -> None:
    rng = np.random.default_rng(1)
    q, r = rng.random((3000, 9)), rng.random((2000, 9))
    r[:5] = q[:5]  # exact duplicates: distance 0
    want, _ = cKDTree(r).query(q, k=1)
    got = privacy.nearest(q, r)
    assert np.allclose(got, want, rtol=0, atol=1e-12) and (got[:5] == 0).all()


def test_dcr_tells_copies_from_new_rows() -> None:
    g = generate(table(5000, 2), SynthOptions(seed=3), "t")
    honest = privacy.dcr(g.model, g.train, g.holdout, g.table, np.random.default_rng(0))
    assert honest is not None and honest.expected_share == 0.8
    assert abs(honest.share_closer_to_training - 0.8) < 0.03 and honest.privacy > 0.85
    # a "synthesiser" that hands back its training rows: every row sits on a training row
    leaky = privacy.dcr(g.model, g.train, g.holdout, g.train.slice(0, 3000),
                        np.random.default_rng(0))
    assert leaky is not None and leaky.share_closer_to_training > 0.97
    assert leaky.privacy < 0.15 and leaky.dcr_median == 0.0
    # and exact copies count them
    assert privacy.exact_copies(g.train.slice(0, 300), g.model.names, g.forbid) == 300
    assert privacy.exact_copies(g.table, g.model.names, g.forbid) == 0
