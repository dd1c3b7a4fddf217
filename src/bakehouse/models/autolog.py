"""``bakehouse.autolog()``: autologging for every supported library that is installed (MLflow's switch)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

#: flavor name -> (the library it needs, the module whose ``autolog`` it calls)
_FLAVORS = {"sklearn": ("sklearn", "bakehouse.models.flavors.sklearn.autologging")}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, Any] | None = None,
    exclude_flavors: Sequence[str] | None = None,
) -> list[str]:
    """Turn autologging on (or off, ``disable=True``) for each installed library Bakehouse can autolog —
    scikit-learn today — except ``exclude_flavors``; returns the flavors it acted on."""
    excluded = set(exclude_flavors or ())
    done = []
    for flavor, (library, module_name) in _FLAVORS.items():
        if flavor in excluded or importlib.util.find_spec(library) is None:
            continue
        importlib.import_module(module_name).autolog(
            log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures,
            log_models=log_models,
            log_datasets=log_datasets,
            disable=disable,
            exclusive=exclusive,
            disable_for_unsupported_versions=disable_for_unsupported_versions,
            silent=silent,
            extra_tags=extra_tags,
        )
        done.append(flavor)
    return done
