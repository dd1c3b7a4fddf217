"""``bakehouse.statsmodels.autolog()``: MLflow's statsmodels autologging, under its names.

The outermost ``fit`` of any statsmodels model logs its call arguments (explicit and defaulted) as params,
the fitted results' allowlisted statistics as metrics (``aic``, ``bic``, ``rsquared``, ...), the text summary
as ``model_summary.txt`` and the results as the model ``model`` (a statsmodels pickle: loading it needs the
pickle opt-in).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors.autologging import Integration, flat_params, fn_args_as_params, log_metrics

FLAVOR_NAME = "statsmodels"
#: MLflow's list of result attributes logged as metrics (when numeric)
METRIC_ALLOWLIST = (
    "aic",
    "bic",
    "centered_tss",
    "condition_number",
    "df_model",
    "df_resid",
    "ess",
    "f_pvalue",
    "fvalue",
    "llf",
    "mse_model",
    "mse_resid",
    "mse_total",
    "rsquared",
    "rsquared_adj",
    "scale",
    "ssr",
    "uncentered_tss",
)

integration = Integration(FLAVOR_NAME)


def autolog(
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of statsmodels ``fit`` calls; MLflow's keywords."""
    integration.configure(
        _install,
        disable=disable,
        disable_for_unsupported_versions=disable_for_unsupported_versions,
        extra_tags=extra_tags,
        log_models=log_models,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
    )


def _subclasses(cls: type) -> set[type]:
    found: set[type] = {cls}
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found |= _subclasses(sub)
    return found


def _install(integration: Integration) -> None:
    import statsmodels.api  # noqa: F401 - registers every model class, so the subclass walk finds them
    from statsmodels.base.model import Model

    for cls in sorted(_subclasses(Model), key=lambda c: (c.__module__, c.__qualname__)):
        if "fit" in vars(cls):
            integration.replace(cls, "fit", _patched_fit)


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with integration.training_run() as run:
            if run is None:
                return original(self, *args, **kwargs)
            with integration.guarded("the fit parameters"):
                run.client.log_batch(run.info.run_id, params=_params(original, args, kwargs))
            results = original(self, *args, **kwargs)
            _log_results(run, results)
            return results

    return fit


def _params(fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    from bakehouse.entities import Param

    return [Param(k, v) for k, v in flat_params(fn_args_as_params(fit, args, kwargs)).items()]


def _log_results(run: Any, results: Any) -> None:
    from statsmodels.base.wrapper import ResultsWrapper

    config = integration.config
    model_id = None
    if config is not None and config.log_models:
        flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

        with integration.guarded("the model"):
            model_id = flavor.log_model(
                results, "model", registered_model_name=config.registered_model_name
            ).model_id
    if isinstance(results, ResultsWrapper):
        with integration.guarded("the metrics"):
            log_metrics(run, metrics_of(results), model_id=model_id)
        with integration.guarded("model_summary.txt"):
            run.client.log_text(run.info.run_id, results.summary().as_text(), "model_summary.txt")


def metrics_of(results: Any) -> dict[str, float]:
    import numpy as np

    values: dict[str, float] = {}
    for name in METRIC_ALLOWLIST:
        try:
            value = getattr(results, name, None)
        except Exception:  # noqa: BLE001 - a statistic statsmodels cannot compute for this model
            integration.warn("Failed to autolog metric %s.", name)
            continue
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            values[name] = float(value)
    return values
