"""The ``MLmodel`` file: read and write MLflow's YAML, keeping every key we do not know about.

Known keys become attributes; everything else is carried in ``extra`` and written back unchanged, so a
model saved by a newer MLflow (``prompts``, ``resources``, ``auth_policy``, ...) survives a round trip
through Bakehouse.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.models.signature import ModelSignature

MLMODEL_FILE_NAME = "MLmodel"
#: the MLflow version we write into ``mlflow_version``; MLflow checks it only for warnings
MLFLOW_COMPAT_VERSION = "3.17.2"

_KNOWN = (
    "artifact_path",
    "flavors",
    "run_id",
    "model_uuid",
    "model_id",
    "utc_time_created",
    "signature",
    "saved_input_example_info",
    "metadata",
    "mlflow_version",
    "model_size_bytes",
)


def _yaml() -> Any:
    import yaml  # pyyaml: small, but only needed when a model is read or written

    return yaml


@dataclass
class Model:
    """An MLmodel document."""

    artifact_path: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(default_factory=lambda: str(_dt.datetime.now(_dt.UTC).replace(tzinfo=None)))
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    mlflow_version: str | None = MLFLOW_COMPAT_VERSION
    model_size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add_flavor(self, name: str, **params: Any) -> Model:
        self.flavors[name] = params
        return self

    def get_flavor(self, name: str) -> dict[str, Any]:
        if name not in self.flavors:
            raise InvalidParameterError(
                f"Model does not have the {name!r} flavor (it has: {', '.join(self.flavors) or 'none'})"
            )
        return self.flavors[name]

    # ---------------------------------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        out["flavors"] = self.flavors
        out.setdefault("is_signature_from_type_hint", False)
        if self.metadata is not None:
            out["metadata"] = self.metadata
        out["mlflow_version"] = self.mlflow_version
        out["model_id"] = self.model_id
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        out["model_uuid"] = self.model_uuid
        out.setdefault("prompts", None)
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        out.setdefault("type_hint_from_example", False)
        out["utc_time_created"] = self.utc_time_created
        out.update(self.extra)
        return out

    def to_yaml(self) -> str:
        return str(_yaml().safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True))

    def save(self, path: str | Path) -> None:
        """Write ``MLmodel`` into the directory ``path`` (or to ``path`` if it names the file)."""
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE_NAME
        target.write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        if not isinstance(data, dict) or not isinstance(data.get("flavors", {}), dict):
            raise InvalidParameterError("MLmodel is not a mapping with a 'flavors' mapping")
        data = dict(data)
        signature = data.pop("signature", None)
        known = {k: data.pop(k) for k in _KNOWN if k in data}
        model = cls(
            artifact_path=known.get("artifact_path"),
            run_id=known.get("run_id"),
            model_id=known.get("model_id"),
            model_uuid=str(known.get("model_uuid") or uuid.uuid4().hex),
            utc_time_created=str(known.get("utc_time_created") or ""),
            flavors=dict(known.get("flavors") or {}),
            signature=ModelSignature.from_dict(signature) if signature else None,
            saved_input_example_info=known.get("saved_input_example_info"),
            metadata=known.get("metadata"),
            mlflow_version=known.get("mlflow_version"),
            model_size_bytes=known.get("model_size_bytes"),
        )
        model.extra = data
        return model

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read ``MLmodel`` from a model directory (or the file itself)."""
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE_NAME
        if not target.is_file():
            raise NotFoundError(f"No MLmodel file found at {target}: this is not a model directory")
        loaded = _yaml().safe_load(target.read_text(encoding="utf-8"))
        return cls.from_dict(loaded or {})


@dataclass
class ModelInfo:
    """What ``log_model`` returns: where the model is and how it was described (MLflow 3's ModelInfo)."""

    artifact_path: str
    flavors: dict[str, dict[str, Any]]
    model_uri: str
    model_uuid: str
    run_id: str | None
    utc_time_created: str
    mlflow_version: str | None
    model_id: str | None = None
    name: str | None = None
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    registered_model_version: int | None = None
    model_size_bytes: int | None = None

    @classmethod
    def from_model(cls, model: Model, model_uri: str, name: str | None = None) -> ModelInfo:
        return cls(
            artifact_path=model.artifact_path or "",
            flavors=model.flavors,
            model_uri=model_uri,
            model_uuid=model.model_uuid,
            run_id=model.run_id,
            utc_time_created=model.utc_time_created,
            mlflow_version=model.mlflow_version,
            model_id=model.model_id,
            name=name,
            signature=model.signature,
            saved_input_example_info=model.saved_input_example_info,
            metadata=model.metadata,
            model_size_bytes=model.model_size_bytes,
        )

    @property
    def signature_dict(self) -> dict[str, Any] | None:
        return self.signature.to_dict() if self.signature else None
