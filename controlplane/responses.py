"""HTTP answers shared by the routes of governed changes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from sqlmodel import Session

from controlplane.governance.models import ActionPublic, GovernedAction
from controlplane.governance.service import Door

# OpenAPI: a governed route answers its own model, or 202 with the action when it waits.
WAITS: dict[int | str, dict[str, Any]] = {
    202: {"description": "waits for approval (CONSULT/STOP)", "model": ActionPublic}
}


def pending(door: Door, session: Session, row: GovernedAction) -> JSONResponse:
    """202: the change waits for humans; the body says how many, who may, and why."""
    return JSONResponse(door.public(session, row).model_dump(mode="json"), status_code=202)
