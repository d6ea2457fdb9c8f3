"""Decisions and policy endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from controlplane.deps import CtxDep, CurrentPrincipal, ReadSessionDep, Viewer
from controlplane.identity import service as identity
from controlplane.policy import service as decisions
from controlplane.policy.service import DecisionOut, DecisionRequest

router = APIRouter(prefix="/v1", tags=["decisions"])


@router.post("/decisions", response_model=None, responses={200: {"model": DecisionOut}})
async def create_decision(
    body: DecisionRequest, ctx: CtxDep, principal: CurrentPrincipal
) -> Response:
    """Decide AUTO / CONSULT / STOP for an operation, with reasons; recorded unless dry-run."""
    identity.require(principal, "viewer" if body.dry_run else "operator")
    out = await decisions.decide_async(ctx=ctx, principal=principal, request=body)
    return Response(out.model_dump_json(), media_type="application/json")


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: str, session: ReadSessionDep, _: Viewer) -> DecisionOut:
    """A recorded decision, as POST returned it."""
    return decisions.find_recorded(session=session, decision_id=decision_id)


class PolicyInfo(BaseModel):
    """The loaded policy: version, operations and their base modes, last refusal."""

    version: str | None
    directory: str
    last_error: str | None
    operations: dict[str, dict[str, str]]
    signals: list[str]


@router.get("/policies", response_model=PolicyInfo)
def get_policies(ctx: CtxDep, _: Viewer) -> PolicyInfo:
    """Which policy is in force and what it says per operation and environment."""
    status = ctx.policies.status()
    policy = ctx.policies.current()
    operations: dict[str, dict[str, str]] = {}
    signals: list[str] = []
    if policy is not None:
        index = policy.index()
        for (operation, env), entry in sorted(index.entries.items()):
            operations.setdefault(operation, {})[env.value] = entry.base.name
        signals = sorted(policy.signals.signals)
    return PolicyInfo(
        version=status.version,
        directory=status.directory,
        last_error=status.last_error,
        operations=operations,
        signals=signals,
    )
