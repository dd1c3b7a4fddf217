"""Lifecycle stages and the view types used by searches."""

from __future__ import annotations

from enum import Enum

from bakehouse.errors import InvalidParameterError


class LifecycleStage(str, Enum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(str, Enum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    @classmethod
    def parse(cls, value: ViewType | str | int | None) -> ViewType:
        """Accept the enum, its name (any case) or MLflow's proto number (1, 2, 3)."""
        if value is None or value == "":
            return cls.ACTIVE_ONLY
        if isinstance(value, ViewType):
            return value
        if isinstance(value, int):
            numbers = {1: cls.ACTIVE_ONLY, 2: cls.DELETED_ONLY, 3: cls.ALL}
            if value in numbers:
                return numbers[value]
        elif isinstance(value, str):
            key = value.strip().upper()
            if key in cls.__members__:
                return cls[key]
            if key.isdigit():
                return cls.parse(int(key))
        raise InvalidParameterError(f"Invalid view type {value!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL")

    def stages(self) -> tuple[str, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)
