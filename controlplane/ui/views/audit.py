"""Audit log review: filters, text search, keyset pages, a record's hashes, the chain status,
and the JSONL export of the filtered view (the audit domain's own query and export form)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.audit.chain import canonical_json
from controlplane.audit.models import AuditHead, AuditPage, VerifyResult
from controlplane.deps import ReadEngineDep, ReadSessionDep, SignerDep
from controlplane.errors import NotFound
from controlplane.ui import filters
from controlplane.ui.auth import UiUser
from controlplane.ui.render import PREFIX, page

router = APIRouter(prefix=f"{PREFIX}/audit", include_in_schema=False)
EXPORT_BATCH = 2000
# A text search reads at most this many records per page (newest first), then offers the next
# stretch: a LIKE over JSON cannot use an index, and a page must not grow with the log.
TEXT_WINDOW = 20_000
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]


def search(session: Session, chosen: filters.AuditFilter, **extra: Any) -> AuditPage:
    """One page of the filtered log, newest first (the API's query, with two more filters)."""
    return audit.list_records(
        session=session, actor=chosen.actor, actor_kind=chosen.kind, operation=chosen.operation,
        environment=chosen.environment, service=chosen.service, result=chosen.result,
        since=chosen.since, until=chosen.until, text=chosen.q, **extra,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def review(request: Request, _: UiUser, session: ReadSessionDep) -> HTMLResponse:
    """The filtered log, one keyset page at a time; past the end is a 404 that says so."""
    chosen = filters.audit_filter(request.query_params)
    top = chosen.cursor if chosen.cursor is not None else head_seq(session) + 1
    floor = max(top - 1 - TEXT_WINDOW, 0) if chosen.q else None
    found = search(session, chosen, cursor=top, floor=floor, limit=chosen.limit + 1,
                   descending=True)  # fmt: skip
    rows = found.data[: chosen.limit]
    # Past the end: nothing before the cursor (a text search's last stretch may be empty).
    past = chosen.cursor is not None and (chosen.cursor <= 1 if chosen.q else not rows)
    if past:
        raise NotFound(
            f"no records before seq {chosen.cursor} match these filters: this page is past the end",
            {"field": "cursor", "cursor": chosen.cursor},
        )
    if len(found.data) > chosen.limit:
        next_cursor: int | None = rows[-1].seq
    else:
        next_cursor = floor + 1 if floor else None  # this stretch is done; older ones remain
    context = {
        "rows": rows,
        "f": chosen,
        "stretch": (floor + 1, top - 1) if floor is not None else None,
        "next_query": chosen.query(cursor=next_cursor) if next_cursor else None,
        "export_query": chosen.query(with_cursor=False),
        "kinds": filters.ACTOR_KINDS,
        "environments": filters.ENVIRONMENTS,
        "results": filters.AUDIT_RESULTS,
    }
    return page(request, "audit.html", context)


def head_seq(session: Session) -> int:
    """The newest record's seq (0 for an empty log)."""
    return int(session.connection().execute(select(_HEAD.c.seq)).scalar_one())


def chain_status(request: Request, session: Session, signer: Any) -> VerifyResult:
    """Verify the whole chain, once per head: a new record makes the next view walk it again."""
    head = tuple(session.connection().execute(select(_HEAD.c.seq, _HEAD.c.hash)).one())
    cached = getattr(request.app.state, "ui_chain", None)
    if cached is not None and cached[0] == head:
        result: VerifyResult = cached[1]
        return result
    result = audit.verify(session=session, signer=signer)
    request.app.state.ui_chain = (head, result)
    return result


@router.get("/chain", response_class=HTMLResponse)
def chain(request: Request, _: UiUser, session: ReadSessionDep, signer: SignerDep) -> HTMLResponse:
    """'N records, chain verified, last signed checkpoint at ...' (or what is broken)."""
    return page(request, "chain.html", {"v": chain_status(request, session, signer)})


@router.get("/export")
def export(request: Request, _: UiUser, engine: ReadEngineDep) -> StreamingResponse:
    """The filtered view as JSONL, in seq order, in the export form `opsctl audit verify` reads."""
    chosen = filters.audit_filter(request.query_params)

    def lines() -> Iterator[bytes]:
        cursor: int | None = None
        with Session(engine) as session:
            while True:
                batch = search(session, chosen, cursor=cursor, limit=EXPORT_BATCH)
                for line in batch.data:
                    yield (canonical_json(line.model_dump()) + "\n").encode()
                if batch.next_cursor is None:
                    return
                cursor = batch.next_cursor

    headers = {
        "Content-Disposition": 'attachment; filename="audit-export.jsonl"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)


@router.get("/{seq}", response_class=HTMLResponse)
def record(
    request: Request, seq: Annotated[int, Path(ge=1, le=2**62)], _: UiUser, session: ReadSessionDep
) -> HTMLResponse:
    """One record with its hash and prev_hash."""
    found = audit.list_records(session=session, cursor=max(seq - 1, 0), limit=1).data
    if not found or found[0].seq != seq:
        raise NotFound(f"audit record {seq} not found", {"field": "seq"})
    return page(request, "record.html", {"r": found[0]})
