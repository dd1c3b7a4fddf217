"""The ONNX flavor: the ONNX protobuf file, scored with onnxruntime, in MLflow's layout (``model.onnx``,
``onnx.providers``, ``onnx_session_options``, ``loader_module: mlflow.onnx``).

An ONNX file is a graph of ONNX operators, not code: loading it runs nothing of the file's choosing.
As in MLflow, no signature is inferred from an input example (pass ``signature=`` to have one).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import import_library, model_file
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions

logger = logging.getLogger(__name__)

FLAVOR_NAME = "onnx"
LOADER_MODULE = "mlflow.onnx"
DATA_FILE = "model.onnx"
#: MLflow's default: use a GPU when onnxruntime has one, else the CPU
DEFAULT_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]
_SESSION_OPTION_KEYS = (
    "inter_op_num_threads",
    "intra_op_num_threads",
    "execution_mode",
    "graph_optimization_level",
)


def _onnx() -> Any:
    return import_library("onnx", "onnx")


def save_model(
    onnx_model: Any,
    path: str | Path,
    *,
    onnx_execution_providers: list[str] | None = None,
    onnx_session_options: dict[str, Any] | None = None,
    **options: Unpack[SaveOptions],
) -> Model:
    """Save an ``onnx.ModelProto`` (checked with ``onnx.checker`` first)."""
    from bakehouse.models.saving import save_flavor

    onnx = _onnx()
    if not isinstance(onnx_model, onnx.ModelProto):
        raise InvalidParameterError(f"Expected an onnx.ModelProto, got {type(onnx_model).__name__}")
    onnx.checker.check_model(onnx_model)
    unknown = set(onnx_session_options or {}) - set(_SESSION_OPTION_KEYS)
    if unknown:
        raise InvalidParameterError(f"Unsupported onnx_session_options {sorted(unknown)}")

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        onnx.save_model(onnx_model, str(model_dir / DATA_FILE))
        conf = {
            "data": DATA_FILE,
            "onnx_session_options": onnx_session_options,
            "onnx_version": onnx.__version__,
            "providers": list(onnx_execution_providers or DEFAULT_PROVIDERS),
        }
        return conf, {"data": DATA_FILE}

    if options.get("signature") is None:
        options["signature"] = False  # MLflow's onnx flavor infers none from the example
    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"onnx", "onnxruntime", "numpy"},
        **options,
    )


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The ``onnx.ModelProto`` itself."""
    from bakehouse.models.uri import download_flavor_model

    model_dir, model = download_flavor_model(model_uri, dst_path)
    return _onnx().load(str(model_file(model_dir, model.get_flavor(FLAVOR_NAME).get("data", DATA_FILE))))


def _session(path: Path, conf: dict[str, Any], *, serving: bool = False) -> Any:
    """An InferenceSession with the MLmodel's ``onnx_session_options``.

    For the scoring server (``serving``), idle pool threads sleep instead of spinning, unless the MLmodel
    sets thread counts itself: after each small request ONNX Runtime's threads otherwise spin-wait on the
    cores the server needs for the next one (results are the same; only the idle waiting changes).
    """
    ort = import_library("onnxruntime", "onnx")
    session_options = ort.SessionOptions()
    options = conf.get("onnx_session_options") or {}
    if serving and not {"intra_op_num_threads", "inter_op_num_threads"} & set(options):
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session_options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    for key, value in options.items():
        if key == "execution_mode" and value:
            mode = str(value).upper()
            session_options.execution_mode = (
                ort.ExecutionMode.ORT_PARALLEL if mode == "PARALLEL" else ort.ExecutionMode.ORT_SEQUENTIAL
            )
        elif key == "graph_optimization_level" and value is not None:
            session_options.graph_optimization_level = ort.GraphOptimizationLevel(value)
        elif key in ("inter_op_num_threads", "intra_op_num_threads") and value:
            setattr(session_options, key, int(value))
    wanted = conf.get("providers") or DEFAULT_PROVIDERS
    wanted = [wanted] if isinstance(wanted, str) else [p[0] if isinstance(p, list) else p for p in wanted]
    available = set(ort.get_available_providers())
    usable = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
    if len(usable) < len(wanted):
        logger.info("ONNX model asks for providers %s; this onnxruntime has %s", wanted, usable)
    return ort.InferenceSession(str(path), sess_options=session_options, providers=usable)


class OnnxModelWrapper:
    """MLflow's pyfunc semantics: a DataFrame feeds the single input with its values (or each input with
    its column) and gives a DataFrame of flattened outputs; an array feeds the single input; a dict is the
    feed itself; float64 is cast to float32 for float inputs. Arrays and dicts give a dict of outputs."""

    def __init__(self, session: Any, path: Path | None = None, conf: dict[str, Any] | None = None) -> None:
        self.session = session
        self.inputs = [(i.name, i.type) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self._source = (path, conf or {}) if path is not None else None

    def prepare_for_serving(self) -> None:
        """Reopen the model with the scoring server's session options (see :func:`_session`)."""
        if self._source is not None:
            self.session = _session(*self._source, serving=True)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(data, dict):
            feed = dict(data)
        elif isinstance(data, np.ndarray):
            if len(self.inputs) != 1:
                names = [name for name, _ in self.inputs]
                raise InvalidParameterError(
                    f"A numpy array can only feed an ONNX model with one input; this one takes {names}: "
                    "pass a dict or a DataFrame with those columns"
                )
            feed = {self.inputs[0][0]: data}
        elif isinstance(data, pd.DataFrame):
            if len(self.inputs) > 1:
                feed = {name: data[name].to_numpy() for name, _ in self.inputs}
            else:
                feed = {self.inputs[0][0]: data.to_numpy()}
        else:
            raise InvalidParameterError(
                f"ONNX models take a dict, a numpy array or a DataFrame, not {type(data)}"
            )
        for name, kind in self.inputs:
            value = feed.get(name)
            if kind == "tensor(float)" and isinstance(value, np.ndarray) and value.dtype == np.float64:
                feed[name] = value.astype(np.float32)
        outputs = self.session.run(self.output_names, feed)
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame({n: np.asarray(v).reshape(-1) for n, v in zip(self.output_names, outputs)})
        return dict(zip(self.output_names, outputs))

    def get_raw_model(self) -> Any:
        return self.session


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> OnnxModelWrapper:
    conf = model.get_flavor(FLAVOR_NAME)
    path = model_file(model_dir, conf.get("data", DATA_FILE))
    return OnnxModelWrapper(_session(path, conf), path, conf)


def log_model(onnx_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the ONNX model as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, onnx_model, name, **kwargs)
