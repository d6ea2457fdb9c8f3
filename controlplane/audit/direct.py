"""The group-commit writer's own connection: a batch is five driver calls, not an ORM session.

Used by the writer process and by the in-process writer thread. In the thread it shares the
event loop's GIL, so every microsecond in Python is taken from request handling; in either, this
path skips the Session, statement compilation and per-row type processing, and keeps one DB-API
connection for the writer's lifetime.
The chain rule (`chain_rows`) and the head-row lock are the same as in `service.append`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from controlplane.audit import service as audit
from controlplane.audit.models import Appended
from controlplane.audit.signing import Signer

_CHECKPOINT_COLUMNS = ("seq", "hash", "ts", "public_key", "signature")


class DirectAppender:
    """Appends whole batches over one held DB-API connection (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: PoolProxiedConnection | None = None
        sqlite = engine.dialect.name == "sqlite"
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._begin = "BEGIN IMMEDIATE" if sqlite else None  # take the write lock up front
        self._lock_head = "SELECT seq, hash FROM audit_head WHERE id = 1" + (
            "" if sqlite else " FOR UPDATE"
        )
        self._insert = _insert_sql("audit_log", audit.COLUMNS, mark)
        self._checkpoint = _insert_sql("audit_checkpoint", _CHECKPOINT_COLUMNS, mark)
        self._move_head = f"UPDATE audit_head SET seq = {mark}, hash = {mark} WHERE id = 1"

    def append(
        self,
        groups: Sequence[tuple[Sequence[Mapping[str, Any]], str]],
        *,
        signer: Signer,
        checkpoint_every: int,
    ) -> list[list[Appended]]:
        """Chain and commit (entries, ts) groups in one transaction; on a driver error roll back,
        drop the connection and raise (nothing of the batch is kept)."""
        conn = self._connection()
        try:
            cursor = conn.cursor()
            if self._begin:
                cursor.execute(self._begin)
            cursor.execute(self._lock_head)
            head = cursor.fetchone()
            if head is None:
                raise RuntimeError("the audit_head row is missing")
            seq, prev_hash = head
            rows: list[dict[str, Any]] = []
            results: list[list[Appended]] = []
            for entries, ts in groups:
                group_rows, appended = audit.chain_rows(
                    entries, seq=int(seq), prev_hash=prev_hash, ts=ts
                )
                rows += group_rows
                results.append(appended)
                if appended:
                    seq, prev_hash = appended[-1].seq, appended[-1].hash
            cursor.executemany(self._insert, [tuple(row[c] for c in audit.COLUMNS) for row in rows])
            for appended in results:
                for point in audit.due_checkpoints(appended, checkpoint_every):
                    row = audit.checkpoint_row(signer, point)
                    cursor.execute(self._checkpoint, tuple(row[c] for c in _CHECKPOINT_COLUMNS))
            cursor.execute(self._move_head, (seq, prev_hash))
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
