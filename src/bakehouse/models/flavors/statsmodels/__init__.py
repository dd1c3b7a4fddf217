"""The statsmodels flavor: statsmodels has no format but pickle (``results.save``), so loading a statsmodels
model is the explicit opt-in that every pickle needs (``allow_pickle=True`` / ``BAKEHOUSE_ALLOW_PICKLE``).

Layout is MLflow's (``model.statsmodels``, ``loader_module: mlflow.statsmodels``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import import_library, model_file
from bakehouse.models.flavors.statsmodels.autologging import autolog as autolog
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions
from bakehouse.models.trust import require_pickle_opt_in

FLAVOR_NAME = "statsmodels"
LOADER_MODULE = "mlflow.statsmodels"
DATA_FILE = "model.statsmodels"


def _statsmodels() -> Any:
    return import_library("statsmodels", "statsmodels")


def save_model(
    statsmodels_model: Any, path: str | Path, *, remove_data: bool = False, **options: Unpack[SaveOptions]
) -> Model:
    """Save fitted results with their own ``save`` (a pickle: loading it will need the opt-in)."""
    from bakehouse.models.saving import save_flavor

    statsmodels = _statsmodels()
    if not callable(getattr(statsmodels_model, "save", None)) or not hasattr(statsmodels_model, "model"):
        raise InvalidParameterError("Expected fitted statsmodels results (the object fit() returns)")

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        statsmodels_model.save(str(model_dir / DATA_FILE), remove_data=remove_data)
        return {"data": DATA_FILE, "statsmodels_version": statsmodels.__version__}, {"data": DATA_FILE}

    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"statsmodels", "numpy", "pandas", "scipy"},
        predict=StatsmodelsModelWrapper(statsmodels_model).predict,
        **options,
    )


def _load_from_dir(model_dir: Path, model: Model, *, allow_pickle: bool | None) -> Any:
    path = model_file(model_dir, model.get_flavor(FLAVOR_NAME).get("data", DATA_FILE))
    require_pickle_opt_in(allow_pickle, f"the statsmodels model {path.name} (statsmodels saves only pickles)")
    from statsmodels.iolib.smpickle import load_pickle  # only after the opt-in

    return load_pickle(str(path))


def load_model(model_uri: str, dst_path: str | None = None, *, allow_pickle: bool | None = None) -> Any:
    """The fitted results object itself (needs the pickle opt-in)."""
    from bakehouse.models.uri import download_flavor_model

    model_dir, model = download_flavor_model(model_uri, dst_path)
    return _load_from_dir(model_dir, model, allow_pickle=allow_pickle)


class StatsmodelsModelWrapper:
    """MLflow's pyfunc semantics: ``predict(data)``; a time-series model takes one row with ``start`` and
    ``end``."""

    def __init__(self, statsmodels_model: Any) -> None:
        self.statsmodels_model = statsmodels_model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        from statsmodels.tsa.base.tsa_model import TimeSeriesModel  # the caller has statsmodels

        if isinstance(self.statsmodels_model.model, TimeSeriesModel):
            columns = getattr(data, "columns", ())
            if len(data) != 1 or "start" not in columns or "end" not in columns:
                raise InvalidParameterError(
                    "prediction dataframes for a TimeSeriesModel must have exactly one row and include "
                    "columns called start and end"
                )
            return self.statsmodels_model.predict(start=data["start"].iloc[0], end=data["end"].iloc[0])
        return self.statsmodels_model.predict(data)

    def get_raw_model(self) -> Any:
        return self.statsmodels_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> StatsmodelsModelWrapper:
    return StatsmodelsModelWrapper(_load_from_dir(Path(model_dir), model, allow_pickle=allow_pickle))


def log_model(statsmodels_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the results as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, statsmodels_model, name, **kwargs)
