"""Training libraries into ``Live``: XGBoost and LightGBM callbacks, scikit-learn estimators.

    import xgboost as xgb
    from gitml.live.frameworks import xgboost_callback, lightgbm_callback
    with Live() as live:
        xgb.train(params, dtrain, 50, evals=[(dvalid, "valid")],
                  callbacks=[xgboost_callback(live)])        # valid.logloss per round
        lgb.train(params, train, 50, valid_sets=[valid], valid_names=["valid"],
                  callbacks=[lightgbm_callback(live)])      # valid.binary_logloss per round
        live.log_sklearn(clf, X_test, y_test)                # params, metrics, plots

Each boosting round is one step. The libraries are imported only when a callback is made.
"""

from __future__ import annotations

from typing import Any

from gitml.errors import BadInputError


def xgboost_callback(live: Any, *, model_file: str | None = None,
                     log_params: bool = True) -> Any:
    """An ``xgboost.callback.TrainingCallback`` logging every evaluation metric as
    ``<eval name>.<metric>`` per round; with ``model_file``, the booster is saved there at
    the end and recorded as an artifact."""
    try:
        from xgboost.callback import TrainingCallback
    except ImportError:
        raise BadInputError("xgboost is not installed: pip install xgboost-cpu") from None

    class GitmlXGBoost(TrainingCallback):  # type: ignore[misc]
        def before_training(self, model: Any) -> Any:
            if log_params:
                import json

                try:
                    cfg = json.loads(model.save_config())
                    learner = cfg.get("learner", {})
                    booster = learner.get("gradient_booster", {})
                    raw = {**learner.get("objective", {}).get("reg_loss_param", {}),
                           **booster.get("tree_train_param", {}),
                           "objective": learner.get("objective", {}).get("name")}
                except (ValueError, AttributeError):
                    raw = {}
                for k, v in raw.items():
                    if v is not None and v != "":
                        live.log_param(f"xgb.{k}", _num(v))
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            for data, metrics in evals_log.items():
                for metric, values in metrics.items():
                    v = values[-1]
                    live.log_metric(f"{data}.{metric}", v[0] if isinstance(v, tuple) else v)
            live.next_step()
            return False

        def after_training(self, model: Any) -> Any:
            if model_file:
                model.save_model(model_file)
                live.log_artifact(model_file, type="model")
            live.flush()
            return model

    return GitmlXGBoost()


def lightgbm_callback(live: Any, *, model_file: str | None = None,
                      log_params: bool = True) -> Any:
    """A LightGBM callback logging every validation metric as ``<valid name>.<metric>`` per
    round (``lightgbm.train(..., callbacks=[lightgbm_callback(live)])``)."""
    try:
        import lightgbm  # noqa: F401 - only to say clearly when it is missing
    except ImportError:
        raise BadInputError("lightgbm is not installed: pip install lightgbm") from None
    seen = {"params": False}

    def callback(env: Any) -> None:
        if log_params and not seen["params"]:
            seen["params"] = True
            for k, v in (env.params or {}).items():
                if isinstance(v, (int, float, str, bool)) and k != "metric":
                    live.log_param(f"lgb.{k}", v)
        for item in env.evaluation_result_list or []:
            data, metric, value = item[0], item[1], item[2]
            live.log_metric(f"{data}.{metric}", value)
        live.next_step()
        if model_file and env.iteration + 1 >= env.end_iteration:
            env.model.save_model(model_file)
            live.log_artifact(model_file, type="model")

    callback.order = 30  # type: ignore[attr-defined]  # after LightGBM's own logging
    return callback


def log_estimator(live: Any, estimator: Any, X: Any, y: Any, *, split: str = "test",
                  params: bool = True, plots: bool = True) -> dict[str, float]:
    """``Live.log_sklearn``: params, metrics and plots of a fitted estimator."""
    import numpy as np

    if not hasattr(estimator, "predict"):
        raise BadInputError(f"{type(estimator).__name__} has no predict(): not a fitted "
                            "scikit-learn estimator")
    if params and hasattr(estimator, "get_params"):
        for k, v in estimator.get_params(deep=False).items():
            if v is None or isinstance(v, (bool, int, float, str)):
                live.log_param(f"model.{k}", v)
    y_true = np.asarray(y)
    y_pred = np.asarray(estimator.predict(X))
    out: dict[str, float] = {}
    classifier = getattr(estimator, "_estimator_type", None) == "classifier" or \
        hasattr(estimator, "predict_proba") or hasattr(estimator, "classes_")
    if classifier:
        labels = np.unique(np.concatenate([y_true, y_pred]))
        out["accuracy"] = float(np.mean(y_true == y_pred))
        precisions, recalls, f1s = [], [], []
        for c in labels:
            tp = float(np.sum((y_pred == c) & (y_true == c)))
            fp = float(np.sum((y_pred == c) & (y_true != c)))
            fn = float(np.sum((y_pred != c) & (y_true == c)))
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            precisions.append(p)
            recalls.append(r)
            f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        out.update(precision=float(np.mean(precisions)), recall=float(np.mean(recalls)),
                   f1=float(np.mean(f1s)))
        classes = getattr(estimator, "classes_", labels)
        if plots:
            live.log_sklearn_plot("confusion_matrix", y_true, y_pred,
                                  name=f"{split}/confusion_matrix")
        if len(classes) == 2 and hasattr(estimator, "predict_proba"):
            score = np.asarray(estimator.predict_proba(X))[:, 1]
            pos = classes[1]
            if len(np.unique(y_true)) == 2:
                roc = live.log_sklearn_plot("roc", y_true, score, name=f"{split}/roc",
                                            pos_label=pos) if plots else None
                if roc is None:
                    from gitml.live.sklearn_plots import compute

                    roc = compute("roc", y_true, score, pos_label=pos)[1]
                out["roc_auc"] = roc["auc"]
                if plots:
                    live.log_sklearn_plot("precision_recall", y_true, score,
                                          name=f"{split}/precision_recall", pos_label=pos)
            if plots:
                live.log_sklearn_plot("calibration", y_true, score,
                                      name=f"{split}/calibration", pos_label=pos)
    else:
        err = y_true.astype(float) - y_pred.astype(float)
        var = float(np.var(y_true.astype(float)))
        out.update(mse=float(np.mean(err ** 2)), mae=float(np.mean(np.abs(err))),
                   r2=1.0 - float(np.mean(err ** 2)) / var if var else 0.0)
    for k, v in out.items():
        live.log_metric(f"{split}.{k}", v, plot=False)
    live.flush()
    return out


def _num(v: Any) -> Any:
    """XGBoost's config holds numbers as strings."""
    if isinstance(v, str):
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
    return v
