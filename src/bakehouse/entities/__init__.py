"""Plain, cheap data objects shared by every layer. No I/O here."""

from bakehouse.entities.experiment import Experiment, ExperimentTag
from bakehouse.entities.lifecycle import LifecycleStage, ViewType
from bakehouse.entities.logged_model import LoggedModel, LoggedModelStatus
from bakehouse.entities.metric import Metric
from bakehouse.entities.model_registry import (
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
    RegisteredModelAlias,
    RegistryEvent,
    Stage,
)
from bakehouse.entities.page import PagedList
from bakehouse.entities.run import (
    FileInfo,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
)
from bakehouse.entities.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEvent,
    WebhookStatus,
    WebhookTestResult,
)

__all__ = [
    "DeliveryStatus",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelStatus",
    "Metric",
    "ModelVersion",
    "ModelVersionStatus",
    "PagedList",
    "Param",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegistryEvent",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunStatus",
    "RunTag",
    "Stage",
    "ViewType",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEvent",
    "WebhookStatus",
    "WebhookTestResult",
]
