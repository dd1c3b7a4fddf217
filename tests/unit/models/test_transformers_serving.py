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


def test_served_one_text_goes_through_a_verified_trace_with_the_pipelines_answers(
    monkeypatch: pytest.MonkeyPatch, restore_torch_threads: None
) -> None:
    from bakehouse.models.flavors.transformers import TransformersPipelineWrapper, traced

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = build_text_pipeline()
    wrapper = TransformersPipelineWrapper(pipe)
    wrapper.prepare_for_serving()
    assert wrapper._traced is not None
    vocabulary = ["good", "bad", "movie", "the", "is", "great", "awful", "unknown"]
    # more lengths than are traced: the rest take the pipeline's path, with the same answers
    texts = [
        " ".join(vocabulary[(i + j) % len(vocabulary)] for j in range(n))
        for n in range(1, 21)
        for i in (0, 3)
    ]
    for text in texts:
        pd.testing.assert_frame_equal(wrapper.predict([text]), pd.DataFrame(pipe([text])))
    shapes = wrapper._traced.traced_shapes
    assert 0 < len(shapes) == traced.MAX_TRACED_SHAPES < 20
    # several texts, or params, never take the trace
    pd.testing.assert_frame_equal(wrapper.predict(texts[:3]), pd.DataFrame(pipe(texts[:3])))
    assert wrapper.predict(["good movie"], {"top_k": 2}) == pipe(["good movie"], top_k=2)


def test_only_known_encoders_are_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.models.flavors.transformers.traced import traceable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = build_text_pipeline()
    assert traceable(pipe)
    monkeypatch.setattr(pipe.model.config, "model_type", "some-remote-architecture")
    assert not traceable(pipe)
