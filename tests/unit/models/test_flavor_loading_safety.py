"""Per library flavor: a model directory whose files were swapped for a malicious pickle never runs it.

Flavors that store the library's own format (XGBoost UBJSON, LightGBM text, CatBoost cbm, ``.keras``, ONNX,
safetensors) never unpickle anything, opt-in or not: the swapped file fails to parse and the payload stays
inert. statsmodels only has pickle, so its file is refused unless pickle was opted into — and with the
opt-in it runs (that is what the opt-in means). The MLmodel cannot name another class or module either.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from flavor_cases import CASES, FlavorCase

import bakehouse
import bakehouse.pyfunc
from bakehouse.models.flavors import ModelLoadRefusedError
from bakehouse.models.mlmodel import Model
from bakehouse.models.trust import PickleWarning


class _Payload:
    """Unpickling this writes a marker file: proof that code from the model directory ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.marker, "pwned"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each available flavor's model, saved once by Bakehouse."""
    out = {}
    import importlib.util

    for name, case in CASES.items():
        if importlib.util.find_spec(case.library) is None:
            continue
        path = tmp_path_factory.mktemp("safety") / name
        getattr(bakehouse, name).save_model(case.build(), path, input_example=case.example())
        out[name] = path
    return out


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> FlavorCase:
    found: FlavorCase = CASES[request.param]
    pytest.importorskip(found.library)
    return found


def _poisoned(saved: dict[str, Path], case: FlavorCase, tmp_path: Path) -> tuple[Path, Path]:
    model_dir = shutil.copytree(saved[case.name], tmp_path / "model")
    marker = tmp_path / "ran.marker"
    (model_dir / case.data_file).write_bytes(pickle.dumps(_Payload(marker)))
    return model_dir, marker


def test_a_swapped_in_pickle_never_runs_without_the_opt_in(
    saved: dict[str, Path], case: FlavorCase, tmp_path: Path
) -> None:
    model_dir, marker = _poisoned(saved, case, tmp_path)
    expected = ModelLoadRefusedError if case.name == "statsmodels" else Exception
    with pytest.raises(expected):
        bakehouse.pyfunc.load_model(str(model_dir))
    with pytest.raises(expected):
        getattr(bakehouse, case.name).load_model(str(model_dir))
    assert not marker.exists()


def test_with_the_opt_in_only_a_pickle_format_unpickles(
    saved: dict[str, Path], case: FlavorCase, tmp_path: Path
) -> None:
    model_dir, marker = _poisoned(saved, case, tmp_path)
    if case.name == "statsmodels":  # the only flavor whose format is pickle: the opt-in is the gate
        with pytest.warns(PickleWarning, match="statsmodels saves only pickles"):
            bakehouse.statsmodels.load_model(str(model_dir), allow_pickle=True)
        assert marker.read_text() == "pwned"
        return
    with pytest.raises(Exception):  # noqa: B017 - the library's own parser rejects it, whichever error
        bakehouse.pyfunc.load_model(str(model_dir), allow_pickle=True)
    assert not marker.exists()


def test_transformers_pickle_weights_need_the_opt_in(saved: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    model_dir = shutil.copytree(saved["transformers"], tmp_path / "model")
    marker = tmp_path / "ran.marker"
    (model_dir / "model" / "model.safetensors").unlink()
    (model_dir / "model" / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelLoadRefusedError, match="without safetensors weights"):
        bakehouse.pyfunc.load_model(str(model_dir))
    assert not marker.exists()
    # UserWarning: our PickleWarning, and torch's note about the pickle protocol it then refuses to run
    with pytest.warns(UserWarning), pytest.raises(Exception):  # noqa: B017 - torch's weights_only loader refuses it
        bakehouse.pyfunc.load_model(str(model_dir), allow_pickle=True)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("flavor", "key", "value"),
    [
        ("xgboost", "model_class", "os.system"),
        ("catboost", "model_type", "Popen"),
        ("transformers", "pipeline_model_type", "PreTrainedTokenizerFast"),
        ("lightgbm", "data", "../../etc/passwd"),
    ],
)
def test_mlmodel_cannot_name_other_classes_or_paths(
    saved: dict[str, Path], tmp_path: Path, flavor: str, key: str, value: str
) -> None:
    pytest.importorskip(CASES[flavor].library)
    model_dir = shutil.copytree(saved[flavor], tmp_path / "model")
    meta = Model.load(model_dir)
    meta.flavors[flavor][key] = value
    meta.save(model_dir)
    with pytest.raises(ModelLoadRefusedError):
        bakehouse.pyfunc.load_model(str(model_dir))
