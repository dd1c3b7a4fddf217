"""``bakehouse.keras.autolog()``: MLflow's Keras 3 autologging, under its names.

``keras.Model.fit`` logs its keyword arguments as params (``batch_size``, ``epochs``, ...; data and callbacks
excluded) and the optimizer's config as ``optimizer_<key>``, the training logs of every epoch (``loss``,
``val_loss``, ...) at step = epoch, evaluation results as ``validation_<name>``, ``model_summary.txt``, the
training dataset (``train``) and the model ``model`` with a tensor signature from the model's shapes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors.autologging import Integration, flat_params, fn_args_as_params, log_metrics

FLAVOR_NAME = "keras"
_UNLOGGED = ("self", "x", "y", "callbacks", "validation_data", "verbose")

integration = Integration(FLAVOR_NAME)


def autolog(
    log_every_epoch: bool = True,
    log_every_n_steps: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    save_exported_model: bool = False,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: dict[str, Any] | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of ``keras.Model.fit``; MLflow's keywords.
    ``save_exported_model=True`` is refused (Bakehouse saves the ``.keras`` format)."""
    from bakehouse.errors import InvalidParameterError

    if save_exported_model:
        raise InvalidParameterError("save_exported_model=True is not supported: models are saved as .keras")
    integration.configure(
        _install,
        disable=disable,
        disable_for_unsupported_versions=disable_for_unsupported_versions,
        extra_tags=extra_tags,
        log_models=log_models,
        log_model_signatures=log_model_signatures,
        log_datasets=log_datasets,
        log_input_examples=log_input_examples,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        log_every_epoch=log_every_epoch,
        log_every_n_steps=log_every_n_steps,
    )


def _install(integration: Integration) -> None:
    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

    integration.replace(flavor._keras().Model, "fit", _patched_fit)


def _callback(run: Any, keras: Any, model_id_box: list[str | None]) -> Any:
    config = integration.config
    assert config is not None
    every_epoch = config.options["log_every_epoch"]
    every_n_steps = config.options["log_every_n_steps"]

    class Callback(keras.callbacks.Callback):  # type: ignore[misc]  # keras ships no types: the base is Any
        def on_train_begin(self, logs: Any = None) -> None:
            from bakehouse.entities import Param

            with integration.guarded("the optimizer params and model summary"):
                optimizer = flat_params(
                    {f"optimizer_{k}": v for k, v in self.model.optimizer.get_config().items()}
                )
                run.client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in optimizer.items()])
                lines: list[str] = []
                self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
                run.client.log_text(run.info.run_id, "\n".join(lines), "model_summary.txt")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if every_epoch and logs:
                with integration.guarded("the epoch metrics"):
                    log_metrics(run, dict(logs), step=epoch, model_id=model_id_box[0])

        def on_batch_end(self, batch: int, logs: Any = None) -> None:
            if every_n_steps and logs:
                iteration = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
                if iteration % every_n_steps == 0:
                    log_metrics(run, dict(logs), step=iteration, model_id=model_id_box[0])

        def on_test_end(self, logs: Any = None) -> None:
            if logs:
                with integration.guarded("the validation metrics"):
                    log_metrics(
                        run, {f"validation_{k}": v for k, v in logs.items()}, model_id=model_id_box[0]
                    )

    return Callback()


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with integration.training_run() as run:
            if run is None:
                return original(self, *args, **kwargs)
            return _fit_and_log(original, run, self, args, kwargs)

    return fit


def _fit_and_log(
    original: Callable[..., Any], run: Any, model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    from bakehouse.entities import Param

    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

    config = integration.config
    assert config is not None
    keras = flavor._keras()
    with integration.guarded("the fit params"):
        # as MLflow: keyword arguments and defaults, not positional ones (only batch_size is looked for there)
        call = fn_args_as_params(original, (), kwargs)
        call["batch_size"] = kwargs.get(
            "batch_size", getattr(args[0] if args else kwargs.get("x"), "batch_size", None)
        )
        params = flat_params(call, skip=_UNLOGGED)
        run.client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
    if config.log_datasets:
        with integration.guarded("the training dataset"):
            _log_dataset(run, args, kwargs)
    model_id_box: list[str | None] = [None]
    kwargs = dict(kwargs)
    if len(args) > 5:
        args = (*args[:5], [*(args[5] or []), _callback(run, keras, model_id_box)], *args[6:])
    else:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _callback(run, keras, model_id_box)]
    history = original(model, *args, **kwargs)
    if config.log_models:
        with integration.guarded("the model"):
            signature = model_signature(model) if config.log_model_signatures else False
            info = flavor.log_model(
                model, "model", signature=signature, registered_model_name=config.registered_model_name
            )
            model_id_box[0] = info.model_id
    return history


def _log_dataset(run: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    import numpy as np

    from bakehouse.data import from_numpy

    x = args[0] if args else kwargs.get("x")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if isinstance(x, np.ndarray):
        dataset = from_numpy(x, targets=y) if isinstance(y, np.ndarray) else from_numpy(x)
        run.client.log_inputs(run.info.run_id, [dataset.to_dataset_input(context="train")])


def model_signature(model: Any) -> Any:
    """MLflow's Keras signature: tensor specs from the model's input/output shapes (None -> -1)."""
    import numpy as np

    from bakehouse.models.signature import ModelSignature, Schema, TensorSpec

    def specs(shapes: Any, dtype: Any) -> Schema:
        listed = shapes if isinstance(shapes, list) else [shapes]
        return Schema(
            [TensorSpec(np.dtype(dtype), tuple(-1 if d is None else d for d in shape)) for shape in listed]
        )

    return ModelSignature(
        specs(model.input_shape, model.input_dtype), specs(model.output_shape, model.compute_dtype)
    )
