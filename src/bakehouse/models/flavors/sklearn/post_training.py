"""Post-training metrics of scikit-learn autologging, as MLflow logs them.

After an autologged ``fit``, the model remembers its run. When the user then predicts with it and scores the
prediction with a ``sklearn.metrics`` function, or calls ``model.score``, the value is logged to that run
(and its logged model) under MLflow's key ``{metric}[-{n}]_{dataset}``: ``accuracy_score_X_test``,
``LogisticRegression_score_X_test``, ``r2_score-2_X_test`` for a second call. The dataset is named after the
caller's variable holding it (``unknown_dataset`` when there is none). ``metric_info.json`` in the run maps
each key to the call that produced it. Nested calls (a metric computed inside another, a prediction inside a
metric) log nothing of their own.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: estimator methods whose results are remembered as predictions
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
_fits_lock = threading.Lock()
_fits_in_progress = 0  # depth of autologged fits in progress, process-wide like the patches themselves
_RUN_ATTR = "_bakehouse_autolog_run"  # (run_id, model_id) set on a model by its autologged fit
#: sklearn.metrics names that are not metrics
_NOT_METRICS = ("check_scoring", "get_scorer", "make_scorer", "get_scorer_names")


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.predictions: dict[int, tuple[str, str, str | None]] = {}  # id(result) -> (dataset, run, model)
        self.datasets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.calls: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))

    def nested(self) -> bool:
        return getattr(self.local, "depth", 0) > 0

    @contextlib.contextmanager
    def inner_call(self) -> Iterator[None]:
        """A patched call in progress: what it calls in turn (a metric inside ``score``) logs nothing."""
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            yield
        finally:
            self.local.depth -= 1


_registry = _Registry()


def register_model(estimator: Any, run_id: str, model_id: str | None) -> None:
    try:
        setattr(estimator, _RUN_ATTR, (run_id, model_id))
    except Exception:
        logger.debug("Cannot remember the run of %s", type(estimator).__name__, exc_info=True)


def metric_names() -> list[str]:
    from sklearn import metrics

    return [
        name
        for name in metrics.__all__
        if name not in _NOT_METRICS
        and not name.startswith("plot_")
        and callable(getattr(metrics, name))
        and not inspect.isclass(getattr(metrics, name))
    ]


# ------------------------------------------------------------------------------------------ naming
def variable_name(value: Any, fallback: str, frame: Any) -> str:
    """The name the user's code gave ``value``, starting at ``frame`` (the caller of a patched method) and
    walking out while the value is only passed along as an argument (MLflow's rule)."""
    if value is None:
        return fallback
    try:
        while frame is not None:
            info = inspect.getargvalues(frame)
            passed = [info.locals[a] for a in info.args if a in info.locals]
            if info.varargs:
                passed += list(info.locals.get(info.varargs, ()))
            if info.keywords:
                passed += list(info.locals.get(info.keywords, {}).values())
            if any(value is arg for arg in passed):
                frame = frame.f_back
                continue
            return next((name for name, v in frame.f_locals.items() if v is value), fallback)
        return fallback
    except Exception:  # noqa: BLE001 - naming is best effort
        return fallback


def _indexed(name: str, index: int) -> str:
    return name if index == 0 else f"{name}-{index + 1}"


def _dataset_name(run_id: str, data: Any, frame: Any) -> str:
    name = variable_name(data, "unknown_dataset", frame)
    with _registry.lock:
        seen = _registry.datasets[run_id][name]
        for index, known in enumerate(seen):
            if known == id(data):
                return _indexed(name, index)
        seen.append(id(data))
        return _indexed(name, len(seen) - 1)


def _describe(value: Any, frame: Any) -> str:
    import numpy as np

    if value is None or np.isscalar(value):
        return repr(value[:32] + "...") if isinstance(value, str) and len(value) > 32 else repr(value)
    return variable_name(value, f"<{type(value).__name__}>", frame)


def _call_command(
    name: str,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    bound: bool,
    frame: Any,
) -> str:
    """``accuracy_score(y_true=y_test, y_pred=<ndarray>)``: what ``metric_info.json`` records for a key."""
    parameters = list(inspect.signature(function).parameters)[1 if bound else 0 :]
    parts = [f"{p}={_describe(a, frame)}" for p, a in zip(parameters, args)]
    parts += [f"{k}={_describe(v, frame)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# ------------------------------------------------------------------------------------------ logging
def _loggable(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _log(run_id: str, model_id: str | None, metric: str, dataset: str, value: Any, command: str) -> None:
    from bakehouse.client import fluent

    with _registry.lock:
        calls = _registry.calls[run_id][metric]
        key = f"{_indexed(metric, len(calls))}_{dataset}"
        calls.append((key, command))
        info = dict(sorted(kv for per_metric in _registry.calls[run_id].values() for kv in per_metric))
    client = fluent._client()
    client.log_metric(run_id, key, float(value), model_id=model_id)
    client.log_dict(run_id, info, "metric_info.json")


# ------------------------------------------------------------------------------------------ patches
def patched_predict(
    original: Callable[..., Any], log_eval_dataset: Callable[[str, Any], None]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def predict(self: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(self, _RUN_ATTR, None)
        if owner is None or _registry.nested() or training():
            return original(self, *args, **kwargs)
        with _registry.inner_call():
            result = original(self, *args, **kwargs)
        data = args[0] if args else next(iter(kwargs.values()), None)
        try:
            run_id, model_id = owner
            dataset = _dataset_name(run_id, data, sys._getframe(1))
            _remember(result, (dataset, run_id, model_id))
            log_eval_dataset(run_id, data)
        except Exception as exc:  # noqa: BLE001 - never break the user's prediction
            logger.warning("Post-training metrics: could not track a prediction: %s", exc)
        return result

    return predict


def _remember(result: Any, owner: tuple[str, str, str | None]) -> None:
    key = id(result)
    with _registry.lock:
        _registry.predictions[key] = owner
    try:
        weakref.finalize(result, _registry.predictions.pop, key, None)
    except TypeError:  # not weak-referenceable (e.g. a list): kept until the process ends
        pass


def patched_score(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def score(self: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(self, _RUN_ATTR, None)
        if owner is None or _registry.nested() or training():
            return original(self, *args, **kwargs)
        with _registry.inner_call():
            value = original(self, *args, **kwargs)
        try:
            if _loggable(value):
                run_id, model_id = owner
                data = args[0] if args else next(iter(kwargs.values()), None)
                name = f"{type(self).__name__}_score"
                caller = sys._getframe(1)
                command = _call_command(
                    f"{type(self).__name__}.{original.__name__}", original, args, kwargs, True, caller
                )
                _log(run_id, model_id, name, _dataset_name(run_id, data, caller), value, command)
        except Exception as exc:  # noqa: BLE001 - never break the user's score()
            logger.warning("Post-training metrics: could not log %s.score: %s", type(self).__name__, exc)
        return value

    return score


def patched_metric(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def metric(*args: Any, **kwargs: Any) -> Any:
        if _registry.nested() or training() or not _registry.predictions:
            return original(*args, **kwargs)
        with _registry.inner_call():
            value = original(*args, **kwargs)
        try:
            owner = next(
                (
                    _registry.predictions[id(a)]
                    for a in (*args, *kwargs.values())
                    if a is not None and id(a) in _registry.predictions
                ),
                None,
            )
            if owner is not None and _loggable(value):
                dataset, run_id, model_id = owner
                command = _call_command(original.__name__, original, args, kwargs, False, sys._getframe(1))
                _log(run_id, model_id, original.__name__, dataset, value, command)
        except Exception as exc:  # noqa: BLE001 - never break the user's metric call
            logger.warning("Post-training metrics: could not log %s: %s", original.__name__, exc)
        return value

    return metric


@contextlib.contextmanager
def training_session() -> Iterator[None]:
    """Around an autologged fit: the fit's own predict/score calls are training, not post-training."""
    global _fits_in_progress
    with _fits_lock:
        _fits_in_progress += 1
    try:
        yield
    finally:
        with _fits_lock:
            _fits_in_progress -= 1


def training() -> bool:
    """Whether an autologged fit is in progress (in any thread: worker threads of a fit count too)."""
    return _fits_in_progress > 0
