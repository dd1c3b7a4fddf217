"""What every library's autologging shares: its options, the patches it installed, and the run it logs to.

A library's ``autolog()`` keeps one :class:`Integration`: ``configure`` stores the options and installs the
patches once; ``disable=True`` restores every patched attribute. A patched training call asks
``integration.training_run()`` for the run to log to: the active run (unless ``exclusive``), or a run it
starts and ends itself (tag ``mlflow.autologging=<flavor>`` plus ``extra_tags``; FINISHED, or FAILED if
training raises). Calls nested inside an autologged call log nothing of their own. Logging never breaks
training: a failure is a warning in the log (debug when ``silent``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bakehouse.errors import InvalidParameterError

logger = logging.getLogger(__name__)

AUTOLOGGING_TAG = "mlflow.autologging"


@dataclass(frozen=True)
class AutologConfig:
    """MLflow's common autolog options; ``options`` holds the library's own (``importance_types``, ...)."""

    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    registered_model_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Patch:
    owner: Any
    name: str
    had_own: bool
    previous: Any


class Integration:
    """One library's autologging state (process-wide, as the patches are)."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor
        self.config: AutologConfig | None = None
        self._patches: list[_Patch] = []
        self._lock = threading.RLock()
        self._depth = 0

    def configure(
        self,
        install: Callable[[Integration], None],
        *,
        disable: bool = False,
        disable_for_unsupported_versions: bool = False,
        extra_tags: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        """Store the options of an ``autolog()`` call and install the patches (once), or undo them."""
        if disable_for_unsupported_versions:
            raise InvalidParameterError(
                f"disable_for_unsupported_versions=True is not supported by bakehouse.{self.flavor}.autolog: "
                "Bakehouse keeps no table of tested library versions. Leave it False."
            )
        if extra_tags is not None and not isinstance(extra_tags, dict):
            raise InvalidParameterError(
                f"Invalid `extra_tags` type: expecting dictionary, received `{type(extra_tags).__name__}`"
            )
        tags = {str(k): str(v) for k, v in (extra_tags or {}).items()}
        if tags.pop(AUTOLOGGING_TAG, None) is not None:
            logger.warning("Tag `%s` is ignored as it is a reserved tag by autologging.", AUTOLOGGING_TAG)
        common = {k: settings.pop(k) for k in list(settings) if k in AutologConfig.__dataclass_fields__}
        with self._lock:
            if disable:
                self.unpatch()
                self.config = None
                return
            self.config = AutologConfig(extra_tags=tags, options=settings, **common)
            if not self._patches:
                install(self)

    def replace(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Set ``owner.name`` to ``make(original)``, remembering what to restore."""
        own = vars(owner)
        original = getattr(owner, name)
        self._patches.append(_Patch(owner, name, name in own, own.get(name)))
        setattr(owner, name, make(original))

    def unpatch(self) -> None:
        while self._patches:
            patch = self._patches.pop()
            if patch.had_own:
                setattr(patch.owner, patch.name, patch.previous)
            else:
                delattr(patch.owner, patch.name)

    def warn(self, message: str, *args: Any) -> None:
        silent = self.config.silent if self.config is not None else False
        logger.log(logging.DEBUG if silent else logging.WARNING, message, *args)

    @contextlib.contextmanager
    def training_run(self, *, inner: bool = False) -> Iterator[Any]:
        """The run an outermost training call logs to, or None (autolog off, nested call, ``exclusive``
        with a run the user started, or no run could be started). ``inner=True``: a call that logs its own
        part into the run of the call it is nested in (xgboost.train inside XGBClassifier.fit)."""
        config = self.config
        with self._lock:
            nested = self._depth > 0
            self._depth += 1
        try:
            from bakehouse.client import fluent

            if config is None or nested != inner:
                yield None
                return
            if inner:
                yield fluent.active_run()
                return

            managed = False
            if fluent.active_run() is not None:
                if config.exclusive:
                    yield None
                    return
            else:
                try:
                    fluent.start_run(tags={AUTOLOGGING_TAG: self.flavor, **config.extra_tags})
                    managed = True
                except Exception as exc:  # noqa: BLE001 - no run, no logging; training goes on
                    self.warn("Autologging could not start a run; this training is not logged: %s", exc)
                    yield None
                    return
            try:
                yield fluent.active_run()
            except BaseException:
                if managed:
                    self._end(fluent, "FAILED")
                raise
            if managed:
                self._end(fluent, "FINISHED")
        finally:
            with self._lock:
                self._depth -= 1

    def _end(self, fluent: Any, status: str) -> None:
        try:
            fluent.end_run(status)
        except Exception as exc:  # noqa: BLE001 - training's outcome matters more than the run's status
            self.warn("Autologging could not end its run as %s: %s", status, exc)

    @contextlib.contextmanager
    def guarded(self, what: str) -> Iterator[None]:
        """Run a logging step; a failure becomes a warning instead of failing training."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            self.warn("Autologging failed to log %s: %s", what, exc)


def flat_params(values: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Params as MLflow logs them: every value as ``str(value)``, minus the keys in ``skip``."""
    return {str(k): str(v) for k, v in values.items() if k not in skip}


def fn_args_as_params(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """MLflow's ``get_mlflow_run_params_for_fn_args``: positional args by name, keyword args, and the
    defaults of everything not passed (``self`` excluded)."""
    parameters = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    values = {p.name: v for p, v in zip(parameters[: len(args)], args)}
    values.update(kwargs)
    values.update({p.name: p.default for p in parameters[len(args) :] if p.name not in kwargs})
    return values


def log_metrics(
    run: Any, metrics: dict[str, float], *, step: int = 0, model_id: str | None = None, dataset: Any = None
) -> None:
    """One batch of metrics at ``step``, linked to the logged model (and dataset) as MLflow 3 does."""
    from bakehouse.clock import now_ms
    from bakehouse.entities import Metric

    if not metrics:
        return
    ts = now_ms()
    name, digest = getattr(dataset, "name", None), getattr(dataset, "digest", None)
    run.client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), ts, step, None, name, digest, model_id) for k, v in metrics.items()],
    )


def log_feature_importance(run: Any, importance_type: str, importance: dict[str, Any]) -> None:
    """``feature_importance_<type>.json`` and a bar chart ``feature_importance_<type>.png`` (MLflow's
    artifact names for XGBoost and LightGBM); the chart only when matplotlib is installed."""
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="bakehouse-importance-") as tmp:
        json_path = Path(tmp) / f"feature_importance_{importance_type}.json"
        json_path.write_text(json.dumps(importance), encoding="utf-8")
        run.client.log_artifact(run.info.run_id, str(json_path))
        if importlib.util.find_spec("matplotlib") is None:
            return
        import matplotlib

        matplotlib.use("Agg")  # no display: a server or a notebook kernel without a screen
        import matplotlib.pyplot as plt

        ordered = sorted(importance.items(), key=lambda kv: float(kv[1]))
        fig, ax = plt.subplots(figsize=(6.4, 4.8 + 0.1 * max(0, len(ordered) - 10)))
        try:
            ax.barh(range(len(ordered)), [float(v) for _, v in ordered], align="center", height=0.5)
            ax.set_yticks(range(len(ordered)))
            ax.set_yticklabels([str(k) for k, _ in ordered])
            ax.set_xlabel("Importance")
            ax.set_title(f"Feature Importance ({importance_type})")
            fig.tight_layout()
            png = Path(tmp) / f"feature_importance_{importance_type}.png"
            fig.savefig(png)
        finally:
            plt.close(fig)
        run.client.log_artifact(run.info.run_id, str(png))
