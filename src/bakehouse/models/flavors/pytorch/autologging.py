"""``bakehouse.pytorch.autolog()``: MLflow's PyTorch Lightning autologging, under its names.

``Trainer.fit`` logs ``epochs``, ``optimizer_name`` and the optimizer's defaults (``lr``, ``momentum``, ...) as
params, tag ``Mode=training``, the trainer's callback metrics at the end of every ``log_every_n_epoch`` epochs
(step = epoch), the best checkpoint by ``checkpoint_monitor`` as ``checkpoints/latest_checkpoint.pth`` (with
``latest_checkpoint_metrics.json`` and tag ``mlflow.latest_checkpoint_artifact``), early-stopping params and
metrics, ``model_summary.txt`` and the module as the model ``model`` (signature from the first batch).
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors.autologging import Integration, flat_params, log_metrics

FLAVOR_NAME = "pytorch"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"

integration = Integration(FLAVOR_NAME)


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
    checkpoint: bool = True,
    checkpoint_monitor: str = "val_loss",
    checkpoint_mode: str = "min",
    checkpoint_save_best_only: bool = True,
    checkpoint_save_weights_only: bool = False,
    checkpoint_save_freq: str | int = "epoch",
    log_model_signatures: bool = True,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of PyTorch Lightning's ``Trainer.fit``; MLflow's
    keywords. Checkpoints are kept as the best one only (``checkpoint_save_best_only=False`` is refused)."""
    from bakehouse.errors import InvalidParameterError

    if checkpoint and not checkpoint_save_best_only:
        raise InvalidParameterError(
            "checkpoint_save_best_only=False is not supported: the best checkpoint is kept"
        )
    integration.configure(
        _install,
        disable=disable,
        disable_for_unsupported_versions=disable_for_unsupported_versions,
        extra_tags=extra_tags,
        log_models=log_models,
        log_datasets=log_datasets,
        log_model_signatures=log_model_signatures,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        log_every_n_epoch=log_every_n_epoch,
        log_every_n_step=log_every_n_step,
        checkpoint=checkpoint,
        checkpoint_monitor=checkpoint_monitor,
        checkpoint_mode=checkpoint_mode,
        checkpoint_save_weights_only=checkpoint_save_weights_only,
    )


def _lightning() -> Any:
    import importlib.util

    from bakehouse.models.flavors import import_library

    name = "lightning.pytorch" if importlib.util.find_spec("lightning") else "pytorch_lightning"
    return import_library(name, "lightning")


def _install(integration: Integration) -> None:
    integration.replace(_lightning().Trainer, "fit", _patched_fit)


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with integration.training_run() as run:
            if run is None:
                return original(self, *args, **kwargs)
            return _fit_and_log(original, run, self, args, kwargs)

    return fit


def _callback(run: Any, state: dict[str, Any]) -> Any:
    pl = _lightning()
    config = integration.config
    assert config is not None
    options = config.options

    class Callback(pl.Callback):  # type: ignore[misc,name-defined]  # pl is the lightning module found at run time
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            from bakehouse.entities import Param

            with integration.guarded("the optimizer params"):
                run.client.set_tag(run.info.run_id, "Mode", "training")
                params: dict[str, Any] = {"epochs": trainer.max_epochs}
                if trainer.optimizers:
                    optimizer = trainer.optimizers[0]
                    params["optimizer_name"] = type(getattr(optimizer, "_optimizer", optimizer)).__name__
                    params.update(getattr(optimizer, "defaults", {}))
                run.client.log_batch(
                    run.info.run_id, params=[Param(k, v) for k, v in flat_params(params).items()]
                )

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking:
                return
            metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
            epoch = pl_module.current_epoch
            if (epoch + 1) % options["log_every_n_epoch"] == 0:
                with integration.guarded("the epoch metrics"):
                    log_metrics(run, metrics, step=epoch)
            if options["checkpoint"]:
                with integration.guarded("the checkpoint"):
                    _checkpoint(run, trainer, metrics, epoch, state)

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if "example" not in state:
                state["example"] = batch[0] if isinstance(batch, (list, tuple)) else batch
            every = options["log_every_n_step"]
            if every and (trainer.global_step % every == 0):
                metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
                log_metrics(run, metrics, step=trainer.global_step)

    return Callback()


def _checkpoint(run: Any, trainer: Any, metrics: dict[str, float], epoch: int, state: dict[str, Any]) -> None:
    """Keep the best checkpoint by the monitored metric (MLflow's ``save_best_only`` names)."""
    config = integration.config
    assert config is not None
    monitor, mode = config.options["checkpoint_monitor"], config.options["checkpoint_mode"]
    if monitor not in metrics:
        integration.warn("Checkpoint logging is skipped: the monitored metric %r is not available.", monitor)
        return
    value = metrics[monitor]
    best = state.get("best", math.inf if mode == "min" else -math.inf)
    if not (value < best if mode == "min" else value > best):
        return
    state["best"] = value
    weights_only = config.options["checkpoint_save_weights_only"]
    file_name = "latest_checkpoint.weights.pth" if weights_only else "latest_checkpoint.pth"
    run.client.set_tag(run.info.run_id, CHECKPOINT_TAG, f"{CHECKPOINT_DIR}/{file_name}")
    run.client.log_dict(
        run.info.run_id,
        {**metrics, "epoch": epoch, "global_step": trainer.global_step},
        f"{CHECKPOINT_DIR}/latest_checkpoint_metrics.json",
    )
    with tempfile.TemporaryDirectory(prefix="bakehouse-checkpoint-") as tmp:
        path = Path(tmp) / file_name
        trainer.save_checkpoint(str(path), weights_only=weights_only)
        run.client.log_artifact(run.info.run_id, str(path), CHECKPOINT_DIR)


def _fit_and_log(
    original: Callable[..., Any], run: Any, trainer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    from bakehouse.entities import Param

    pl = _lightning()
    config = integration.config
    assert config is not None
    early_stopping = next((c for c in trainer.callbacks if isinstance(c, pl.callbacks.EarlyStopping)), None)
    if early_stopping is not None:
        with integration.guarded("the early stopping params"):
            params = {
                "monitor": early_stopping.monitor,
                "mode": early_stopping.mode,
                "patience": early_stopping.patience,
                "min_delta": abs(early_stopping.min_delta),
                "stopped_epoch": early_stopping.stopped_epoch,
            }
            run.client.log_batch(
                run.info.run_id, params=[Param(k, v) for k, v in flat_params(params).items()]
            )
    state: dict[str, Any] = {}
    callback = _callback(run, state)
    trainer.callbacks.append(callback)
    try:
        result = original(trainer, *args, **kwargs)
    finally:
        trainer.callbacks.remove(callback)
    module = args[0] if args else kwargs.get("model")
    if early_stopping is not None:
        with integration.guarded("the early stopping metrics"):
            log_metrics(
                run,
                {
                    "stopped_epoch": early_stopping.stopped_epoch,
                    "restored_epoch": early_stopping.stopped_epoch - max(1, early_stopping.patience),
                    "best_score": float(early_stopping.best_score),
                    "wait_count": early_stopping.wait_count,
                },
            )
    with integration.guarded("model_summary.txt"):
        summary = pl.utilities.model_summary.ModelSummary(module, max_depth=-1)
        run.client.log_text(run.info.run_id, str(summary), "model_summary.txt")
    if config.log_models and module is not None:
        _log_module(module, state.get("example"))
    return result


def _log_module(module: Any, example: Any) -> None:
    import torch

    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one
    from bakehouse.models.schema_inference import infer_signature

    config = integration.config
    assert config is not None
    signature: Any = None if config.log_model_signatures else False
    if example is not None and config.log_model_signatures and isinstance(example, torch.Tensor):
        with integration.guarded("the model signature"), torch.no_grad():
            inputs = example.detach().cpu()
            signature = infer_signature(
                inputs.numpy(), module(inputs.to(module.device)).detach().cpu().numpy()
            )
    with integration.guarded("the model"):
        flavor.log_model(
            module, "model", signature=signature, registered_model_name=config.registered_model_name
        )
