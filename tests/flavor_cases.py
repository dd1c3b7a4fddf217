"""One tiny trained model per library flavor, shared by the flavor tests and the benchmark's shape.

Each case builds its model in a fraction of a second from a fixed seed (no download: the transformers case
builds its tokenizer and a two-layer BERT in memory), and knows how MLflow saves it, what the scoring server
is sent (MLflow's request formats) and what the model predicts for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("KERAS_BACKEND", "torch")  # the backend installed here (CPU torch)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub from a test


def frame(rows: int = 40) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.rand(rows, 4), columns=["a", "b", "c", "d"])
    return X, (X["a"] + X["b"] > 1.0).astype(int)


@dataclass
class FlavorCase:
    """How to build, save (both tools), feed and check one flavor's model."""

    name: str
    library: str
    build: Callable[[], Any]
    #: model input (what save_model gets as input_example and predict gets)
    example: Callable[[], Any]
    #: what the model predicts for ``example()``, computed on the live object
    expected: Callable[[Any], Any]
    #: a /invocations body in MLflow's format, for the first rows of the example
    request: Callable[[], dict[str, Any]]
    #: extra keywords for mlflow.<flavor>.save_model / log_model (explicit requirements: MLflow otherwise
    #: infers them by loading the model in a subprocess, seconds per call that these tests do not test)
    mlflow_kwargs: dict[str, Any] = field(default_factory=dict)
    #: the file that holds the model's data, relative to the model directory
    data_file: str = ""
    #: predictions -> comparable numpy array
    normalize: Callable[[Any], Any] = lambda p: _as_matrix(p)


def _as_matrix(predictions: Any) -> Any:
    """Predictions as a float matrix. A JSON answer's records (a Series or DataFrame, answered as MLflow's
    scoring server encodes it: ``[{"0": v}, ...]``) count by their values."""
    if isinstance(predictions, list):
        predictions = [list(r.values()) if isinstance(r, dict) else r for r in predictions]
    return np.asarray(predictions, dtype=float).reshape(len(predictions), -1)


def _split(X: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(X.columns), "data": X.to_numpy().tolist()}}


def _xgboost() -> Any:
    import xgboost

    X, y = frame()
    return xgboost.XGBClassifier(n_estimators=4, max_depth=2, random_state=0).fit(X, y)


def _lightgbm() -> Any:
    import lightgbm

    X, y = frame()
    return lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "min_data_in_leaf": 3},
        lightgbm.Dataset(X, y),
        4,
    )


def _catboost() -> Any:
    import catboost

    X, y = frame()
    return catboost.CatBoostRegressor(
        iterations=4, depth=2, verbose=0, allow_writing_files=False, random_seed=0
    ).fit(X, y)


def _keras() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def _onnx() -> Any:
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    X, y = frame()
    regression = LinearRegression().fit(X.to_numpy(np.float32), y)
    return skl2onnx.convert_sklearn(
        regression, initial_types=[("input", FloatTensorType([None, 4]))], target_opset=17
    )


def _statsmodels() -> Any:
    import statsmodels.api as sm

    X, y = frame()
    return sm.OLS(y.astype(float), sm.add_constant(X)).fit()


def build_text_pipeline() -> Any:
    """A text-classification pipeline built in memory: a word-level tokenizer and a one-layer BERT."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie", "the", "is", "great", "awful"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = transformers.BertConfig(
        vocab_size=len(words),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
        num_labels=2,
        id2label={0: "NEG", 1: "POS"},
        label2id={"NEG": 0, "POS": 1},
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    return transformers.pipeline("text-classification", model=model, tokenizer=fast)


TEXTS = ["good movie", "bad movie", "the movie is great"]


def _texts_normalized(predictions: Any) -> Any:
    frame_ = pd.DataFrame(predictions)
    return np.column_stack([(frame_["label"] == "POS").astype(float), frame_["score"].astype(float)])


CASES = {
    case.name: case
    for case in (
        FlavorCase(
            "xgboost",
            "xgboost",
            _xgboost,
            lambda: frame()[0][:5],
            lambda m: m.predict(frame()[0][:5]),
            lambda: _split(frame()[0][:2]),
            data_file="model.ubj",
        ),
        FlavorCase(
            "lightgbm",
            "lightgbm",
            _lightgbm,
            lambda: frame()[0][:5],
            lambda m: m.predict(frame()[0][:5]),
            lambda: _split(frame()[0][:2]),
            data_file="model.lgb",
        ),
        FlavorCase(
            "catboost",
            "catboost",
            _catboost,
            lambda: frame()[0][:5],
            lambda m: m.predict(frame()[0][:5]),
            lambda: _split(frame()[0][:2]),
            data_file="model.cb",
        ),
        FlavorCase(
            "keras",
            "keras",
            _keras,
            lambda: frame()[0][:5].to_numpy(np.float32),
            lambda m: m.predict(frame()[0][:5].to_numpy(np.float32), verbose=0),
            lambda: {"inputs": frame()[0][:2].to_numpy(np.float32).tolist()},
            data_file="data/model.keras",
        ),
        FlavorCase(
            "onnx",
            "onnx",
            _onnx,
            lambda: frame()[0][:5].to_numpy(np.float32),
            lambda m: _onnx_run(m, frame()[0][:5].to_numpy(np.float32)),
            lambda: {"inputs": frame()[0][:2].to_numpy(np.float32).tolist()},
            data_file="model.onnx",
            normalize=lambda p: np.asarray(p["variable"] if isinstance(p, dict) else p, dtype=float).reshape(
                -1, 1
            ),
        ),
        FlavorCase(
            "statsmodels",
            "statsmodels",
            _statsmodels,
            lambda: _with_constant(frame()[0][:5]),
            lambda m: m.predict(_with_constant(frame()[0][:5])),
            lambda: _split(_with_constant(frame()[0][:2])),
            data_file="model.statsmodels",
        ),
        FlavorCase(
            "transformers",
            "transformers",
            build_text_pipeline,
            lambda: list(TEXTS),
            lambda p: p(list(TEXTS)),
            lambda: {"inputs": TEXTS[:2]},
            mlflow_kwargs={
                "pip_requirements": ["transformers", "torch"]
            },  # MLflow's default pins torchvision
            data_file="model/model.safetensors",
            normalize=_texts_normalized,
        ),
    )
}


def _onnx_run(model: Any, X: Any) -> Any:
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X})[0]


def _with_constant(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(const=1.0)[["const", "a", "b", "c", "d"]]


for _case in CASES.values():
    _case.mlflow_kwargs.setdefault("pip_requirements", [_case.library])
