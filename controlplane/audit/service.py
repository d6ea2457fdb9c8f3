"""Audit use cases: append in the caller's transaction (fail-closed), query, verify, export."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from controlplane.audit import chain
from controlplane.audit.models import (
    RESULTS,
    AuditCheckpoint,
    AuditHead,
    AuditLine,
    AuditPage,
    AuditRecord,
    VerifyResult,
)
from controlplane.audit.redact import sanitize
from controlplane.audit.signing import Signer, checkpoint_message
from controlplane.clock import Clock, iso
from controlplane.errors import AuditUnavailable, InvalidSpec

log = logging.getLogger(__name__)

_RECORD = AuditRecord.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_CHECKPOINT = AuditCheckpoint.__table__  # type: ignore[attr-defined]


def make_entry(
    *,
    actor: str,
    actor_kind: str,
    operation: str,
    result: str,
    environment: str | None = None,
    service: str | None = None,
    base_mode: str | None = None,
    final_mode: str | None = None,
    signals: Sequence[Mapping[str, Any]] = (),
    decision_id: str | None = None,
    approvers: Sequence[str] = (),
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    policy_version: str | None = None,
) -> dict[str, Any]:
    """Validate and redact one entry before it is chained (no I/O, so it can fail early)."""
    if result not in RESULTS:
        raise InvalidSpec(f"audit result {result!r} is not one of {', '.join(RESULTS)}")
    return {
        "id": uuid.uuid4().hex,
        "actor": actor,
        "actor_kind": actor_kind,
        "operation": operation,
        "environment": environment,
        "service": service,
        "base_mode": base_mode,
        "final_mode": final_mode,
        "signals": sanitize(list(signals)),
        "decision_id": decision_id,
        "approvers": list(approvers),
        "result": result,
        "inputs": sanitize(dict(inputs or {})),
        "outputs": sanitize(dict(outputs or {})),
        "policy_version": policy_version,
    }


def append(
    *,
    session: Session,
    clock: Clock,
    entries: Sequence[Mapping[str, Any]],
    signer: Signer | None = None,
    checkpoint_every: int = 0,
) -> list[AuditLine]:
    """Chain entries onto the log inside the caller's transaction; raise 503 if we cannot."""
    try:
        conn = session.connection()
        head = conn.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
        ).one()
        seq, prev_hash, ts = int(head.seq), str(head.hash), iso(clock.now())
        rows, lines = [], []
        for entry in entries:
            seq += 1
            fields = {**entry, "seq": seq, "prev_hash": prev_hash, "ts": ts}
            line = chain.export_form(fields)
            fields["hash"] = prev_hash = chain.record_hash(line)
            rows.append(fields)
            lines.append(AuditLine(**line, hash=prev_hash))
            if signer is not None and checkpoint_every and seq % checkpoint_every == 0:
                _write_checkpoint(conn, signer, seq, prev_hash, ts)
        conn.execute(insert(_RECORD), rows)
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev_hash))
    except SQLAlchemyError as exc:
        log.error("audit append failed: %s", exc.__class__.__name__)
        raise AuditUnavailable(
            "the audit log cannot be written, so the action was not taken",
            {"cause": exc.__class__.__name__},
        ) from exc
    return lines


def record(
    *,
    session: Session,
    clock: Clock,
    entry: Mapping[str, Any],
    signer: Signer | None = None,
    checkpoint_every: int = 0,
) -> AuditLine:
    """Append one entry in the caller's transaction (the change and its record commit together)."""
    return append(
        session=session,
        clock=clock,
        entries=[entry],
        signer=signer,
        checkpoint_every=checkpoint_every,
    )[0]


def _write_checkpoint(conn: Any, signer: Signer, seq: int, head_hash: str, ts: str) -> None:
    conn.execute(
        insert(_CHECKPOINT).values(
            seq=seq,
            hash=head_hash,
            ts=ts,
            public_key=signer.public_key,
            signature=signer.sign(checkpoint_message(seq, head_hash, ts)),
        )
    )


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
) -> AuditPage:
    """Filter the log; `cursor` is the last seq of the previous page."""
    query = select(_RECORD)
    for column, value in (
        (_RECORD.c.actor, actor),
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
    if cursor is not None:
        query = query.where(_RECORD.c.seq < cursor if descending else _RECORD.c.seq > cursor)
    order = _RECORD.c.seq.desc() if descending else _RECORD.c.seq.asc()
    rows = session.connection().execute(query.order_by(order).limit(limit)).all()
    data = [to_line(r) for r in rows]
    next_cursor = data[-1].seq if len(data) == limit else None
    return AuditPage(data=data, count=len(data), next_cursor=next_cursor)


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
    """The newest successful record whose operation starts with a prefix (recent_rollback)."""
    query = (
        select(_RECORD)
        .where(_RECORD.c.operation.startswith(operation_prefix))
        .where(_RECORD.c.result == "success")
        .where(_RECORD.c.ts >= iso(since))
    )
    if service is not None:
        query = query.where(_RECORD.c.service == service)
    row = session.connection().execute(query.order_by(_RECORD.c.seq.desc()).limit(1)).first()
    return to_line(row) if row else None
