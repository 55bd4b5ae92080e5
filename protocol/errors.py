"""Matrix error responses as values.

The Client-Server API reports failures as ``{"errcode": ..., "error": ...}`` with a specific HTTP status
(spec: Client-Server API, "Standard error response"). These classes carry exactly that, so any layer can raise
one and the web tier renders it in a single place; tasks return them as data via :meth:`to_dict`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MatrixError(Exception):
    """An error the client is meant to see. Subclasses fix the errcode and default status."""

    errcode: ClassVar[str] = "M_UNKNOWN"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = status if status is not None else self.status
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The response body: errcode, error and any extra fields the spec defines for this error."""
        return {"errcode": self.errcode, "error": self.message, **self.extra}

    def to_wire(self) -> dict[str, Any]:
        """A JSON-safe form that survives a task result and becomes the same error again."""
        return {"errcode": self.errcode, "status": self.http_status, "body": self.to_dict()}

    @staticmethod
    def from_wire(data: dict[str, Any]) -> MatrixError:
        """Rebuild an error sent by a task; unknown errcodes keep their code and body verbatim."""
        body = dict(data["body"])
        errcode = body.pop("errcode")
        message = body.pop("error", "")
        cls = _BY_ERRCODE.get(errcode)
        if cls is None:
            error = MatrixError(message, status=int(data["status"]), **body)
            error.errcode = errcode  # type: ignore[misc]
            return error
        return cls(message, status=int(data["status"]), **body)


class Forbidden(MatrixError):
    errcode = "M_FORBIDDEN"
    status = 403


class Unrecognized(MatrixError):
    errcode = "M_UNRECOGNIZED"
    status = 404


class NotFound(MatrixError):
    errcode = "M_NOT_FOUND"
    status = 404


class NotJson(MatrixError):
    errcode = "M_NOT_JSON"


class BadJson(MatrixError):
    errcode = "M_BAD_JSON"


class MissingParam(MatrixError):
    errcode = "M_MISSING_PARAM"


class InvalidParam(MatrixError):
    errcode = "M_INVALID_PARAM"


class TooLarge(MatrixError):
    errcode = "M_TOO_LARGE"
    status = 413


class MissingToken(MatrixError):
    errcode = "M_MISSING_TOKEN"
    status = 401


class UnknownToken(MatrixError):
    errcode = "M_UNKNOWN_TOKEN"
    status = 401


class UserInUse(MatrixError):
    errcode = "M_USER_IN_USE"


class InvalidUsername(MatrixError):
    errcode = "M_INVALID_USERNAME"


class WeakPassword(MatrixError):
    errcode = "M_WEAK_PASSWORD"


class LimitExceeded(MatrixError):
    errcode = "M_LIMIT_EXCEEDED"
    status = 429


class UserDeactivated(MatrixError):
    errcode = "M_USER_DEACTIVATED"
    status = 403


class GuestAccessForbidden(MatrixError):
    errcode = "M_GUEST_ACCESS_FORBIDDEN"
    status = 403


class Unauthorized(MatrixError):
    errcode = "M_UNAUTHORIZED"
    status = 401


class UnknownError(MatrixError):
    errcode = "M_UNKNOWN"


class BadSignature(MatrixError):
    """A signature on a key object is missing or does not verify (End-to-End Encryption, "Cross-signing")."""

    errcode = "M_INVALID_SIGNATURE"


class WrongRoomKeysVersion(MatrixError):
    """A key backup write named a version that is not the current one; ``current_version`` says which is."""

    errcode = "M_WRONG_ROOM_KEYS_VERSION"
    status = 403


class DuplicateAnnotation(MatrixError):
    """The sender already annotated that event with an event of that type and key, not redacted (Client-Server
    API, "Avoiding duplicate annotations")."""

    errcode = "M_DUPLICATE_ANNOTATION"


class ServerUnavailable(MatrixError):
    """The request could not be completed now (a queue or the database is down); the client may retry."""

    errcode = "M_UNKNOWN"
    status = 503


_BY_ERRCODE: dict[str, type[MatrixError]] = {
    cls.errcode: cls
    for cls in (
        Forbidden,
        Unrecognized,
        NotFound,
        NotJson,
        BadJson,
        MissingParam,
        InvalidParam,
        TooLarge,
        MissingToken,
        UnknownToken,
        UserInUse,
        InvalidUsername,
        WeakPassword,
        LimitExceeded,
        UserDeactivated,
        GuestAccessForbidden,
        Unauthorized,
        UnknownError,
        BadSignature,
        WrongRoomKeysVersion,
        DuplicateAnnotation,
    )
}


class Exclusive(MatrixError):
    """A user id or room alias an application service claims exclusively (Application Service API)."""

    errcode = "M_EXCLUSIVE"
    status = 400


class UnknownDevice(MatrixError):
    errcode = "M_UNKNOWN_DEVICE"
    status = 400


class UrlNotSet(MatrixError):
    """An application service ping of an appservice registered without a url."""

    errcode = "M_URL_NOT_SET"
    status = 400


class BadStatus(MatrixError):
    """The application service answered a ping with an error (``status`` and ``body`` say which)."""

    errcode = "M_BAD_STATUS"
    status = 502


class ConnectionFailed(MatrixError):
    errcode = "M_CONNECTION_FAILED"
    status = 502


class ConnectionTimeout(MatrixError):
    errcode = "M_CONNECTION_TIMEOUT"
    status = 504
