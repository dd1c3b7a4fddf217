"""The one exception hierarchy of Bakehouse.

Every error carries one of MLflow's error codes, so a store error raised on SQLite, a REST response body
and an exception rebuilt by the HTTP client all agree: ``except NotFoundError`` behaves the same whether the
store is local or behind a server. The tree, with each class's default code and HTTP status (a raise may
pass another code: ``NotFoundError(message, "ENDPOINT_NOT_FOUND")``)::

    BakehouseError                  INTERNAL_ERROR            500
    ├── InvalidParameterError       INVALID_PARAMETER_VALUE   400
    ├── NotFoundError               RESOURCE_DOES_NOT_EXIST   404
    ├── AlreadyExistsError          RESOURCE_ALREADY_EXISTS   400
    ├── BadRequestError             BAD_REQUEST               400
    ├── UnauthenticatedError        UNAUTHENTICATED           401
    ├── PermissionDeniedError       PERMISSION_DENIED         403
    ├── RateLimitedError            REQUEST_LIMIT_EXCEEDED    429
    ├── ConflictError               RESOURCE_CONFLICT         409
    ├── TemporarilyUnavailableError TEMPORARILY_UNAVAILABLE   503
    ├── DeadlineExceededError       DEADLINE_EXCEEDED         504
    ├── NotImplementedFeatureError  NOT_IMPLEMENTED           501
    └── InternalError               INTERNAL_ERROR            500

Modules subclass these for errors of their own (``models.flavors.ModelLoadRefusedError`` is an
InvalidParameterError, ``models.payload.UnsupportedMediaType`` a BadRequestError). ``tests/unit/test_errors.py``
checks the drawing against the classes.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    """MLflow's error codes (``databricks.proto`` ErrorCode names)."""

    INTERNAL_ERROR = "INTERNAL_ERROR"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    IO_ERROR = "IO_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    INVALID_STATE = "INVALID_STATE"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    FEATURE_DISABLED = "FEATURE_DISABLED"
    CUSTOMER_UNAUTHORIZED = "CUSTOMER_UNAUTHORIZED"
    REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    NOT_FOUND = "NOT_FOUND"
    ABORTED = "ABORTED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    CANCELLED = "CANCELLED"
    DATA_LOSS = "DATA_LOSS"


#: HTTP status for each error code, as MLflow maps them (RESOURCE_ALREADY_EXISTS is 400, not 409).
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 400,
    ErrorCode.INVALID_STATE: 500,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.CUSTOMER_UNAUTHORIZED: 401,
    ErrorCode.ABORTED: 409,
    ErrorCode.RESOURCE_CONFLICT: 409,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.REQUEST_LIMIT_EXCEEDED: 429,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.CANCELLED: 499,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.DATA_LOSS: 500,
    ErrorCode.IO_ERROR: 500,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.FEATURE_DISABLED: 501,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
    ErrorCode.DEADLINE_EXCEEDED: 504,
}


class BakehouseError(Exception):
    """Base of every error Bakehouse raises on purpose; ``code`` decides the REST status."""

    default_code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self, message: str, code: ErrorCode | str | None = None, *, cli_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        #: the same error in the words of the command line (``--allow-pickle`` where the message says
        #: ``allow_pickle=True``); the CLI prints this one
        self.cli_message = cli_message or message
        if code is None:
            self.code = self.default_code
        else:
            self.code = ErrorCode(code) if code in ErrorCode.__members__ else ErrorCode.INTERNAL_ERROR

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_json(self) -> dict[str, Any]:
        return {"error_code": self.code.value, "message": self.message}

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.code))


class InvalidParameterError(BakehouseError):
    """Bad input: refused before anything is written."""

    default_code = ErrorCode.INVALID_PARAMETER_VALUE


class NotFoundError(BakehouseError):
    default_code = ErrorCode.RESOURCE_DOES_NOT_EXIST


class AlreadyExistsError(BakehouseError):
    default_code = ErrorCode.RESOURCE_ALREADY_EXISTS


class BadRequestError(BakehouseError):
    default_code = ErrorCode.BAD_REQUEST


class UnauthenticatedError(BakehouseError):
    default_code = ErrorCode.UNAUTHENTICATED


class PermissionDeniedError(BakehouseError):
    default_code = ErrorCode.PERMISSION_DENIED


class RateLimitedError(BakehouseError):
    default_code = ErrorCode.REQUEST_LIMIT_EXCEEDED


class ConflictError(BakehouseError):
    default_code = ErrorCode.RESOURCE_CONFLICT


class TemporarilyUnavailableError(BakehouseError):
    default_code = ErrorCode.TEMPORARILY_UNAVAILABLE


class WriteLockBusyError(TemporarilyUnavailableError):
    """A write asked not to wait (see ``store.db.engine.no_lock_wait``) found the database's write lock
    taken; nothing was written. The server then runs the call again on a worker thread, where it may wait."""


class DeadlineExceededError(BakehouseError):
    default_code = ErrorCode.DEADLINE_EXCEEDED


class NotImplementedFeatureError(BakehouseError):
    default_code = ErrorCode.NOT_IMPLEMENTED


class InternalError(BakehouseError):
    default_code = ErrorCode.INTERNAL_ERROR


_CLASS_FOR_CODE: dict[ErrorCode, type[BakehouseError]] = {
    ErrorCode.INVALID_PARAMETER_VALUE: InvalidParameterError,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: NotFoundError,
    ErrorCode.RESOURCE_ALREADY_EXISTS: AlreadyExistsError,
    ErrorCode.BAD_REQUEST: BadRequestError,
    ErrorCode.MALFORMED_REQUEST: BadRequestError,
    ErrorCode.UNAUTHENTICATED: UnauthenticatedError,
    ErrorCode.CUSTOMER_UNAUTHORIZED: UnauthenticatedError,
    ErrorCode.PERMISSION_DENIED: PermissionDeniedError,
    ErrorCode.REQUEST_LIMIT_EXCEEDED: RateLimitedError,
    ErrorCode.RESOURCE_EXHAUSTED: RateLimitedError,
    ErrorCode.RESOURCE_CONFLICT: ConflictError,
    ErrorCode.TEMPORARILY_UNAVAILABLE: TemporarilyUnavailableError,
    ErrorCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    ErrorCode.NOT_IMPLEMENTED: NotImplementedFeatureError,
    ErrorCode.ENDPOINT_NOT_FOUND: NotFoundError,
    ErrorCode.NOT_FOUND: NotFoundError,
}


def error_from_code(code: str, message: str) -> BakehouseError:
    """Rebuild the right exception class from a REST error body (the client side of the mapping)."""
    try:
        error_code = ErrorCode(code)
    except ValueError:
        error_code = ErrorCode.INTERNAL_ERROR
    cls = _CLASS_FOR_CODE.get(error_code, BakehouseError)
    return cls(message, error_code)


def code_for_http_status(status: int) -> ErrorCode:
    """The error code a client assumes when a response carries no JSON error body."""
    if status == 400:
        return ErrorCode.BAD_REQUEST
    if status == 401:
        return ErrorCode.UNAUTHENTICATED
    if status == 403:
        return ErrorCode.PERMISSION_DENIED
    if status == 404:
        return ErrorCode.ENDPOINT_NOT_FOUND
    if status == 429:
        return ErrorCode.REQUEST_LIMIT_EXCEEDED
    if status in (502, 503):  # 502: a proxy could not get an answer from the server behind it
        return ErrorCode.TEMPORARILY_UNAVAILABLE
    if status == 504:
        return ErrorCode.DEADLINE_EXCEEDED
    return ErrorCode.INTERNAL_ERROR
