"""The transformers pyfunc as served: one text takes the pipeline's single-input path, small models one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from flavor_cases import build_text_pipeline

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


@pytest.fixture
def restore_torch_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_one_text_answers_as_a_list_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.models.flavors.transformers import TransformersPipelineWrapper

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = build_text_pipeline()
    wrapper = TransformersPipelineWrapper(pipe)
    for data in ("good movie", ["good movie"], pd.DataFrame({"text": ["good movie"]})):
        pd.testing.assert_frame_equal(wrapper.predict(data), pd.DataFrame(pipe(["good movie"])))
    two = ["good movie", "bad"]
    pd.testing.assert_frame_equal(wrapper.predict(pd.DataFrame({"t": two})), pd.DataFrame(pipe(two)))
    # with params, the list call as before: top_k=2 gives both labels of the one text
    both = wrapper.predict(["good movie"], {"top_k": 2})
    assert both == pipe(["good movie"], top_k=2) and len(both[0]) == 2


def test_small_model_is_served_on_one_torch_thread(
    monkeypatch: pytest.MonkeyPatch, restore_torch_threads: None
) -> None:
    from bakehouse.models.flavors.transformers import TransformersPipelineWrapper

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(2)
    TransformersPipelineWrapper(build_text_pipeline()).prepare_for_serving()
    assert torch.get_num_threads() == 1
