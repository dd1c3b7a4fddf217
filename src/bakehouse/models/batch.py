"""Batch scoring from files (``bakehouse models predict``), in chunks, with a progress bar on big inputs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.models.payload import encode_predictions, parse_request

#: inputs with at least this many rows get a progress bar (when stderr is a terminal or forced)
PROGRESS_MIN_ROWS = 50_000


def _read_input(input_path: str | None, content_type: str, schema: Any) -> tuple[Any, dict[str, Any] | None]:
    body = Path(input_path).read_bytes() if input_path else sys.stdin.buffer.read()
    media = "application/json" if content_type == "json" else "text/csv"
    parsed = parse_request(body, media, schema)
    return parsed.data, parsed.params


def _chunks(data: Any, size: int) -> list[Any]:
    if hasattr(data, "iloc"):
        return [data.iloc[i : i + size] for i in range(0, len(data), size)] or [data]
    if hasattr(data, "shape") and getattr(data, "ndim", 0) >= 1:
        return [data[i : i + size] for i in range(0, data.shape[0], size)] or [data]
    return [data]


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    import numpy as np  # only when combining chunked predictions
    import pandas as pd

    if isinstance(first, (pd.DataFrame, pd.Series)):
        return pd.concat(parts, ignore_index=True)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if isinstance(first, list):
        return [item for part in parts for item in part]
    return parts


def predict_file(
    model_uri: str,
    input_path: str | None,
    output_path: str | None,
    content_type: str = "json",
    *,
    batch_size: int = 10_000,
    progress: bool = True,
    allow_pickle: bool | None = None,
) -> bytes | None:
    """Score the input file (a serving JSON payload or CSV); write ``{"predictions": ...}`` to ``output_path``,
    or return it when no path is given (the CLI prints it)."""
    from bakehouse.pyfunc import load_model

    if content_type not in ("json", "csv"):
        raise InvalidParameterError(f"Unsupported content type {content_type!r}: use json or csv")
    if batch_size < 1:
        raise InvalidParameterError("batch size must be at least 1")
    model = load_model(model_uri, allow_pickle=allow_pickle)
    signature = model.metadata.signature
    data, params = _read_input(input_path, content_type, signature.inputs if signature else None)
    chunks = _chunks(data, batch_size)
    rows = len(data) if hasattr(data, "__len__") else 0
    results: list[Any] = []
    if progress and rows >= PROGRESS_MIN_ROWS and len(chunks) > 1:
        from rich.console import Console  # only for big inputs
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:  # stdout carries the predictions
            task = bar.add_task("Scoring", total=rows)
            for chunk in chunks:
                results.append(model.predict(chunk, params))
                bar.advance(task, len(chunk))
    else:
        results = [model.predict(chunk, params) for chunk in chunks]
    payload = encode_predictions(_concat(results))
    if output_path:
        Path(output_path).write_bytes(payload)
        return None
    return payload
