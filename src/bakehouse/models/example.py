"""Input examples: ``input_example.json`` and the ready-to-POST ``serving_input_example.json``.

The files use MLflow's shapes (split-orient DataFrames, ``{"inputs": ...}`` for arrays and JSON objects), so
an example saved here can be posted as-is to either scoring server.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_INPUT_FILE = "serving_input_example.json"


def _jsonable(value: Any) -> Any:
    import numpy as np  # only when an example is saved

    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _split_frame(frame: Any) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in frame.columns],
        "data": [_jsonable(list(row)) for row in frame.itertuples(index=False, name=None)],
    }


def save_input_example(model_dir: str | Path, example: Any) -> dict[str, Any]:
    """Write both example files; return the ``saved_input_example_info`` block for MLmodel."""
    import numpy as np  # only when an example is saved
    import pandas as pd  # only when an example is saved

    target = Path(model_dir)
    if isinstance(example, (pd.Series,)):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        split = _split_frame(example)
        info = {"type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": split}
        stored: Any = split
    elif (
        isinstance(example, np.ndarray)
        or isinstance(example, dict)
        and example
        and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        info = {"type": "ndarray", "format": "tf-serving"}
        stored = {"inputs": _jsonable(example)}
        serving = stored
    elif isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        frame = pd.DataFrame(example)
        split = _split_frame(frame)
        info = {"type": "dataframe", "pandas_orient": "split"}
        stored = split
        serving = {"dataframe_split": split}
    else:
        info = {"type": "json_object"}
        stored = _jsonable(example)
        serving = {"inputs": stored}
    (target / INPUT_EXAMPLE_FILE).write_text(json.dumps(stored), encoding="utf-8")
    (target / SERVING_INPUT_FILE).write_text(json.dumps(serving, indent=2), encoding="utf-8")
    return {"artifact_path": INPUT_EXAMPLE_FILE, **info, "serving_input_path": SERVING_INPUT_FILE}


def as_model_input(example: Any) -> Any:
    """The example in the form ``predict`` takes (used to infer an output signature)."""
    import pandas as pd  # only when an example is used

    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        return pd.DataFrame(example)
    return example


def load_serving_example(model_dir: str | Path) -> bytes | None:
    path = Path(model_dir) / SERVING_INPUT_FILE
    return path.read_bytes() if path.is_file() else None
