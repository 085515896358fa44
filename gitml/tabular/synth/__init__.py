"""Synthetic twins of tables (``gitml data synth``, issue 24).

A Gaussian copula: each modelled column keeps its own distribution (empirical quantiles for
numbers, dates and times; frequencies for categories and booleans, with rare categories
pooled so that no rare value leaks; nulls as their own mass) and the columns keep their
rank correlations through one correlation matrix of normal scores. Keys are regenerated
unique, free text is dropped unless a replacement rule is given. Deterministic for a seed.

- ``columns``: which columns are modelled and how; Arrow <-> numpy conversions
- ``model``: fitting the marginals and the correlation matrix
- ``sample``: drawing rows, keys, replacements; redrawing copies of source rows
- ``fidelity``, ``privacy``: the report's two halves; ``report``: headline and thresholds
- ``lineage``: the source's identity, the pointer's ``meta.synth``, ``--verify``
- ``run``: one synthesis from a source spec to a written, tracked file

numpy and scipy come from the optional extra ``gitml[synth]``; scikit-learn (the model-based
fidelity check) is used when installed.
"""

from __future__ import annotations

from gitml.errors import GitmlError


def require() -> None:
    """numpy and scipy, or one line saying how to install them."""
    try:
        import numpy  # noqa: F401
        import scipy.special  # noqa: F401
    except ImportError:
        raise GitmlError("gitml data synth needs numpy and scipy: "
                         "pip install 'gitml[synth]'") from None
