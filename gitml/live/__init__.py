"""The training logger: ``from gitml import Live``.

Live writes into its own folder (default ``gitml-live/`` at the top of the Git work tree,
or of the current directory outside Git), never into ``gitml.yaml``, so ``gitml metrics``,
``params`` and ``plots`` find everything by convention::

    gitml-live/metrics.json                   latest value of every metric (nested on '.')
    gitml-live/params.yaml                    logged params (nested on '.')
    gitml-live/plots/metrics/<name>.tsv       one series per metric: step<TAB>value
    gitml-live/artifacts.yaml                 artifacts recorded with log_artifact
    gitml-live/plots/images/<name>/<step>.png one image per name and step (log_image)
    gitml-live/plots/sklearn/<name>.json      confusion matrix, ROC, PR, calibration

``log_metric`` only appends to an in-memory buffer (a few microseconds); the files are
written by :meth:`Live.flush`, which runs on ``next_step`` at most every ``flush_every``
seconds, when the buffer is large, when the ``with`` block ends (also through an
exception), on ``close()``, and at interpreter exit (``atexit``: an uncaught exception or
``sys.exit`` included). Only a hard kill (SIGKILL, ``os._exit``) loses what was logged
since the last flush.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import time
from collections.abc import Mapping
from typing import Any

from gitml.errors import BadInputError, GitmlError, NotARepoError, UnsafePathError
from gitml.fsutil import atomic_write, check_relpath

DEFAULT_DIR = "gitml-live"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.yaml"
ARTIFACTS_FILE = "artifacts.yaml"
SERIES_DIR = "plots/metrics"
IMAGES_DIR = "plots/images"
SKLEARN_DIR = "plots/sklearn"
SERIES_HEADER = "step\tvalue\n"
ARTIFACT_TYPES = ("model", "data", "dataset", "other")
STAGE_ENV, ROOT_ENV = "GITML_STAGE", "GITML_ROOT"  # set by the pipeline for a stage's command
_MAX_PENDING = 100_000  # buffered points before a flush, whatever the clock says


def _root_or_cwd() -> str:
    from gitml import gitio

    if os.environ.get(ROOT_ENV):  # a pipeline stage: the root repro runs it for
        return os.environ[ROOT_ENV]
    try:
        return gitio.find_root()
    except NotARepoError:
        return os.getcwd()


def _nest(flat: Mapping[str, Any], what: str) -> dict[str, Any]:
    """{"train.loss": 1} -> {"train": {"loss": 1}}; a clash of a value and a group is an error."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise BadInputError(f"{what} name {key!r} clashes with {'.'.join(parts[:i + 1])!r}")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise BadInputError(f"{what} name {key!r} clashes with names below it")
        node[parts[-1]] = value
    return out


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"{what} name must be a non-empty string, not {name!r}")
    if any(ord(c) < 32 for c in name) or "\\" in name or name != name.strip():
        raise BadInputError(f"{what} name {name!r} has control characters, backslashes or "
                            "surrounding spaces")
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise BadInputError(f"{what} name {name!r}: use '.' only between parts (train.loss)")
    return name


class Live:
    """Log params, metrics per step and artifacts into ``dir`` for Git to version.

    ``resume=True`` continues the series of a previous run (the step after its last one);
    otherwise the folder's previous metrics, params, series and artifacts are cleared.
    """

    def __init__(self, dir: str = DEFAULT_DIR, *, resume: bool = False,
                 flush_every: float = 5.0) -> None:
        self.dir = dir if os.path.isabs(dir) else os.path.join(_root_or_cwd(), dir)
        self.flush_every = float(flush_every)
        self._step = 0
        self._latest: dict[str, float] = {}
        self._params: dict[str, Any] = {}
        self._artifacts: list[dict[str, Any]] = []
        self._pending: dict[str, list[tuple[int, float]]] = {}
        self._npending = 0
        self._dirty = False  # metrics.json / params.yaml / artifacts.yaml need rewriting
        self._closed = False
        os.makedirs(self.dir, exist_ok=True)
        if resume:
            self._load_previous()
        else:
            self._clear_previous()
        self._last_flush = time.monotonic()
        atexit.register(self._at_exit)

    # -- the logging calls ------------------------------------------------------------
    @property
    def step(self) -> int:
        """The step that the next ``log_metric`` calls are recorded at."""
        return self._step

    @step.setter
    def step(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadInputError(f"step must be a non-negative integer, not {value!r}")
        self._step = value

    def log_metric(self, name: str, value: float, *, plot: bool = True) -> None:
        """Record ``value`` for ``name`` at the current step (and in its series if ``plot``)."""
        try:
            if isinstance(value, str):
                raise TypeError
            v = float(value)  # also numpy scalars and 0-d tensors
        except (TypeError, ValueError):
            raise BadInputError(f"metric {name!r}: value {value!r} is not a number") from None
        latest = self._latest
        if name not in latest:
            self._new_metric(name)
        latest[name] = v
        self._dirty = True
        if plot:
            self._pending[name].append((self._step, v))
            self._npending += 1
            if self._npending >= _MAX_PENDING:
                self.flush()

    def log_param(self, name: str, value: Any) -> None:
        """Record a param (a number, string, bool, None, or a list/dict of those)."""
        _check_name(name, "param")
        value = _plain(value, name)
        _nest({**self._params, name: value}, "param")  # fail now, at the call that clashes
        self._params[name] = value
        self._dirty = True

    def log_params(self, params: Mapping[str, Any]) -> None:
        for name, value in params.items():
            self.log_param(name, value)

    def next_step(self) -> None:
        """Move to the next step; writes the files if ``flush_every`` seconds have passed."""
        self._step += 1
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def log_artifact(self, path: str, type: str = "model", name: str | None = None,
                     desc: str | None = None, add: bool | None = None) -> dict[str, Any]:
        """Record an artifact (a model file or directory) in ``artifacts.yaml``.

        Inside a gitml repository the artifact is also stored with ``gitml add`` (its
        pointer is written beside it). It is only recorded outside a repository, with
        ``add=False``, and inside a pipeline stage (``gitml repro`` / ``exp run`` hold the
        workspace lock and store the stage's declared ``outs`` themselves). When the add
        fails (say the file is tracked by Git) a long run is not thrown away at its last
        line: the artifact is recorded, and the reason printed on stderr. ``add=True``
        makes both cases errors. Returns the record.
        """
        if type not in ARTIFACT_TYPES:
            raise BadInputError(f"artifact type must be one of {', '.join(ARTIFACT_TYPES)}, "
                                f"not {type!r}")
        full = os.path.abspath(path)
        if not os.path.exists(full):
            raise BadInputError(f"artifact {path} does not exist")
        record: dict[str, Any] = {"path": path, "type": type}
        if name:
            record["name"] = name
        if desc:
            record["desc"] = desc
        in_stage = bool(os.environ.get(STAGE_ENV))
        repo = _repo_for(full) if add or (add is None and not in_stage) else None
        if add and repo is None:
            raise BadInputError(f"cannot add {path}: not inside a gitml repository")
        if repo is not None:
            with repo:
                record["path"] = repo.rel(full)
                try:
                    result = repo.add([full], quiet=True)[0]
                except GitmlError as e:
                    if add:
                        raise
                    _warn(f"recorded {record['path']} without storing it: {e}")
                else:
                    record.update(hash=result.oid, size=result.size, pointer=result.pointer)
        self._artifacts = [a for a in self._artifacts if a["path"] != record["path"]]
        self._artifacts.append(record)
        self._dirty = True
        self.flush()
        return record

    def log_image(self, name: str, image: Any, *, step: int | None = None) -> str:
        """Save ``image`` (a PNG/JPEG/GIF/WebP file path, a Pillow image or a numpy array)
        as ``plots/images/<name>/<step>.<ext>`` (default: the current step); returns its
        path. Written at once (an image is not buffered)."""
        from gitml.live.images import encode

        self._check_path_name(name, "image")
        at = self._step if step is None else step
        if not isinstance(at, int) or isinstance(at, bool) or at < 0:
            raise BadInputError(f"image {name!r}: step must be a non-negative integer, "
                                f"not {at!r}")
        data, ext = encode(image, f"image {name!r}")
        folder = os.path.join(self.dir, *IMAGES_DIR.split("/"), *name.split("/"))
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):  # one image per step, whatever its format
            if old.rsplit(".", 1)[0] == str(at):
                os.unlink(os.path.join(folder, old))
        path = os.path.join(folder, f"{at}.{ext}")
        atomic_write(path, data, durable=False)
        return path

    def log_sklearn_plot(self, kind: str, y_true: Any, y_pred: Any, *,
                         name: str | None = None, **options: Any) -> dict[str, Any]:
        """Compute a classifier plot with numpy and save it as
        ``plots/sklearn/<name or kind>.json`` (drawn by ``gitml plots`` without a
        declaration). ``kind``: confusion_matrix (labels), roc, precision_recall
        (binary labels and scores), calibration (binary labels and probabilities;
        ``n_bins``). ``pos_label`` (default 1) names the positive class. Returns the
        summary: accuracy, auc, average_precision or brier."""
        from gitml.live.sklearn_plots import SETTINGS, compute

        out_name = name or kind
        self._check_path_name(out_name, "plot")
        records, summary = compute(kind, y_true, y_pred, **options)
        doc = {"plot": {**SETTINGS[kind], "kind": kind}, "summary": summary, kind: records}
        path = os.path.join(self.dir, *SKLEARN_DIR.split("/"), *f"{out_name}.json".split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, (json.dumps(doc, indent=1) + "\n").encode(), durable=False)
        return summary

    def log_sklearn(self, estimator: Any, X: Any, y: Any, *, split: str = "test",
                    params: bool = True, plots: bool = True) -> dict[str, float]:
        """One call for a fitted scikit-learn estimator: its params (``model.*``), its
        metrics on ``X, y`` (``<split>.accuracy`` ... for a classifier, ``<split>.r2`` ...
        for a regressor) and, for a classifier, the confusion matrix (and ROC,
        precision-recall and calibration when it is binary with ``predict_proba``)."""
        from gitml.live.frameworks import log_estimator

        return log_estimator(self, estimator, X, y, split=split, params=params, plots=plots)

    def _check_path_name(self, name: str, what: str) -> None:
        _check_name(name, what)
        try:
            check_relpath(name)
        except UnsafePathError:
            raise BadInputError(f"{what} name {name!r} must not start or end with '/' or "
                                "contain empty parts") from None

    # -- files ------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered series points and the latest metrics, params and artifacts."""
        if self._npending:
            for name, rows in self._pending.items():
                if rows:
                    self._append_series(name, rows)
                    rows.clear()
            self._npending = 0
        if self._dirty:
            self._dirty = False
            latest = {k: (v if math.isfinite(v) else None) for k, v in self._latest.items()}
            self._write(METRICS_FILE, (json.dumps(_nest(latest, "metric"), indent=2) + "\n"))
            if self._params:
                from gitml import yamlio

                self._write(PARAMS_FILE, yamlio.dumps(_nest(self._params, "param")))
            if self._artifacts:
                from gitml import yamlio

                self._write(ARTIFACTS_FILE, yamlio.dumps({"artifacts": self._artifacts}))
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and stop; safe to call twice."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        atexit.unregister(self._at_exit)

    def __enter__(self) -> Live:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # also on an exception: what was logged is kept, the error propagates

    def _at_exit(self) -> None:
        try:
            self.close()
        except Exception as e:  # at exit nobody can catch it: say so, don't traceback
            _warn(f"could not write {self.dir}: {e}")

    def series_path(self, name: str) -> str:
        return os.path.join(self.dir, *SERIES_DIR.split("/"), *f"{name}.tsv".split("/"))

    def _new_metric(self, name: str) -> None:
        _check_name(name, "metric")
        try:
            check_relpath(f"{name}.tsv")
        except UnsafePathError:
            raise BadInputError(f"metric name {name!r} must not start or end with '/' or "
                                "contain empty parts (use train/loss or train.loss)") from None
        _nest({**dict.fromkeys(self._latest, 0), name: 0}, "metric")
        self._latest[name] = math.nan
        self._pending.setdefault(name, [])

    def _append_series(self, name: str, rows: list[tuple[int, float]]) -> None:
        path = self.series_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = "".join([f"{s}\t{v!r}\n" for s, v in rows])
        with open(path, "a", encoding="utf-8") as f:
            if f.tell() == 0:
                f.write(SERIES_HEADER)
            f.write(text)

    def _write(self, rel: str, text: str) -> None:
        # Not durable on purpose: a rename is atomic; an fsync per step would cost ms.
        atomic_write(os.path.join(self.dir, rel), text.encode(), durable=False)

    def _clear_previous(self) -> None:
        for rel in (METRICS_FILE, PARAMS_FILE, ARTIFACTS_FILE):
            try:
                os.unlink(os.path.join(self.dir, rel))
            except FileNotFoundError:
                pass
        for sub, ends in ((SERIES_DIR, (".tsv",)), (SKLEARN_DIR, (".json",)),
                          (IMAGES_DIR, (".png", ".jpg", ".gif", ".webp"))):
            folder = os.path.join(self.dir, *sub.split("/"))
            for top, _dirs, files in os.walk(folder, topdown=False):
                for f in files:
                    if f.endswith(ends):
                        os.unlink(os.path.join(top, f))
                if top != folder and not os.listdir(top):
                    os.rmdir(top)

    def _load_previous(self) -> None:
        from gitml import structured, yamlio

        def read(rel: str) -> bytes | None:
            try:
                with open(os.path.join(self.dir, rel), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        data = read(METRICS_FILE)
        if data:
            flat = structured.flatten(structured.parse(data, METRICS_FILE, self.dir))
            self._latest = {k: float(v) if v is not None else math.nan
                            for k, v in flat.items() if isinstance(v, (int, float, type(None)))}
            for k in self._latest:
                self._pending[k] = []
        data = read(PARAMS_FILE)
        if data:
            self._params = structured.flatten(yamlio.loads(data, PARAMS_FILE, "values") or {})
        data = read(ARTIFACTS_FILE)
        if data:
            self._artifacts = list((yamlio.loads(data, ARTIFACTS_FILE, "values") or {})
                                   .get("artifacts") or [])
        last = -1
        series = os.path.join(self.dir, *SERIES_DIR.split("/"))
        for top, _dirs, files in os.walk(series):
            for f in files:
                if f.endswith(".tsv"):
                    last = max(last, _last_step(os.path.join(top, f)))
        self._step = last + 1


def _last_step(path: str) -> int:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4096))
        lines = f.read().decode(errors="replace").strip().splitlines()
    try:
        return int(lines[-1].split("\t")[0]) if lines else -1
    except ValueError:
        return -1


def _plain(value: Any, name: str) -> Any:
    """``value`` as YAML-safe plain data (tuples become lists); anything else is an error."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, name) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _plain(value.item(), name)
        except (TypeError, ValueError):
            pass
    raise BadInputError(f"param {name!r}: {type(value).__name__} is not a number, string, "
                        "bool, list or mapping")


def _repo_for(path: str) -> Any:
    """The gitml repository containing ``path``, or None."""
    from gitml.repo import Repo

    try:
        repo = Repo(os.path.dirname(path))
    except GitmlError:
        return None
    if os.path.relpath(path, repo.root).startswith(".."):
        return None
    return repo


def _warn(message: str) -> None:
    import sys

    print(f"gitml Live: {message}", file=sys.stderr)
