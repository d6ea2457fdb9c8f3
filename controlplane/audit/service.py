"""Audit queries: filter, page, export and verify the chain (writes go through the recorder)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlmodel import Session

from controlplane.audit import chain
from controlplane.audit.models import (
    AuditCheckpoint,
    AuditHead,
    AuditLine,
    AuditPage,
    AuditRecord,
    VerifyResult,
)
from controlplane.audit.signing import Signer, checkpoint_message
from controlplane.clock import iso

_RECORD = AuditRecord.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_CHECKPOINT = AuditCheckpoint.__table__  # type: ignore[attr-defined]


def to_line(row: Any) -> AuditLine:
    """An export line from a stored row."""
    fields = dict(row._mapping)
    return AuditLine(**chain.export_form(fields), hash=fields["hash"])


def list_records(
    *,
    session: Session,
    actor: str | None = None,
    operation: str | None = None,
    environment: str | None = None,
    service: str | None = None,
    result: str | None = None,
    decision_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: int | None = None,
    limit: int = 100,
    descending: bool = False,
    actor_kind: str | None = None,
    text: str | None = None,
    floor: int | None = None,
) -> AuditPage:
    """Filter the log; `cursor` is the last seq of the previous page; `text` is a
    case-insensitive substring of the operation, actor, inputs or outputs (a bound parameter,
    its wildcards escaped); `floor` keeps to records after that seq (a bounded stretch)."""
    query = select(_RECORD)
    for column, value in (
        (_RECORD.c.actor, actor),
        (_RECORD.c.actor_kind, actor_kind),
        (_RECORD.c.operation, operation),
        (_RECORD.c.environment, environment),
        (_RECORD.c.service, service),
        (_RECORD.c.result, result),
        (_RECORD.c.decision_id, decision_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(_RECORD.c.ts >= iso(since))
    if until is not None:
        query = query.where(_RECORD.c.ts < iso(until))
    if text:
        query = query.where(_text_match(text))
    if floor is not None:
        query = query.where(_RECORD.c.seq > floor)
    if cursor is not None:
        query = query.where(_RECORD.c.seq < cursor if descending else _RECORD.c.seq > cursor)
    order = _RECORD.c.seq.desc() if descending else _RECORD.c.seq.asc()
    rows = session.connection().execute(query.order_by(order).limit(limit)).all()
    data = [to_line(r) for r in rows]
    next_cursor = data[-1].seq if len(data) == limit else None
    return AuditPage(data=data, count=len(data), next_cursor=next_cursor)


def _text_match(text: str) -> Any:
    """Where a record mentions `text` (LIKE with %, _ and the escape character escaped)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (
        _RECORD.c.operation,
        _RECORD.c.actor,
        cast(_RECORD.c.inputs, String),
        cast(_RECORD.c.outputs, String),
    )
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def iter_lines(*, session: Session, batch: int = 2000) -> Iterator[AuditLine]:
    """Every record in seq order, in batches, for export and verification."""
    last = 0
    conn = session.connection()
    while True:
        rows = conn.execute(
            select(_RECORD).where(_RECORD.c.seq > last).order_by(_RECORD.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield to_line(row)
        last = int(rows[-1].seq)


def verify(*, session: Session, signer: Signer) -> VerifyResult:
    """Walk the chain, compare with the head row and the signed checkpoints."""
    checkpoints = (
        session.connection().execute(select(_CHECKPOINT).order_by(_CHECKPOINT.c.seq)).all()
    )
    wanted = frozenset(int(c.seq) for c in checkpoints)
    walker = chain.ChainWalker()
    for line in iter_lines(session=session):
        walker.feed(line.model_dump(), want_hashes_at=wanted)
    report = walker.report
    head = (
        session.connection().execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    )
    if int(head.seq) != report.last_seq or head.hash != report.head_hash:
        report.add(
            chain.Problem(
                report.last_seq,
                "truncated" if int(head.seq) > report.last_seq else "head_mismatch",
                f"head says seq {head.seq}, log ends at seq {report.last_seq}",
            )
        )
    for cp in checkpoints:
        _check_checkpoint(report, walker.hash_at, cp, signer)
    last_cp = checkpoints[-1] if checkpoints else None
    status = "chain verified" if report.ok else f"chain BROKEN ({len(report.problems)} problem(s))"
    return VerifyResult(
        ok=report.ok,
        records=report.records,
        last_seq=report.last_seq,
        head_hash=report.head_hash,
        checkpoints_checked=report.checkpoints_checked,
        last_checkpoint_seq=int(last_cp.seq) if last_cp else None,
        last_checkpoint_ts=last_cp.ts if last_cp else None,
        problems=[str(p) for p in report.problems],
        summary=f"{report.records:,} records, {status}"
        + (f", last checkpoint {last_cp.ts} (seq {last_cp.seq})" if last_cp else ""),
    )


def _check_checkpoint(
    report: chain.VerifyReport, hash_at: Mapping[int, str], cp: Any, signer: Signer
) -> None:
    report.checkpoints_checked += 1
    seq = int(cp.seq)
    if not signer.verify(checkpoint_message(seq, cp.hash, cp.ts), cp.signature):
        report.add(chain.Problem(seq, "checkpoint", "signature does not verify with our key"))
    elif seq > report.last_seq:
        report.add(
            chain.Problem(seq, "truncated", f"signed checkpoint at seq {seq} is past the end")
        )
    elif hash_at.get(seq) != cp.hash:
        report.add(
            chain.Problem(seq, "checkpoint", "record hash differs from the signed checkpoint")
        )


def latest_success(
    *, session: Session, operation_prefix: str, since: datetime, service: str | None = None
) -> AuditLine | None:
    """The newest successful record whose operation starts with a prefix (recent_rollback),
    sub-operations (`rollback.plan`: reading what to roll back to) excepted.

    Asked as a range on (operation, ts), the index's own columns, so the cost follows the number
    of matching records, not the size of the log; result and service are checked on those few.
    """
    end = operation_prefix[:-1] + chr(ord(operation_prefix[-1]) + 1)  # first string past them
    query = (
        select(_RECORD)
        .where(_RECORD.c.operation >= operation_prefix, _RECORD.c.operation < end)
        .where(_RECORD.c.ts >= iso(since))
        .order_by(_RECORD.c.seq.desc())
    )
    for row in session.connection().execute(query):
        if row.result != "success" or (service is not None and row.service != service):
            continue
        if row.operation.startswith(operation_prefix + "."):  # rollback.plan is not a rollback
            continue
        return to_line(row)
    return None
