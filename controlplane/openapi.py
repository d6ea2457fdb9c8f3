"""The OpenAPI document is the contract: every operation declares the errors it can answer.

The errors come from one tree (errors.py) through one handler (app.py), so they are declared here
once, from what each operation is: every /v1 operation can refuse input (422), miss what it names
(404) and lose its database (503); one with a body can get malformed or oversized JSON (400, 413);
a change can conflict (409); one that needs a bearer token can refuse the caller (401, 403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

WRITES = frozenset({"post", "put", "patch", "delete"})
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


class ErrorDetail(BaseModel):
    """What went wrong, for people (`message`) and programs (`code`, `details`)."""

    code: str = Field(description="stable error code, e.g. not_found, invalid_request")
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """The error envelope every refusal of the plane answers (§11)."""

    error: ErrorDetail


EVERY = {
    "404": "not found: what the request names does not exist",
    "422": "invalid input: details.errors lists each field and reason",
    "503": "unavailable: the database or the audit log cannot be reached; nothing changed",
}
WITH_BODY = {"400": "the body is not JSON", "413": "the body is over the plane's size limit"}
CHANGES = {"409": "conflict with the current state (the details say which)"}
AUTHENTICATED = {
    "401": "no valid bearer token",
    "403": "the caller's roles or kind do not allow this",
}


def errors_of(method: str, operation: dict[str, Any]) -> dict[str, str]:
    """The error answers one operation can give, from what it takes and needs."""
    found = dict(EVERY)
    if "requestBody" in operation:
        found |= WITH_BODY
    if method in WRITES:
        found |= CHANGES
    if operation.get("security"):
        found |= AUTHENTICATED
    return found


def complete(document: dict[str, Any], prefix: str = "/v1/") -> dict[str, Any]:
    """Declare the error envelope on every API operation (an operation's own answer wins,
    except FastAPI's 422: the plane answers every refusal in its own envelope)."""
    for path, item in document.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status, description in errors_of(method, operation).items():
                content = {"application/json": {"schema": ERROR_REF}}
                if status == "422" or status not in responses:  # FastAPI's 422 is not ours
                    responses[status] = {"description": description, "content": content}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorOut"] = error
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
