"""The registry ENDPOINTS table matches MLflow's ModelRegistryService (paths, methods) and our handlers."""

from __future__ import annotations

import pytest

from bakehouse.wire.registry import ENDPOINTS


def test_every_mlflow_registry_rpc_is_served_with_the_same_path_and_method():
    pytest.importorskip("mlflow")
    from mlflow.protos.model_registry_pb2 import ModelRegistryService
    from mlflow.utils.rest_utils import extract_all_api_info_for_service

    mlflow_routes = {
        (request_class.__name__, method, path)
        for request_class, infos in extract_all_api_info_for_service(ModelRegistryService, "").items()
        for path, method in infos
    }
    ours = {(e.name, m, e.path) for e in ENDPOINTS for m in e.methods}
    assert mlflow_routes <= ours
    assert {name for name, _, _ in mlflow_routes} == {e.name for e in ENDPOINTS} - {"GetRegistryHistory"}


def test_every_row_has_a_handler_and_a_request_model():
    from bakehouse.server.routing import resolve_handler

    for endpoint in ENDPOINTS:
        assert callable(resolve_handler(endpoint.handler)), endpoint.name
        assert endpoint.request is not None, endpoint.name
        assert endpoint.permission[0] in ("registered_model", None)
