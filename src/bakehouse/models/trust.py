"""When deserializing a model file may run code, and how the user says yes.

skops files are loaded with a type allowlist (no code runs for trusted types); pickle and cloudpickle run
arbitrary code by design, so they need ``allow_pickle=True`` or ``BAKEHOUSE_ALLOW_PICKLE=true``
(``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`` is accepted too). A scoring server never turns this on
because of anything in a request.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

from bakehouse import settings
from bakehouse.models.flavors import ModelLoadRefusedError

logger = logging.getLogger(__name__)

#: the command-line switch for the same opt-in (``bakehouse models serve|predict``)
CLI_FLAG = "--allow-pickle"
#: top-level modules whose types skops may rebuild without an opt-in (data containers, no user code)
SAFE_SKOPS_MODULES = frozenset({"sklearn", "numpy", "scipy"})


class PickleWarning(UserWarning):
    """Loading a pickle: the file can run any code."""


def pickle_allowed(explicit: bool | None) -> bool:
    if explicit is not None:
        return explicit
    return settings.env_flag("ALLOW_PICKLE") or settings.env_flag("ALLOW_PICKLE_DESERIALIZATION")


def require_pickle_opt_in(explicit: bool | None, what: str) -> None:
    """Raise unless pickle loading was opted into; warn when it was."""
    if not pickle_allowed(explicit):
        refusal = (
            f"Refusing to unpickle {what}: pickle files can run arbitrary code. If you trust this model, "
        )
        raise ModelLoadRefusedError(
            refusal
            + "pass allow_pickle=True or set BAKEHOUSE_ALLOW_PICKLE=true (skops-saved models need neither).",
            cli_message=refusal + f"add {CLI_FLAG} (or set BAKEHOUSE_ALLOW_PICKLE=true).",
        )
    warnings.warn(f"Unpickling {what}: only do this for models you trust.", PickleWarning, stacklevel=3)


def untrusted_skops_types(types: list[str], extra_trusted: list[str] | None) -> list[str]:
    """The names skops reports as untrusted that are neither a class of a safe module nor trusted by the
    caller. Functions of the safe modules are not trusted on their module alone: a model that calls
    ``numpy.save`` or ``numpy.load`` from a FunctionTransformer would write or read files when it predicts
    (skops already trusts the numpy/scipy ufuncs models use, such as ``numpy.log1p``).

    Deliberately trusted although skops is wary of them: ``sklearn.tree._tree.Tree`` and HistGradientBoosting's
    ``TreePredictor`` hold node indices scikit-learn does not bounds-check, so a crafted file can crash the
    process when it predicts; refusing them would refuse every random forest and boosted model by default.
    """
    trusted = set(extra_trusted or ())
    return [t for t in types if t not in trusted and not _is_class_of_safe_module(t)]


def _is_class_of_safe_module(name: str) -> bool:
    module_name, _, attribute = name.rpartition(".")
    if module_name.split(".")[0] not in SAFE_SKOPS_MODULES:
        return False
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a name no installed module has cannot be a trusted class
            return False
    return isinstance(getattr(module, attribute, None), type)


def require_code_opt_in(explicit: bool | None, what: str) -> None:
    """Running a model's code file is the same trust as unpickling it: the same switch, its own words."""
    if not pickle_allowed(explicit):
        refusal = (
            f"Refusing to run the code file of {what}: a model's code runs with your permissions. If you trust "
            "this model, "
        )
        raise ModelLoadRefusedError(
            refusal + "pass allow_pickle=True or set BAKEHOUSE_ALLOW_PICKLE=true.",
            cli_message=refusal + f"add {CLI_FLAG} (or set BAKEHOUSE_ALLOW_PICKLE=true).",
        )
    warnings.warn(
        f"Running the code file of {what}: only do this for models you trust.", PickleWarning, stacklevel=3
    )
