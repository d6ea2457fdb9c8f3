"""HTTP answers shared by the routes of governed changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse
from sqlmodel import Session

from controlplane.governance.models import ActionPublic, GovernedAction
from controlplane.governance.service import Door
from controlplane.governance.states import ActionStatus
from controlplane.identity.models import Principal

# OpenAPI: a governed route answers its own model, or 202 with the action when it waits.
WAITS: dict[int | str, dict[str, Any]] = {
    202: {"description": "waits for approval (CONSULT/STOP)", "model": ActionPublic}
}


def pending(door: Door, session: Session, row: GovernedAction) -> JSONResponse:
    """202: the change waits for humans; the body says how many, who may, and why."""
    return JSONResponse(door.public(session, row).model_dump(mode="json"), status_code=202)


def govern(
    door: Door,
    session: Session,
    principal: Principal,
    operation: str,
    payload: Mapping[str, Any],
    answer: Callable[[GovernedAction], Any],
) -> Any:
    """Submit a change through the door and commit: its own answer when done, else 202."""
    row = door.submit(session=session, principal=principal, operation=operation, payload=payload)
    session.commit()
    if row.status != ActionStatus.SUCCEEDED:
        return pending(door, session, row)
    return answer(row)
