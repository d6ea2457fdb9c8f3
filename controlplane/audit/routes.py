"""Audit log endpoints: query, verify, export (read-only; there is no write or delete path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.audit.chain import canonical_json
from controlplane.audit.models import RESULTS, AuditPage, VerifyResult
from controlplane.clock import IsoTime
from controlplane.deps import ReadEngineDep, ReadSessionDep, SignerDep, Viewer

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class NdjsonResponse(StreamingResponse):
    """One JSON object per line."""

    media_type = "application/x-ndjson"


@router.get("", response_model=AuditPage)
def list_audit(
    session: ReadSessionDep,
    _: Viewer,
    actor: str | None = None,
    operation: str | None = None,
    environment: str | None = None,
    service: str | None = None,
    result: Literal[RESULTS] | None = None,  # type: ignore[valid-type]
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    cursor: int | None = Query(default=None, ge=0, description="last seq of the previous page"),
    limit: int = Query(default=100, ge=1, le=1000),
    order: Literal["asc", "desc"] = "asc",
) -> AuditPage:
    """Filter the audit log; page with `cursor` = the previous page's `next_cursor`."""
    return audit.list_records(
        session=session,
        actor=actor,
        operation=operation,
        environment=environment,
        service=service,
        result=result,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
        descending=order == "desc",
    )


@router.get("/verify", response_model=VerifyResult)
def verify_audit(session: ReadSessionDep, signer: SignerDep, _: Viewer) -> VerifyResult:
    """Walk the whole chain and the signed checkpoints; say exactly what is broken."""
    return audit.verify(session=session, signer=signer)


@router.get("/export", response_class=NdjsonResponse)
def export_audit(engine: ReadEngineDep, _: Viewer) -> NdjsonResponse:
    """The whole log as JSONL with the seed's field names (plus seq and hashes)."""

    def lines() -> Iterator[bytes]:
        with Session(engine) as session:
            for line in audit.iter_lines(session=session):
                yield (canonical_json(line.model_dump()) + "\n").encode()

    return NdjsonResponse(lines())
