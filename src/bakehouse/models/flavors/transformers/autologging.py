"""``bakehouse.transformers.autolog()``: what MLflow's transformers autologging logs from ``Trainer.train``.

MLflow turns on transformers' own ``MLflowCallback``; this is the same callback written for Bakehouse:
the training arguments and the model config as params (values longer than 6,000 characters dropped, as
there), every numeric value the Trainer logs (``loss``, ``learning_rate``, ``grad_norm``, ``epoch``,
``train_runtime``, ...) at step = global step. Like MLflow, no model is logged (``log_models`` defaults to
False). Deliberate difference: a run started by autologging carries the tag ``mlflow.autologging=transformers``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors.autologging import Integration, flat_params, log_metrics

FLAVOR_NAME = "transformers"
#: MLflow's MAX_PARAM_VAL_LENGTH, which transformers' MLflowCallback drops longer values at
MAX_PARAM_VALUE_LENGTH = 6000
_PARAMS_PER_BATCH = 100

integration = Integration(FLAVOR_NAME)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = False,
    log_models: bool = False,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of ``Trainer.train``; MLflow's keywords."""
    integration.configure(
        _install,
        disable=disable,
        disable_for_unsupported_versions=disable_for_unsupported_versions,
        extra_tags=extra_tags,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
    )


def _install(integration: Integration) -> None:
    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

    transformers = flavor._transformers()
    for cls in (transformers.Trainer, transformers.Seq2SeqTrainer):
        if "train" in vars(cls):
            integration.replace(cls, "train", _patched_train)


def _callback(run: Any) -> Any:
    import torch
    import transformers

    class Callback(transformers.TrainerCallback):
        def on_train_begin(
            self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
        ) -> None:
            from bakehouse.entities import Param

            if not state.is_world_process_zero:
                return
            with integration.guarded("the training arguments"):
                values = args.to_dict()
                if getattr(model, "config", None) is not None:
                    values = {**model.config.to_dict(), **values}
                params = {k: v for k, v in flat_params(values).items() if len(v) <= MAX_PARAM_VALUE_LENGTH}
                items = [Param(k, v) for k, v in params.items()]
                for start in range(0, len(items), _PARAMS_PER_BATCH):
                    run.client.log_batch(run.info.run_id, params=items[start : start + _PARAMS_PER_BATCH])

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            metrics: dict[str, float] = {}
            for key, value in logs.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[key] = float(value)
                elif isinstance(value, torch.Tensor) and value.numel() == 1:
                    metrics[key] = float(value.item())
            sanitized = {re.sub(r"[^0-9A-Za-z_\-\.\ :/]", "_", k): v for k, v in metrics.items()}
            with integration.guarded("the training metrics"):
                log_metrics(run, sanitized, step=state.global_step)

    return Callback()


def _patched_train(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        with integration.training_run() as run:
            if run is None:
                return original(self, *args, **kwargs)
            callback = _callback(run)
            self.add_callback(callback)
            try:
                return original(self, *args, **kwargs)
            finally:
                self.remove_callback(callback)

    return train
