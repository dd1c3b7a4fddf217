"""The optional PyTorch flavor (runs only where torch is installed: ``pip install 'bakehouse[pytorch]'``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bakehouse.models.flavors import ModelLoadRefusedError

torch = pytest.importorskip("torch")


def test_module_round_trip_needs_pickle_opt_in(tmp_path: Path) -> None:
    import bakehouse.pyfunc
    import bakehouse.pytorch

    module = torch.nn.Linear(3, 2)
    bakehouse.pytorch.save_model(module, tmp_path / "m", input_example=np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ModelLoadRefusedError):
        bakehouse.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.warns(UserWarning, match="Unpickling"):
        model = bakehouse.pyfunc.load_model(str(tmp_path / "m"), allow_pickle=True)
    x = np.ones((4, 3), dtype=np.float32)
    expected = module(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)


def test_state_dict_loads_without_pickle(tmp_path: Path) -> None:
    import bakehouse.pytorch

    module = torch.nn.Linear(3, 2)
    bakehouse.pytorch.save_model(module.state_dict(), tmp_path / "sd")
    loaded = bakehouse.pytorch.load_model(str(tmp_path / "sd"))
    assert torch.equal(loaded["weight"], module.state_dict()["weight"])
