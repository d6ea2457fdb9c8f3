"""Audit use cases: append in the caller's transaction (fail-closed), query, verify, export."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from controlplane.audit import chain
from controlplane.audit.models import (
    RESULTS,
    Appended,
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
COLUMNS: tuple[str, ...] = tuple(c.name for c in _RECORD.columns)
_JSON_COLUMNS = ("signals", "approvers", "inputs", "outputs")
_EMPTY: dict[str, Any] = {"signals": [], "approvers": [], "inputs": {}, "outputs": {}}
# A plain statement: rows reach the driver as they are, with no per-row type processing (the JSON
# columns are serialized once, in chain_rows); a batch of appends is one executemany.
_INSERT_RECORD = text(
    f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
)


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


def chain_rows(
    entries: Sequence[Mapping[str, Any]], *, seq: int, prev_hash: str, ts: str
) -> tuple[list[dict[str, Any]], list[Appended]]:
    """Link entries onto a head (pure): seq, prev_hash, ts and hash, JSON columns as text."""
    rows, appended = [], []
    for entry in entries:
        seq += 1
        row = {**entry, "seq": seq, "prev_hash": prev_hash, "ts": ts}
        row["hash"] = prev_hash = chain.record_hash(chain.export_form(row))
        for column in _JSON_COLUMNS:
            row[column] = orjson.dumps(row.get(column) or _EMPTY[column]).decode()
        rows.append(row)
        appended.append(Appended(seq, prev_hash, ts))
    return rows, appended


def due_checkpoints(appended: Sequence[Appended], every: int) -> list[Appended]:
    """The records of a batch that get a signed checkpoint (every Nth seq)."""
    return [a for a in appended if every and a.seq % every == 0]


def append(
    *,
    session: Session,
    clock: Clock,
    entries: Sequence[Mapping[str, Any]],
    signer: Signer | None = None,
    checkpoint_every: int = 0,
) -> list[Appended]:
    """Chain entries onto the log inside the caller's transaction; raise 503 if we cannot."""
    if not entries:
        return []
    try:
        conn = session.connection()
        head = conn.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
        ).one()
        rows, appended = chain_rows(
            entries, seq=int(head.seq), prev_hash=str(head.hash), ts=iso(clock.now())
        )
        conn.execute(_INSERT_RECORD, rows)
        if signer is not None:
            for point in due_checkpoints(appended, checkpoint_every):
                _write_checkpoint(conn, signer, point)
        last = appended[-1]
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=last.seq, hash=last.hash))
    except SQLAlchemyError as exc:
        log.error("audit append failed: %s", exc.__class__.__name__)
        raise write_failed(exc.__class__.__name__) from exc
    return appended


def write_failed(cause: str) -> AuditUnavailable:
    """The 503 for a record that could not be written: the action it records was not taken."""
    return AuditUnavailable(
        "the audit log cannot be written, so the action was not taken", {"cause": cause}
    )


def record(
    *,
    session: Session,
    clock: Clock,
    entry: Mapping[str, Any],
    signer: Signer | None = None,
    checkpoint_every: int = 0,
) -> Appended:
    """Append one entry in the caller's transaction (the change and its record commit together)."""
    return append(
        session=session,
        clock=clock,
        entries=[entry],
        signer=signer,
        checkpoint_every=checkpoint_every,
    )[0]


def _write_checkpoint(conn: Any, signer: Signer, point: Appended) -> None:
    conn.execute(insert(_CHECKPOINT).values(**checkpoint_row(signer, point)))


def checkpoint_row(signer: Signer, point: Appended) -> dict[str, Any]:
    """A signed statement that the chain had this head at this seq."""
    return {
        "seq": point.seq,
        "hash": point.hash,
        "ts": point.ts,
        "public_key": signer.public_key,
        "signature": signer.sign(checkpoint_message(point.seq, point.hash, point.ts)),
    }


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
    """The newest successful record whose operation starts with a prefix (recent_rollback).

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
        if row.result == "success" and (service is None or row.service == service):
            return to_line(row)
    return None
