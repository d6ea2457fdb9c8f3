"""Decisions and policy endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.routing import Route

from controlplane.deps import (
    CurrentPrincipal,
    PoliciesDep,
    ReadSessionDep,
    Viewer,
    context_of,
    get_principal,
)
from controlplane.identity import service as identity
from controlplane.policy import service as decisions
from controlplane.policy.service import DecisionOut, DecisionRequest

router = APIRouter(prefix="/v1", tags=["decisions"])


async def create_decision(request: Request) -> Response:
    """Decide AUTO / CONSULT / STOP for an operation, with reasons; recorded unless dry-run."""
    principal = await get_principal(request)
    body = await _decision_body(request)
    identity.require(principal, "viewer" if body.dry_run else "operator")
    ctx = context_of(request)
    out = await decisions.decide_json_async(
        decider=ctx.decider, audit=ctx.audit, principal=principal, request=body
    )
    return Response(out, media_type="application/json")


# The API route below documents the endpoint in OpenAPI and serves it when mounted alone. The app
# mounts HOT_ROUTES ahead of every router: the same handler as a plain Starlette route, because
# FastAPI's per-request dependency solving costs more than the decision itself. Errors take the
# same path either way (the app's exception handlers).
HOT_ROUTES = [
    Route("/v1/decisions", create_decision, methods=["POST"], include_in_schema=False),
]


@router.post("/decisions", response_model=DecisionOut)
async def decide_documented(
    request: Request, body: DecisionRequest, _: CurrentPrincipal
) -> Response:
    """Decide AUTO / CONSULT / STOP for an operation, with reasons; recorded unless dry-run.

    Recorded with result `answered` under the operation asked about: a question changes nothing.
    """
    return await create_decision(request)


async def _decision_body(request: Request) -> DecisionRequest:
    """Parse and validate the body, reporting errors exactly as FastAPI's body parsing would."""
    raw = await request.body()
    try:
        return DecisionRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            if err["type"] == "json_invalid":
                err = {**err, "msg": "JSON decode error"}
            errors.append({**err, "loc": ("body", *err["loc"])})
        raise RequestValidationError(errors) from None


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
def get_policies(policies: PoliciesDep, _: Viewer) -> PolicyInfo:
    """Which policy is in force and what it says per operation and environment."""
    status = policies.status()
    policy = policies.current()
    operations: dict[str, dict[str, str]] = {}
    signals: list[str] = []
    if policy is not None:
        index = policy.index
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
