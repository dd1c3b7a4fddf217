"""The Hugging Face transformers flavor: a ``Pipeline`` saved as its model's ``save_pretrained`` directory
(safetensors weights) plus its tokenizer / feature extractor / image processor under ``components/``, in
MLflow's layout (``model/``, ``components/tokenizer/``, ``transformers.task``, ``pipeline_model_type``,
``loader_module: mlflow.transformers``).

Loading reads only local files (``local_files_only``, never a hub), never runs code from the model
directory (``trust_remote_code=False``) and reads only safetensors weights unless pickle was opted into
(``pytorch_model.bin`` is a pickle). The model class must be a ``transformers`` model class named in MLmodel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError, import_library, model_file
from bakehouse.models.flavors.small_batches import (
    SMALL_TORCH_MODEL_PARAMETERS,
    serve_small_torch_model_on_one_thread,
)
from bakehouse.models.flavors.transformers.autologging import autolog as autolog
from bakehouse.models.flavors.transformers.traced import TracedTextClassifier, traceable
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions
from bakehouse.models.trust import pickle_allowed, require_pickle_opt_in

FLAVOR_NAME = "transformers"
LOADER_MODULE = "mlflow.transformers"
MODEL_DIR = "model"
COMPONENTS_DIR = "components"
COMPONENT_NAMES = ("tokenizer", "feature_extractor", "image_processor")


def _transformers() -> Any:
    return import_library("transformers", "transformers")


def save_model(transformers_model: Any, path: str | Path, **options: Unpack[SaveOptions]) -> Model:
    """Save a ``transformers.Pipeline``: weights as safetensors, components beside them."""
    from bakehouse.models.saving import save_flavor

    transformers = _transformers()
    pipe = transformers_model
    if not isinstance(pipe, transformers.Pipeline):
        raise InvalidParameterError(
            f"Expected a transformers.Pipeline, got {type(pipe).__name__}: build one with transformers.pipeline()"
        )
    components: dict[str, Any] = {
        name: getattr(pipe, name) for name in COMPONENT_NAMES if getattr(pipe, name, None) is not None
    }

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        pipe.model.save_pretrained(str(model_dir / MODEL_DIR), safe_serialization=True)
        conf: dict[str, Any] = {
            "task": pipe.task,
            "instance_type": type(pipe).__name__,
            "pipeline_model_type": type(pipe.model).__name__,
            "source_model_name": str(getattr(pipe.model, "name_or_path", "") or ""),
            "model_binary": MODEL_DIR,
            "transformers_version": transformers.__version__,
        }
        dtype = getattr(pipe.model, "dtype", None)
        if dtype is not None:
            conf["torch_dtype"] = str(dtype)
        for name, component in components.items():
            component.save_pretrained(str(model_dir / COMPONENTS_DIR / name))
            conf[f"{name}_type"] = type(component).__name__
        conf["components"] = list(components)
        return conf, {}

    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"transformers", "torch", "tokenizers", "safetensors", "numpy"},
        predict=_example_predict(pipe),
        **options,
    )


#: a model with at most this many parameters scores the input example on one torch thread (see below)
SMALL_MODEL_PARAMETERS = SMALL_TORCH_MODEL_PARAMETERS


def _example_predict(pipe: Any) -> Callable[[Any], Any]:
    """The predict that gives the signature its output schema: the example's texts in one batch (one forward
    pass instead of one per text) when the tokenizer can pad; for a small model, on one torch thread.

    Only the outputs' types are kept, and batching with padding gives the same outputs. A small model's
    forward pass is microseconds of arithmetic: with torch's default pool, waking and joining its threads
    costs far more (on the 2 shared cores of our benchmark machine, 270 ms vs 13 ms for three texts). The
    thread count is process-wide: it is set back as soon as the example is scored.
    """
    wrapper = TransformersPipelineWrapper(pipe)
    can_pad = getattr(getattr(pipe, "tokenizer", None), "pad_token", None) is not None
    parameters = getattr(pipe.model, "num_parameters", None)
    small = callable(parameters) and int(parameters()) <= SMALL_MODEL_PARAMETERS

    def predict(data: Any) -> Any:
        texts = _texts(data)
        params = {"batch_size": len(texts)} if can_pad and isinstance(texts, list) and texts else None
        if not small:
            return wrapper.predict(data, params)
        import torch  # the pipeline's own backend, already loaded

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return wrapper.predict(data, params)
        finally:
            torch.set_num_threads(threads)

    return predict


def _model_class(transformers: Any, name: Any) -> Any:
    cls = getattr(transformers, name, None) if isinstance(name, str) else None
    if not isinstance(cls, type) or not issubclass(cls, transformers.PreTrainedModel):
        raise ModelLoadRefusedError(f"Refusing to load a transformers model of class {name!r}")
    return cls


def _load_from_dir(model_dir: Path, model: Model, *, allow_pickle: bool | None) -> Any:
    transformers = _transformers()
    conf = model.get_flavor(FLAVOR_NAME)
    weights = model_file(model_dir, conf.get("model_binary", MODEL_DIR))
    safetensors = any(weights.glob("*.safetensors"))
    if not safetensors:
        require_pickle_opt_in(allow_pickle, "a transformers model without safetensors weights")
    load_options = {"local_files_only": True, "trust_remote_code": False}
    model_obj = _model_class(transformers, conf.get("pipeline_model_type")).from_pretrained(
        str(weights), use_safetensors=safetensors or not pickle_allowed(allow_pickle), **load_options
    )
    parts: dict[str, Any] = {}
    auto = {
        "tokenizer": transformers.AutoTokenizer,
        "feature_extractor": transformers.AutoFeatureExtractor,
        "image_processor": transformers.AutoImageProcessor,
    }
    for name in conf.get("components") or ():
        if name not in auto:
            raise ModelLoadRefusedError(f"Unknown transformers component {name!r}")
        parts[name] = auto[name].from_pretrained(
            str(model_file(model_dir, f"{COMPONENTS_DIR}/{name}")), **load_options
        )
    return transformers.pipeline(task=conf.get("task"), model=model_obj, **parts)


def load_model(model_uri: str, dst_path: str | None = None, *, allow_pickle: bool | None = None) -> Any:
    """The ``transformers.Pipeline`` rebuilt from the saved model and components."""
    from bakehouse.models.uri import download_flavor_model

    model_dir, model = download_flavor_model(model_uri, dst_path)
    return _load_from_dir(model_dir, model, allow_pickle=allow_pickle)


class TransformersPipelineWrapper:
    """MLflow's pyfunc shapes for the common tasks: text in (a string, a list of strings, a one-column
    DataFrame or array); a list of dicts (classification) comes out as a DataFrame, generated texts as a
    list of strings; other outputs are returned as the pipeline gives them. ``params`` go to the call."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._classifies_text = type(pipeline).__name__ == "TextClassificationPipeline"
        self._traced: TracedTextClassifier | None = None

    def prepare_for_serving(self) -> None:
        """A small model is served with one torch thread (see ``serve_small_torch_model_on_one_thread``);
        a small text classifier answers one text through a torch trace of its model (``traced``)."""
        parameters = getattr(self.pipeline.model, "num_parameters", None)
        small = callable(parameters) and serve_small_torch_model_on_one_thread(int(parameters()))
        if small and self._classifies_text and traceable(self.pipeline):
            self._traced = TracedTextClassifier(self.pipeline)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        output = self._run(_texts(data), params)
        if isinstance(output, list) and output and all(isinstance(item, dict) for item in output):
            return pd.DataFrame(output)
        return _generated_texts(output)

    def _run(self, texts: Any, params: dict[str, Any] | None) -> Any:
        if (
            not params
            and self._classifies_text
            and isinstance(texts, list)
            and len(texts) == 1
            and isinstance(texts[0], str)
        ):
            # one text: the pipeline's single-input path (no batching iterator), documented to give the
            # same one-element list of {label, score} as a one-element list of texts
            if self._traced is not None:
                records = self._traced.classify(texts[0])
                if records is not None:
                    return records
            return self.pipeline(texts[0])
        return self.pipeline(texts, **(params or {}))

    @property
    def classify_texts(self) -> Callable[[list[str]], Any] | None:
        """For the scoring server's text fast path (``serving.text_fastpath``): texts -> what ``predict``
        returns, with records in place of the DataFrame ``predict`` would build from them (the same JSON)."""
        return self._classify_texts if self._classifies_text else None

    def _classify_texts(self, texts: list[str]) -> Any:
        output = self._run(texts, None)
        if isinstance(output, list) and output and all(isinstance(item, dict) for item in output):
            keys = list(output[0])
            if all(list(item) == keys for item in output):
                return output  # a DataFrame of uniform records gives these records back
            import pandas as pd

            return pd.DataFrame(output)
        return _generated_texts(output)

    def get_raw_model(self) -> Any:
        return self.pipeline


def _generated_texts(output: Any) -> Any:
    """A text-generation pipeline's ``[[{"generated_text": ...}], ...]`` as MLflow's list of strings."""
    if isinstance(output, list) and all(
        isinstance(item, list) and len(item) == 1 and "generated_text" in item[0] for item in output
    ):
        return [item[0]["generated_text"] for item in output]
    return output


def _texts(data: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, str):
        return [data]
    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            return data.to_dict(orient="records")
        return [str(v) for v in data.to_numpy().reshape(-1)]  # one column
    if isinstance(data, (pd.Series, np.ndarray)):
        return [str(v) for v in np.asarray(data).reshape(-1)]
    return data


def load_pyfunc(
    model_dir: str, model: Model, *, allow_pickle: bool | None = None
) -> TransformersPipelineWrapper:
    return TransformersPipelineWrapper(_load_from_dir(Path(model_dir), model, allow_pickle=allow_pickle))


def log_model(transformers_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the pipeline as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, transformers_model, name, **kwargs)
