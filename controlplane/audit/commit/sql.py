"""The one SQL implementation of an audit append: lock the head, chain, insert, move the head.

Every writer uses it: a domain's transaction (`append_in_session`, on the session's own DB-API
connection, so the record commits with the change it describes), the writer thread and the writer
process (`DirectAppender`, over one held connection, committing each batch). It is five driver
calls with no ORM session, statement compilation or per-row type processing; the JSON columns are
serialized once, in `chain_rows`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel import Session

from controlplane.audit import chain
from controlplane.audit.models import Appended, AuditRecord
from controlplane.audit.signing import Signer, checkpoint_message
from controlplane.errors import AuditUnavailable

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = tuple(c.name for c in AuditRecord.__table__.columns)  # type: ignore[attr-defined]
_CHECKPOINT_COLUMNS = ("seq", "hash", "ts", "public_key", "signature")
_JSON_COLUMNS = ("signals", "approvers", "inputs", "outputs")
_EMPTY: dict[str, Any] = {"signals": [], "approvers": [], "inputs": {}, "outputs": {}}
Group = tuple[Sequence[Mapping[str, Any]], str]  # entries and the timestamp they share


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


def checkpoint_row(signer: Signer, point: Appended) -> dict[str, Any]:
    """A signed statement that the chain had this head at this seq."""
    return {
        "seq": point.seq,
        "hash": point.hash,
        "ts": point.ts,
        "public_key": signer.public_key,
        "signature": signer.sign(checkpoint_message(point.seq, point.hash, point.ts)),
    }


def write_failed(cause: str) -> AuditUnavailable:
    """The 503 for a record that could not be written: the action it records was not taken."""
    return AuditUnavailable(
        "the audit log cannot be written, so the action was not taken", {"cause": cause}
    )


class Statements:
    """The append's SQL in the driver's own dialect (SQLite `?`, PostgreSQL `%s`)."""

    def __init__(self, dialect: str, paramstyle: str) -> None:
        sqlite = dialect == "sqlite"
        mark = "?" if paramstyle == "qmark" else "%s"
        self.lock_head = "SELECT seq, hash FROM audit_head WHERE id = 1" + (
            "" if sqlite else " FOR UPDATE"
        )
        self.insert = _insert_sql("audit_log", COLUMNS, mark)
        self.checkpoint = _insert_sql("audit_checkpoint", _CHECKPOINT_COLUMNS, mark)
        self.move_head = f"UPDATE audit_head SET seq = {mark}, hash = {mark} WHERE id = 1"


_STATEMENTS: dict[tuple[str, str], Statements] = {}


def statements_for(engine: Engine) -> Statements:
    """The statements of an engine's dialect, built once per dialect."""
    key = (engine.dialect.name, engine.dialect.paramstyle)
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = Statements(*key)
    return found


def append_groups(
    cursor: Any, sql: Statements, groups: Sequence[Group], *, signer: Signer | None, every: int
) -> list[list[Appended]]:
    """Chain (entries, ts) groups onto the locked head inside the cursor's transaction."""
    cursor.execute(sql.lock_head)
    head = cursor.fetchone()
    if head is None:
        raise RuntimeError("the audit_head row is missing (is the database migrated?)")
    seq, prev_hash = int(head[0]), str(head[1])
    rows: list[dict[str, Any]] = []
    results: list[list[Appended]] = []
    for entries, ts in groups:
        group_rows, appended = chain_rows(entries, seq=seq, prev_hash=prev_hash, ts=ts)
        rows += group_rows
        results.append(appended)
        if appended:
            seq, prev_hash = appended[-1].seq, appended[-1].hash
    cursor.executemany(sql.insert, [tuple(row[c] for c in COLUMNS) for row in rows])
    if signer is not None:
        for appended in results:
            for point in due_checkpoints(appended, every):
                row = checkpoint_row(signer, point)
                cursor.execute(sql.checkpoint, tuple(row[c] for c in _CHECKPOINT_COLUMNS))
    cursor.execute(sql.move_head, (seq, prev_hash))
    return results


def append_in_session(
    session: Session,
    entries: Sequence[Mapping[str, Any]],
    *,
    ts: str,
    signer: Signer | None,
    every: int,
) -> list[Appended]:
    """Append in the caller's transaction (the change and its record commit together), or 503."""
    if not entries:
        return []
    try:
        connection = session.connection()  # begins the session's transaction if needed
        engine = connection.engine
        cursor = connection.connection.cursor()
        try:
            [appended] = append_groups(
                cursor, statements_for(engine), [(entries, ts)], signer=signer, every=every
            )
        finally:
            cursor.close()
    except Exception as exc:  # SQLAlchemy's, or the driver's own from a DB-API cursor: 503
        log.error("audit append failed: %s", exc.__class__.__name__)
        raise write_failed(exc.__class__.__name__) from exc
    return appended


class DirectAppender:
    """Appends whole batches over one held DB-API connection (the writer thread and process)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: PoolProxiedConnection | None = None
        self._sql = statements_for(engine)
        self._begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else None

    def append(
        self, groups: Sequence[Group], *, signer: Signer, checkpoint_every: int
    ) -> list[list[Appended]]:
        """Chain and commit (entries, ts) groups in one transaction; on a driver error roll back,
        drop the connection and raise (nothing of the batch is kept)."""
        conn = self._connection()
        try:
            cursor = conn.cursor()
            if self._begin:
                cursor.execute(self._begin)  # take the write lock up front
            results = append_groups(
                cursor, self._sql, groups, signer=signer, every=checkpoint_every
            )
            conn.commit()
            cursor.close()
        except BaseException:
            self._discard(conn)
            raise
        return results

    def check(self) -> None:
        """Fail now, not on the first record, when the database or the chain head is missing."""
        conn = self._connection()
        cursor = conn.cursor()
        cursor.execute("SELECT seq FROM audit_head WHERE id = 1")
        found = cursor.fetchone()
        cursor.close()
        conn.rollback()
        if found is None:
            raise RuntimeError("the audit_head row is missing (is the database migrated?)")

    def close(self) -> None:
        """Give the connection back to the pool."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> PoolProxiedConnection:
        if self._conn is None:
            self._conn = self._engine.raw_connection()
        return self._conn

    def _discard(self, conn: PoolProxiedConnection) -> None:
        """After a failure the connection's state is unknown: roll back and never reuse it."""
        with contextlib.suppress(Exception):  # it is being thrown away anyway
            conn.rollback()
        conn.invalidate()
        self._conn = None


def _insert_sql(table: str, columns: Sequence[str], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
