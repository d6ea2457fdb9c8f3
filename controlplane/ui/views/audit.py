"""Audit log review: filters, text search, keyset pages, a record's hashes, the chain status,
and the JSONL export of the filtered view (the audit domain's own query and export form)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.audit.chain import canonical_json
from controlplane.audit.models import AuditHead, AuditPage, VerifyResult
from controlplane.deps import ClockDep, ReadEngineDep, ReadSessionDep, SignerDep
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


class ChainChecker:
    """Walks the whole chain in a background thread; a view reads the latest walk at once.

    Every walk is the audit domain's full `verify` (each record's hash, every link, the signed
    checkpoints, the head): nothing is taken on trust from an earlier walk. A walk is current
    when it ended at the chain's present head; otherwise one new walk starts (never two).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[VerifyResult, datetime] | None = None
        self._running = False

    def status(
        self, head: tuple[int, str], walk: Callable[[], VerifyResult], now: datetime
    ) -> tuple[tuple[VerifyResult, datetime] | None, bool]:
        """The latest walk and whether it covers the present head (else a walk is started)."""
        with self._lock:
            last = self._last
            current = last is not None and (last[0].last_seq, last[0].head_hash) == head
            if not current and not self._running:
                self._running = True
                threading.Thread(target=self._run, args=(walk, now), daemon=True).start()
        return last, current

    def _run(self, walk: Callable[[], VerifyResult], now: datetime) -> None:
        try:
            result = walk()
            with self._lock:
                self._last = (result, now)
        finally:
            with self._lock:
                self._running = False


_CHECKERS = threading.Lock()


def checker_of(request: Request) -> ChainChecker:
    """The app's one chain checker."""
    with _CHECKERS:
        found: ChainChecker | None = getattr(request.app.state, "ui_chain", None)
        if found is None:
            found = request.app.state.ui_chain = ChainChecker()
        return found


@router.get("/chain", response_class=HTMLResponse)
def chain(
    request: Request,
    _: UiUser,
    session: ReadSessionDep,
    engine: ReadEngineDep,
    signer: SignerDep,
    clock: ClockDep,
) -> HTMLResponse:
    """'N records, chain verified, last signed checkpoint at ...' (or what is broken); while a
    walk runs, the last one and a refresh."""

    def walk() -> VerifyResult:
        with Session(engine) as own:
            return audit.verify(session=own, signer=signer)

    row = session.connection().execute(select(_HEAD.c.seq, _HEAD.c.hash)).one()
    last, current = checker_of(request).status((int(row.seq), row.hash), walk, clock.now())
    context = {"v": last[0] if last else None, "at": last[1] if last else None,
               "current": current, "head": int(row.seq)}  # fmt: skip
    return page(request, "chain.html", context)


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
