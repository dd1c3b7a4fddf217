"""Input validation shared by every store and by the client's buffered logging.

Rules follow MLflow's (``mlflow/utils/validation.py``) with the deliberate differences of compat-traps.md:
values are never truncated (stored whole up to 1 MiB, refused above), and nothing is stored as a
different value than the one given.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bakehouse.errors import InvalidParameterError

MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000
MAX_KEY_LENGTH = 250
MAX_VALUE_BYTES = 1024 * 1024  # params and tags: stored whole up to 1 MiB
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_MODEL_ID_LENGTH = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")


def validate_key(key: Any, kind: str) -> str:
    """A metric/param/tag key: bounded, a safe relative path (keys may become file names)."""
    if not isinstance(key, str):
        raise InvalidParameterError(f"Invalid {kind} key {key!r}: keys must be strings")
    return _validate_key_cached(key, kind)


@lru_cache(maxsize=4096)
def _validate_key_cached(key: str, kind: str) -> str:
    """Keys repeat endlessly in a training loop: each distinct key is checked once."""
    if key == "":
        raise InvalidParameterError(f"Invalid {kind} key '': keys must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"{kind.capitalize()} key '{key[:40]}...' is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise InvalidParameterError(
            f"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    if (
        key.startswith("/")
        or key.endswith("/")
        or "//" in key
        or posixpath.normpath(key) != key
        or key == "."
    ):
        raise InvalidParameterError(
            f"Invalid {kind} name: '{key}'. Names may be treated as files in certain cases, and must not resolve "
            f"to other names when treated as such. This name would resolve to '{posixpath.normpath(key)}'"
        )
    if any(part == ".." for part in key.split("/")):
        raise InvalidParameterError(f"Invalid {kind} name: '{key}'. '..' path segments are not allowed")
    return key


def validate_string_value(value: Any, kind: str, key: str, max_bytes: int = MAX_VALUE_BYTES) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(f"Invalid value {value!r} for {kind} '{key}': values must be strings")
    if len(value) * 4 > max_bytes:  # fast path: only encode when the value might be too long
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise InvalidParameterError(
                f"{kind.capitalize()} '{key}' has a value of {size} bytes; the limit is {max_bytes} bytes "
                "(values are stored whole, never truncated)"
            )
    if "\x00" in value:
        raise InvalidParameterError(f"Invalid value for {kind} '{key}': NUL characters are not allowed")
    return value


#: Dataset fields and the column each is stored in (MLflow's limits; TEXT holds 65,535 bytes on MySQL)
_DATASET_CHAR_LIMITS = {"name": 500, "digest": 36, "source_type": 36}
_DATASET_BYTE_LIMITS = {"source": 65535, "schema": MAX_VALUE_BYTES, "profile": MAX_VALUE_BYTES}


def validate_dataset(dataset: Any) -> None:
    """A logged dataset input, refused whole before any of it is stored (a longer value would fail in the
    database, after other inputs of the same call were written)."""
    if not dataset.name or not dataset.digest:
        raise InvalidParameterError("Dataset input must have a dataset with a name and a digest.")
    for attr, limit in _DATASET_CHAR_LIMITS.items():
        value = getattr(dataset, attr)
        if not isinstance(value, str):
            raise InvalidParameterError(f"Invalid dataset {attr} {value!r}: it must be a string")
        if len(value) > limit:
            raise InvalidParameterError(
                f"Dataset {attr} '{value[:40]}...' is {len(value)} characters long; the limit is {limit}"
            )
    for attr, limit in _DATASET_BYTE_LIMITS.items():
        value = getattr(dataset, attr)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidParameterError(f"Invalid dataset {attr}: it must be a string")
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InvalidParameterError(
                f"Dataset '{dataset.name}' has a {attr} of {size} bytes; the limit is {limit}"
            )
    for key, value in dataset.tags.items():
        validate_key(key, "input tag")
        if not isinstance(value, str) or len(value) > 500:
            raise InvalidParameterError(f"Input tag '{key}' must be a string of at most 500 characters")


def validate_metric(key: Any, value: Any, timestamp: Any, step: Any) -> None:
    validate_key(key, "metric")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(
            f"Got invalid value {value!r} for metric '{key}' (timestamp={timestamp}). "
            "Please specify value as a valid double (64-bit floating point)"
        )
    if isinstance(value, int) and not -1.8e308 < value < 1.8e308:
        raise InvalidParameterError(f"Metric '{key}' value {value} does not fit in a 64-bit float")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= INT64_MAX:
        raise InvalidParameterError(
            f"Got invalid timestamp {timestamp!r} for metric '{key}' (value={value}). "
            "Timestamp must be a non-negative 64-bit integer (milliseconds since the epoch)"
        )
    if isinstance(step, bool) or not isinstance(step, int) or not INT64_MIN <= step <= INT64_MAX:
        raise InvalidParameterError(
            f"Got invalid step {step!r} for metric '{key}' (value={value}). Step must be a 64-bit integer"
        )


def validate_bounded_string(value: Any, what: str, limit: int) -> str:
    """An identifier-like string stored in a column of ``limit`` characters: refused, never cut, when longer
    (PostgreSQL fails inside the database and MySQL's INSERT IGNORE would silently cut it)."""
    if not isinstance(value, str):
        raise InvalidParameterError(f"Invalid {what} {value!r}: it must be a string")
    if len(value) > limit:
        raise InvalidParameterError(
            f"{what.capitalize()} '{value[:40]}...' is {len(value)} characters long; the limit is {limit}"
        )
    return value


def validate_metric_links(metric: Any) -> None:
    """The optional dataset and logged-model references a metric point may carry (MLflow 3)."""
    if metric.dataset_name is not None:
        validate_bounded_string(metric.dataset_name, "metric dataset name", 500)
    if metric.dataset_digest is not None:
        validate_bounded_string(metric.dataset_digest, "metric dataset digest", 36)
    if metric.model_id is not None:
        validate_bounded_string(metric.model_id, "logged model id", MAX_MODEL_ID_LENGTH)


def validate_param(key: Any, value: Any) -> None:
    validate_key(key, "param")
    validate_string_value(value, "param", key)


def validate_tag(key: Any, value: Any) -> None:
    validate_key(key, "tag")
    validate_string_value(value, "tag", key)


def validate_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    problems = []
    if n_metrics > MAX_BATCH_METRICS:
        problems.append(f"{n_metrics} metrics (the limit is {MAX_BATCH_METRICS})")
    if n_params > MAX_BATCH_PARAMS:
        problems.append(f"{n_params} params (the limit is {MAX_BATCH_PARAMS})")
    if n_tags > MAX_BATCH_TAGS:
        problems.append(f"{n_tags} tags (the limit is {MAX_BATCH_TAGS})")
    total = n_metrics + n_params + n_tags
    if total > MAX_BATCH_ENTITIES:
        problems.append(f"{total} entities in total (the limit is {MAX_BATCH_ENTITIES})")
    if problems:
        raise InvalidParameterError(
            "A batch logging request can contain at most 1000 metrics, 100 params, 100 tags and 1000 entities "
            "in total; this one has " + ", ".join(problems)
        )


def validate_batch(metrics: Sequence[Any], params: Sequence[Any], tags: Sequence[Any]) -> None:
    """Check a whole batch before anything is written: a rejected batch writes nothing."""
    validate_batch_limits(len(metrics), len(params), len(tags))
    for m in metrics:
        validate_metric(m.key, m.value, m.timestamp, m.step)
        if m.model_id is not None or m.dataset_name is not None or m.dataset_digest is not None:
            validate_metric_links(m)
    seen: set[str] = set()
    for p in params:
        validate_param(p.key, p.value)
        if p.key in seen:
            raise InvalidParameterError(
                f"Duplicate parameter key '{p.key}' in one batch: each param may appear once per batch"
            )
        seen.add(p.key)
    for t in tags:
        validate_tag(t.key, t.value)


def validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str) or name.strip() == "":
        raise InvalidParameterError("Invalid experiment name: it must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterError(
            f"Experiment name is {len(name)} characters long; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    if "\x00" in name:
        raise InvalidParameterError("Invalid experiment name: NUL characters are not allowed")
    return name


def validate_run_name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidParameterError(f"Invalid run name {name!r}: it must be a string")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterError(
            f"Run name is {len(name)} characters long; the limit is {MAX_RUN_NAME_LENGTH}"
        )
    if "\x00" in name:
        raise InvalidParameterError("Invalid run name: NUL characters are not allowed")
    return name


def validate_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidParameterError(f"Invalid run ID: {run_id!r}")
    return run_id


def validate_experiment_id(experiment_id: Any) -> str:
    if isinstance(experiment_id, int) and not isinstance(experiment_id, bool):
        experiment_id = str(experiment_id)
    if not isinstance(experiment_id, str) or not _EXPERIMENT_ID_RE.match(experiment_id):
        raise InvalidParameterError(f"Invalid experiment ID: {experiment_id!r}")
    return experiment_id


def validate_max_results(max_results: Any, limit: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidParameterError(
            f"Invalid value {max_results!r} for parameter 'max_results': expected an integer"
        )
    if not 1 <= max_results <= limit:
        raise InvalidParameterError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at most {limit}, "
            "and at least 1"
        )
    return max_results


def encode_metric_value(value: float) -> tuple[float, int]:
    """(sortable stand-in, kind): kind 0 finite, 1 NaN, 2 +inf, 3 -inf (see schema.py)."""
    value = float(value)
    if math.isfinite(value):
        return value, 0
    if math.isnan(value):
        return 0.0, 1
    return (1.7976931348623157e308, 2) if value > 0 else (-1.7976931348623157e308, 3)


def decode_metric_value(value: float, kind: int) -> float:
    if kind == 0:
        return value
    if kind == 1:
        return math.nan
    return math.inf if kind == 2 else -math.inf
