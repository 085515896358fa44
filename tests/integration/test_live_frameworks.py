"""Live logging beyond metrics: images per step, classifier plots computed with numpy
(checked against scikit-learn), directory artifacts, XGBoost and LightGBM callbacks and
the scikit-learn adapter with the real libraries, and how plots show/diff draw them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import git, write
from PIL import Image

from gitml import Live
from gitml.errors import BadInputError

IMAGES = "gitml-live/plots/images"


def _open(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.copy()


def test_log_image_takes_arrays_pillow_images_and_files(repo: Path) -> None:
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[1, 2] = (255, 10, 20)
    with Live() as live:
        live.log_image("arr/rgb", rgb)
        live.log_image("grey", np.linspace(0, 1, 12).reshape(3, 4))
        live.log_image("mask", np.eye(3, dtype=bool))
        live.log_image("rgba", np.full((2, 2, 4), 7, dtype=np.int64))
        live.next_step()
        live.log_image("arr/rgb", Image.new("RGB", (5, 5), (0, 0, 255)))
        live.log_image("copy", repo / IMAGES / "grey/0.png", step=7)
    im = _open(repo / IMAGES / "arr/rgb/0.png")
    assert im.size == (6, 4) and im.mode == "RGB" and im.getpixel((2, 1)) == (255, 10, 20)
    grey = _open(repo / IMAGES / "grey/0.png")
    assert grey.mode == "L" and grey.getpixel((0, 0)) == 0 and grey.getpixel((3, 2)) == 255
    assert _open(repo / IMAGES / "mask/0.png").getpixel((1, 1)) == 255
    assert _open(repo / IMAGES / "rgba/0.png").mode == "RGBA"
    assert _open(repo / IMAGES / "arr/rgb/1.png").getpixel((0, 0)) == (0, 0, 255)
    assert (repo / IMAGES / "copy/7.png").read_bytes() == (repo / IMAGES / "grey/0.png"
                                                          ).read_bytes()
    # a new run starts clean
    with Live() as live:
        live.log_metric("x", 1)
    assert not (repo / IMAGES).exists() or not any((repo / IMAGES).rglob("*.png"))


@pytest.mark.parametrize("image, message", [
    (np.zeros((2, 2, 2)), "expected an H x W, H x W x 3 or H x W x 4 array"),
    (np.array([[np.nan]]), "NaN or infinite"),
    (np.array([[300]]), "integer pixels must be 0..255"),
    ("nope.png", "cannot read nope.png"),
    ({"a": 1}, "expected a file path, a Pillow image or a numpy array, not dict"),
])
def test_bad_images_are_refused_and_nothing_is_written(repo: Path, image, message) -> None:
    with Live() as live, pytest.raises(BadInputError, match=re.escape(message)):
        live.log_image("bad", image)
    assert not (repo / IMAGES / "bad").exists() or not any((repo / IMAGES / "bad").iterdir())


def test_svg_and_bad_names_are_refused(repo: Path) -> None:
    write(repo / "x.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>')
    with Live() as live:
        with pytest.raises(BadInputError, match="is not a PNG, JPEG, GIF or WebP image"):
            live.log_image("vec", repo / "x.svg")
        for name in ("../up", "/abs", "", "a//b"):
            with pytest.raises(BadInputError):
                live.log_image(name, np.zeros((2, 2)))
        with pytest.raises(BadInputError, match="step must be a non-negative integer"):
            live.log_image("ok", np.zeros((2, 2)), step=-1)


def test_classifier_plots_match_scikit_learn(repo: Path) -> None:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    score = np.clip(0.35 * y + rng.random(300) * 0.65, 0, 1).round(2)  # ties on purpose
    with Live() as live:
        roc = live.log_sklearn_plot("roc", y, score)
        pr = live.log_sklearn_plot("precision_recall", y, score)
        cal = live.log_sklearn_plot("calibration", y, score, n_bins=7)
        cm = live.log_sklearn_plot("confusion_matrix", np.array(["a", "b", "b"]),
                                   np.array(["a", "a", "b"]), name="val/cm")
    doc = json.loads((repo / "gitml-live/plots/sklearn/roc.json").read_text())
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    assert np.allclose([r["fpr"] for r in doc["roc"]], fpr)
    assert np.allclose([r["tpr"] for r in doc["roc"]], tpr)
    assert roc["auc"] == pytest.approx(roc_auc_score(y, score))
    doc = json.loads((repo / "gitml-live/plots/sklearn/precision_recall.json").read_text())
    prec, rec, _ = precision_recall_curve(y, score)
    assert np.allclose([r["precision"] for r in doc["precision_recall"]], prec)
    assert np.allclose([r["recall"] for r in doc["precision_recall"]], rec)
    assert pr["average_precision"] == pytest.approx(average_precision_score(y, score))
    doc = json.loads((repo / "gitml-live/plots/sklearn/calibration.json").read_text())
    true, pred = calibration_curve(y, score, n_bins=7)
    assert np.allclose([r["prob_true"] for r in doc["calibration"]], true)
    assert np.allclose([r["prob_pred"] for r in doc["calibration"]], pred)
    assert cal["brier"] == pytest.approx(float(np.mean((score - y) ** 2)))
    assert cm == {"accuracy": pytest.approx(2 / 3)}
    with Live(resume=True) as live:
        for args, message in [
            (("pie", y, score), "plot kind must be one of confusion_matrix, roc"),
            (("roc", np.ones(5), np.ones(5)), "y_true needs both classes"),
            (("roc", y, score[:10]), "must be 1-D and of the same non-zero length"),
            (("calibration", y, score * 2), "probabilities in [0, 1]"),
            (("roc", y, np.array(["x"] * 300)), "must be scores or probabilities"),
        ]:
            with pytest.raises(BadInputError, match=re.escape(message)):
                live.log_sklearn_plot(*args)


def test_plots_draw_sklearn_files_with_their_own_settings_and_images_per_revision(
        repo: Path, cli) -> None:
    def run(seed: int, steps: int) -> None:
        rng = np.random.default_rng(seed)
        with Live() as live:
            y = rng.integers(0, 2, 50)
            live.log_sklearn_plot("roc", y, rng.random(50))
            live.log_sklearn_plot("confusion_matrix", y, rng.integers(0, 2, 50))
            for s in range(steps):
                live.log_image("pred", rng.random((3, 3)))
                live.log_metric("loss", 1 / (s + 1))
                live.next_step()

    run(1, 3)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "switch", "-q", "-c", "exp")
    run(2, 5)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exp")
    res = cli("plots", "diff", "main", "exp", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    by_title = {c["title"]: c for c in data["charts"]}
    assert by_title["ROC"]["x"] == "fpr" and by_title["ROC"]["y"] == "tpr"
    assert by_title["Confusion matrix"]["template"] == "confusion"
    assert data["images"] == [{"name": "pred", "revisions": {"main": [0, 1, 2],
                                                            "exp": [0, 1, 2, 3, 4]}}]
    res = cli("plots", "diff", "main", "exp", "-o", "p.html")
    assert "image pred: main 3 · exp 5 steps" in res.out
    page = (repo / "p.html").read_text()
    section = page.split('<section class="imgset" data-name="pred">')[1].split("</section>")[0]
    figs = section.split("<figure>")[1:]
    assert [f.count("<img ") for f in figs] == [3, 5]
    assert 'src="data:image/png;base64,' in figs[0]


def test_log_artifact_of_a_directory(repo: Path) -> None:
    write(repo / "model/weights.bin", b"\x00" * 100)
    write(repo / "model/config.json", "{}")
    with Live() as live:
        rec = live.log_artifact("model", type="model")
    assert rec["pointer"] == "model.gitml" and rec["size"] == 102
    assert (repo / "model.gitml").exists()
    doc = (repo / "gitml-live/artifacts.yaml").read_text()
    assert "path: model\n" in doc and "type: model" in doc


def _data(n: int = 240):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X[:180], y[:180], X[180:], y[180:]


def _series(repo: Path, name: str) -> list[float]:
    lines = (repo / f"gitml-live/plots/metrics/{name}.tsv").read_text().splitlines()[1:]
    return [float(x.split("\t")[1]) for x in lines]


def test_xgboost_callback_logs_every_round(repo: Path) -> None:
    import xgboost as xgb

    from gitml.live.frameworks import xgboost_callback

    Xt, yt, Xv, yv = _data()
    dtrain, dvalid = xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)
    history: dict = {}
    with Live() as live:
        xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "nthread": 1},
                  dtrain, 12, evals=[(dtrain, "train"), (dvalid, "valid")],
                  evals_result=history, verbose_eval=False,
                  callbacks=[xgboost_callback(live, model_file="model.ubj")])
    assert _series(repo, "valid.logloss") == pytest.approx(history["valid"]["logloss"])
    assert len(_series(repo, "train.logloss")) == 12
    metrics = json.loads((repo / "gitml-live/metrics.json").read_text())
    assert metrics["valid"]["logloss"] == pytest.approx(history["valid"]["logloss"][-1])
    params = (repo / "gitml-live/params.yaml").read_text()
    assert "max_depth: 2" in params and "objective: binary:logistic" in params
    assert "path: model.ubj" in (repo / "gitml-live/artifacts.yaml").read_text()
    assert (repo / "model.ubj.gitml").exists()


def test_lightgbm_callback_logs_every_round(repo: Path) -> None:
    import lightgbm as lgb

    from gitml.live.frameworks import lightgbm_callback

    Xt, yt, Xv, yv = _data()
    history: dict = {}
    with Live() as live:
        lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1,
                   "min_data_in_leaf": 5},
                  lgb.Dataset(Xt, label=yt), 10, valid_sets=[lgb.Dataset(Xv, label=yv)],
                  valid_names=["valid"],
                  callbacks=[lgb.record_evaluation(history), lightgbm_callback(live)])
    assert _series(repo, "valid.binary_logloss") == pytest.approx(
        history["valid"]["binary_logloss"])
    assert "num_leaves: 4" in (repo / "gitml-live/params.yaml").read_text()


def test_sklearn_adapter_logs_params_metrics_and_plots(repo: Path) -> None:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

    Xt, yt, Xv, yv = _data()
    clf = LogisticRegression(C=0.5).fit(Xt, yt)
    with Live() as live:
        out = live.log_sklearn(clf, Xv, yv)
        reg = Ridge(alpha=2.0).fit(Xt, Xt[:, 0] * 3)
        rout = live.log_sklearn(reg, Xv, Xv[:, 0] * 3, split="reg")
    assert out["accuracy"] == pytest.approx(accuracy_score(yv, clf.predict(Xv)))
    assert out["f1"] == pytest.approx(f1_score(yv, clf.predict(Xv), average="macro"))
    assert out["roc_auc"] == pytest.approx(roc_auc_score(yv, clf.predict_proba(Xv)[:, 1]))
    assert rout["r2"] == pytest.approx(r2_score(Xv[:, 0] * 3, reg.predict(Xv)))
    metrics = json.loads((repo / "gitml-live/metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(out["accuracy"])
    assert "C: 0.5" in (repo / "gitml-live/params.yaml").read_text()
    names = sorted(p.name for p in (repo / "gitml-live/plots/sklearn/test").iterdir())
    assert names == ["calibration.json", "confusion_matrix.json", "precision_recall.json",
                     "roc.json"]
    with Live(resume=True) as live, pytest.raises(BadInputError, match="has no predict"):
        live.log_sklearn(object(), Xv, yv)
