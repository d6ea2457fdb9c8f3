"""Governed actions: what the plane was asked to change about itself, and what became of it."""

from __future__ import annotations

from fastapi import APIRouter, Query

from controlplane.deps import DoorDep, ReadSessionDep, Viewer
from controlplane.governance import service as governance
from controlplane.governance.models import ActionPublic, ActionsPublic
from controlplane.governance.states import ActionStatus

router = APIRouter(prefix="/v1/actions", tags=["governance"])


@router.get("", response_model=ActionsPublic)
def list_actions(
    session: ReadSessionDep,
    door: DoorDep,
    _: Viewer,
    kind: str | None = Query(default=None, max_length=64),
    status: ActionStatus | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> ActionsPublic:
    """Governed actions (overrides, suppressions, incidents, tokens...), newest first."""
    rows = governance.list_actions(
        session=session, kind=kind, status=status.value if status else None, limit=limit
    )
    data = [door.public(session, r) for r in rows]
    return ActionsPublic(data=data, count=len(data))


@router.get("/{action_id}", response_model=ActionPublic)
def get_action(action_id: str, session: ReadSessionDep, door: DoorDep, _: Viewer) -> ActionPublic:
    """One governed action with its decision, approval progress and outcome."""
    return door.public(session, governance.get(session=session, action_id=action_id))
