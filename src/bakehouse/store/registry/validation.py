"""Input checks for the registry, with MLflow's messages, shared by every store that owns data."""

from __future__ import annotations

import re

from bakehouse.errors import InvalidParameterError

MAX_ALIAS_LENGTH = 255
MAX_NAME_LENGTH = 256
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000  # Bakehouse refuses above this rather than truncating (MLflow: 100,000)
MAX_DESCRIPTION_LENGTH = 5000

_ALIAS_RE = re.compile(r"^[\w\-]*$", re.ASCII)
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
_TAG_KEY_RE = re.compile(r"^[/\w.\- :]*$")


def missing(field: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Missing value for required parameter '{field}'. "
        "See the API docs for more information about request parameters."
    )


def validate_model_name(name: str | None, field: str = "name") -> str:
    if name is None or not isinstance(name, str) or name.strip() == "":
        raise missing(field)
    if "/" in name or ":" in name:
        raise InvalidParameterError(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterError(
            f"Registered model name '{name[:40]}...' exceeds the maximum length of {MAX_NAME_LENGTH}."
        )
    return name


def validate_version(version: str | int | None) -> int:
    """Versions travel as strings and are stored as integers."""
    if version is None or version == "":
        raise missing("version")
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"Parameter 'version' must be an integer, got '{version}'.") from None
    if number < 1:
        raise InvalidParameterError(f"Parameter 'version' must be a positive integer, got '{version}'.")
    return number


def validate_alias(alias: str | None) -> str:
    if alias is None or alias == "":
        raise InvalidParameterError("Registered model alias name cannot be empty.")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameterError(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), "
            "and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterError(
            f"Registered model alias name '{alias[:40]}...' had length {len(alias)}, "
            f"which exceeded length limit of {MAX_ALIAS_LENGTH}"
        )
    return alias


def validate_alias_not_reserved(alias: str) -> None:
    if alias.lower() == "latest":
        raise InvalidParameterError("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameterError(f"Version alias name '{alias}' is reserved.")


def validate_tag(key: str | None, value: str | None = "") -> None:
    if key is None or key == "":
        raise missing("key")
    if not _TAG_KEY_RE.match(key):
        raise InvalidParameterError(
            f"Invalid value \"{key}\" for parameter 'key' supplied: Names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    if ".." in key.split("/") or key.startswith("/"):
        raise InvalidParameterError(f"Invalid value \"{key}\" for parameter 'key' supplied: bad path.")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise InvalidParameterError(
            f"Tag key '{key[:40]}...' had length {len(key)}, which exceeded length limit of {MAX_TAG_KEY_LENGTH}"
        )
    if value is not None and len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterError(
            f"Tag value for '{key}' had length {len(value)}, which exceeded length limit of "
            f"{MAX_TAG_VALUE_LENGTH}"
        )


def validate_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterError(
            f"Description had length {len(description)}, which exceeded length limit of "
            f"{MAX_DESCRIPTION_LENGTH}"
        )


def validate_max_results(max_results: int | None, limit: int) -> None:
    if max_results is None:
        return
    if not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > limit:
        raise InvalidParameterError(
            f"Invalid value for max_results. It must be at most {limit}, but got value {max_results}"
        )
