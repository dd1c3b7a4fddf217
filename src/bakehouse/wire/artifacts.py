"""Artifact proxy messages (MLflow's ``MlflowArtifactsService``) and their ENDPOINTS rows.

The byte-carrying routes (GET/PUT/DELETE of ``/mlflow-artifacts/artifacts/<path>``) are ``raw``: their
handlers get the Starlette request and stream. ``<path>`` is relative to ``--artifacts-destination``.
"""

from __future__ import annotations

from pydantic import Field

from bakehouse.wire.endpoints import Endpoint
from bakehouse.wire.messages import Int64, Text, WireModel

ARTIFACTS_PREFIX = "/mlflow-artifacts"


class ListArtifactsProxy(WireModel):
    path: Text | None = None


class MultipartPart(WireModel):
    part_number: Int64
    etag: str = ""
    url: str | None = None


class CreateMultipartUpload(WireModel):
    artifact_path: Text | None = None  # from the URL
    path: Text | None = None
    num_parts: Int64 = 1


class CompleteMultipartUpload(WireModel):
    artifact_path: Text | None = None
    path: Text | None = None
    upload_id: str
    parts: list[MultipartPart] = Field(default_factory=list)


class AbortMultipartUpload(WireModel):
    artifact_path: Text | None = None
    path: Text | None = None
    upload_id: str


def _row(
    name: str, method: str, path: str, fn: str, request: object = None, raw: bool = False, level: str = "read"
) -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=ARTIFACTS_PREFIX + path,
        handler=f"artifacts:{fn}",
        request=request,
        raw=raw,
        permission=("experiment", level),  # first path segment = experiment id
    )


ENDPOINTS: list[Endpoint] = [
    _row("ListArtifactsProxy", "GET", "/artifacts", "list_artifacts", ListArtifactsProxy),
    _row("DownloadArtifact", "GET", "/artifacts/{artifact_path:path}", "download_artifact", raw=True),
    _row(
        "UploadArtifact",
        "PUT",
        "/artifacts/{artifact_path:path}",
        "upload_artifact",
        raw=True,
        level="update",
    ),
    _row(
        "DeleteArtifact",
        "DELETE",
        "/artifacts/{artifact_path:path}",
        "delete_artifact",
        raw=True,
        level="delete",
    ),
    _row(
        "CreateMultipartUpload",
        "POST",
        "/mpu/create/{artifact_path:path}",
        "create_multipart_upload",
        CreateMultipartUpload,
        level="update",
    ),
    _row(
        "CompleteMultipartUpload",
        "POST",
        "/mpu/complete/{artifact_path:path}",
        "complete_multipart_upload",
        CompleteMultipartUpload,
        level="update",
    ),
    _row(
        "AbortMultipartUpload",
        "POST",
        "/mpu/abort/{artifact_path:path}",
        "abort_multipart_upload",
        AbortMultipartUpload,
        level="update",
    ),
]
