"""One error tree, mapped to HTTP in one place (app.py) and back to classes in client.py.

ControlPlaneError (500 internal)
+-- BadRequest (400 bad_request)
|   +-- MalformedJson (400 malformed_json)
+-- Unauthenticated (401 unauthenticated)
+-- Forbidden (403 forbidden)
+-- NotFound (404 not_found)
+-- MethodNotAllowed (405 method_not_allowed)
+-- Conflict (409 conflict)
|   +-- GatesRefused (409 gates_refused; lists every failed gate and retry_after)
+-- PayloadTooLarge (413 payload_too_large)
+-- InvalidSpec (422 invalid_spec)
|   +-- InvalidRequest (422 invalid_request; details.errors lists field and reason)
+-- AdapterError (502 adapter_error)
+-- Unavailable (503 unavailable)
    +-- NotReady (503 not_ready)
    +-- AuditUnavailable (503 audit_unavailable)
    +-- AdapterUnavailable (503 adapter_unavailable)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ControlPlaneError(Exception):
    """Base of every error the plane reports on purpose."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def diagnostics(self) -> str:
        """A human-readable explanation for terminals."""
        lines = [f"error ({self.code}): {self.message}"]
        for key, value in self.details.items():
            if isinstance(value, list):
                lines.append(f"  {key}:")
                lines.extend(f"    - {item}" for item in value)
            else:
                lines.append(f"  {key}: {value}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The §11 error envelope."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ControlPlaneError):
    code = "bad_request"
    status = 400


class MalformedJson(BadRequest):
    code = "malformed_json"


class Unauthenticated(ControlPlaneError):
    code = "unauthenticated"
    status = 401


class Forbidden(ControlPlaneError):
    code = "forbidden"
    status = 403


class NotFound(ControlPlaneError):
    code = "not_found"
    status = 404


class MethodNotAllowed(ControlPlaneError):
    code = "method_not_allowed"
    status = 405


class Conflict(ControlPlaneError):
    code = "conflict"
    status = 409


class GatesRefused(Conflict):
    code = "gates_refused"


class PayloadTooLarge(ControlPlaneError):
    code = "payload_too_large"
    status = 413


class InvalidSpec(ControlPlaneError):
    code = "invalid_spec"
    status = 422


class InvalidRequest(InvalidSpec):
    code = "invalid_request"


class Unavailable(ControlPlaneError):
    code = "unavailable"
    status = 503


class NotReady(Unavailable):
    code = "not_ready"


class AuditUnavailable(Unavailable):
    code = "audit_unavailable"


class AdapterUnavailable(Unavailable):
    code = "adapter_unavailable"


class AdapterError(ControlPlaneError):
    code = "adapter_error"
    status = 502


def all_error_classes() -> dict[str, type[ControlPlaneError]]:
    """Every error class by code, so the client can map a response back to its class."""
    found: dict[str, type[ControlPlaneError]] = {}
    stack: list[type[ControlPlaneError]] = [ControlPlaneError]
    while stack:
        cls = stack.pop()
        found[cls.code] = cls
        stack.extend(cls.__subclasses__())
    return found
