"""Classifier plots for ``Live.log_sklearn_plot``, computed with numpy (scikit-learn is not
needed; the numbers match ``sklearn.metrics`` and ``sklearn.calibration``, which the tests
check).

Each kind gives records and the drawing settings gitml stores beside them, so ``gitml
plots`` draws the file without a declaration in gitml.yaml.
"""

from __future__ import annotations

from typing import Any

from gitml.errors import BadInputError

KINDS = ("confusion_matrix", "roc", "precision_recall", "calibration")
SETTINGS = {
    "confusion_matrix": {"template": "confusion", "x": "actual", "y": "predicted",
                         "title": "Confusion matrix"},
    "roc": {"template": "line", "x": "fpr", "y": "tpr", "title": "ROC",
            "x_label": "false positive rate", "y_label": "true positive rate"},
    "precision_recall": {"template": "line", "x": "recall", "y": "precision",
                         "title": "Precision-recall"},
    "calibration": {"template": "line", "x": "prob_pred", "y": "prob_true",
                    "title": "Calibration", "x_label": "mean predicted probability",
                    "y_label": "fraction of positives"},
}


def compute(kind: str, y_true: Any, y_pred: Any, *, n_bins: int = 5,
            pos_label: Any = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records, summary) for ``kind``; the summary has e.g. ``auc`` or ``accuracy``."""
    from gitml.live.images import numpy

    np = numpy()

    if kind not in KINDS:
        raise BadInputError(f"plot kind must be one of {', '.join(KINDS)}, not {kind!r}")
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1 or len(t) != len(p) or len(t) == 0:
        raise BadInputError(f"{kind}: y_true and y_pred must be 1-D and of the same "
                            f"non-zero length (got {t.shape} and {p.shape})")
    if kind == "confusion_matrix":
        recs = [{"actual": _plain(a), "predicted": _plain(b)} for a, b in zip(t, p, strict=True)]
        return recs, {"accuracy": float(np.mean(t == p))}
    try:
        score = p.astype(float)
    except (TypeError, ValueError):
        raise BadInputError(f"{kind}: y_pred must be scores or probabilities (numbers)") \
            from None
    if not np.isfinite(score).all():
        raise BadInputError(f"{kind}: the scores have NaN or infinite values")
    pos = t == pos_label
    if kind != "calibration" and (pos.all() or not pos.any()):
        raise BadInputError(f"{kind}: y_true needs both classes (positive: {pos_label!r})")
    if kind == "calibration":
        return _calibration(pos, score, n_bins)
    tps, fps, thresholds = _binary_counts(pos, score)
    if kind == "roc":
        # sklearn's roc_curve(drop_intermediate=False): a first point at (0, 0)
        fpr = np.concatenate([[0.0], fps / fps[-1]])
        tpr = np.concatenate([[0.0], tps / tps[-1]])
        thr = np.concatenate([[np.inf], thresholds])
        recs = [{"fpr": float(a), "tpr": float(b), "threshold": _finite(c)}
                for a, b, c in zip(fpr, tpr, thr, strict=True)]
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        return recs, {"auc": auc}
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    # sklearn's precision_recall_curve: recall descending, ending at (recall 0, precision 1)
    precision = np.concatenate([precision[::-1], [1.0]])
    recall = np.concatenate([recall[::-1], [0.0]])
    thr = thresholds[::-1]
    recs = [{"recall": float(r), "precision": float(q),
             "threshold": _finite(thr[i]) if i < len(thr) else None}
            for i, (r, q) in enumerate(zip(recall, precision, strict=True))]
    ap = float(-np.sum(np.diff(recall) * precision[:-1]))
    return recs, {"average_precision": ap}


def _binary_counts(pos: Any, score: Any) -> tuple[Any, Any, Any]:
    """Cumulative true and false positives at each distinct score, highest first."""
    import numpy as np

    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    y = pos[order].astype(float)
    distinct = np.where(np.diff(s))[0]
    ends = np.concatenate([distinct, [len(s) - 1]])
    tps = np.cumsum(y)[ends]
    fps = 1 + ends - tps
    return tps, fps, s[ends]


def _calibration(pos: Any, score: Any, n_bins: int
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import numpy as np

    if score.min() < 0 or score.max() > 1:
        raise BadInputError("calibration: y_pred must be probabilities in [0, 1]")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise BadInputError(f"calibration: n_bins must be a positive integer, not {n_bins!r}")
    # sklearn's calibration_curve(strategy="uniform"): n_bins equal bins, empty ones dropped
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], score)
    total = np.bincount(ids, minlength=n_bins)
    hits = np.bincount(ids, weights=pos.astype(float), minlength=n_bins)
    sums = np.bincount(ids, weights=score, minlength=n_bins)
    keep = total != 0
    true = hits[keep] / total[keep]
    pred = sums[keep] / total[keep]
    recs = [{"prob_pred": float(a), "prob_true": float(b), "count": int(c)}
            for a, b, c in zip(pred, true, total[keep], strict=True)]
    brier = float(np.mean((score - pos) ** 2))
    return recs, {"brier": brier}


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _finite(v: Any) -> float | None:
    import math

    f = float(v)
    return f if math.isfinite(f) else None
