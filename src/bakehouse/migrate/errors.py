"""Errors of a migration (part of the one hierarchy in :mod:`bakehouse.errors`)."""

from __future__ import annotations

from bakehouse.errors import BakehouseError, ConflictError, ErrorCode


class MigrationError(BakehouseError):
    """The migration cannot proceed (an unreadable source, an unsupported layout)."""

    default_code = ErrorCode.INVALID_STATE


class MigrationConflictError(ConflictError):
    """Objects with the same id hold different content on both sides; nothing was written."""

    def __init__(self, conflicts: list[str]) -> None:
        shown = "; ".join(conflicts[:5])
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        super().__init__(
            f"{len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''} between source and destination, "
            f"nothing was changed: {shown}{more}"
        )
        self.conflicts = conflicts
