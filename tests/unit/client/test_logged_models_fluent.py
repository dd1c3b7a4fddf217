"""The logged-model fluent functions on the embedded store: MLflow 3's models as entities of their own."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import bakehouse as bh
from bakehouse.errors import InvalidParameterError

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
y = np.array([0, 1, 0, 1])


def test_last_logged_model_params_tags_and_search(tmp_tracking_uri: str) -> None:
    experiment = bh.set_experiment("logged-models")
    with bh.start_run() as run:
        weak = bh.sklearn.log_model(LogisticRegression(C=0.01).fit(X, y), name="weak")
        strong = bh.sklearn.log_model(LogisticRegression(C=10.0).fit(X, y), name="strong")
        bh.log_metric("accuracy", 0.6, model_id=weak.model_id)
        bh.log_metric("accuracy", 0.95, model_id=strong.model_id)
    assert bh.last_logged_model().model_id == strong.model_id
    bh.log_model_params({"C": 10.0})  # the last model logged here
    bh.set_logged_model_tags(weak.model_id, {"stage": "baseline", "keep": "no"})
    bh.delete_logged_model_tag(weak.model_id, "keep")
    assert bh.get_logged_model(strong.model_id).params == {"C": "10.0"}
    assert bh.get_logged_model(weak.model_id).tags == {"stage": "baseline"}

    found = bh.search_logged_models(filter_string="metrics.accuracy > 0.9", output_format="list")
    assert [m.model_id for m in found] == [strong.model_id]
    frame = bh.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        order_by=[{"field_name": "metrics.accuracy", "ascending": True}],
    )
    assert list(frame["name"]) == ["weak", "strong"]
    assert set(frame["source_run_id"]) == {run.info.run_id}
    assert len(bh.search_logged_models(max_results=1, output_format="list")) == 1
    with pytest.raises(InvalidParameterError):
        bh.search_logged_models(output_format="arrow")
