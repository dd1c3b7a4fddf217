"""Registered models, their versions, aliases, and the audit trail of alias moves and stage changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bakehouse.errors import InvalidParameterError


class Stage(str, Enum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: str) -> Stage:
        """Stages are case-insensitive on input and canonicalised on output, as in MLflow."""
        for stage in cls:
            if isinstance(value, str) and value.strip().lower() == stage.value.lower():
                return stage
        raise InvalidParameterError(
            f"Invalid Model Version stage: {value}. Value must be one of None, Staging, Production, Archived."
        )


class ModelVersionStatus(str, Enum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(slots=True)
class RegisteredModelAlias:
    alias: str
    version: str


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str = Stage.NONE.value
    description: str | None = None
    user_id: str | None = None
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str = ModelVersionStatus.READY.value
    status_message: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[RegisteredModelAlias] = field(default_factory=list)


@dataclass(slots=True)
class RegistryEvent:
    """One entry of the registry audit trail: an alias moved or a version changed stage."""

    name: str
    kind: str  # "alias_set" | "alias_deleted" | "stage_transition"
    timestamp: int
    user_id: str | None
    alias: str | None = None
    version: str | None = None
    from_value: str | None = None
    to_value: str | None = None
