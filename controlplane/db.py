"""Database engine and sessions: SQLite (WAL, serialized writers) by default, PostgreSQL by URL."""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 870_001


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs."""
    return url.startswith("sqlite")


def make_read_engine(url: str, write_engine: Engine) -> Engine:
    """A separate reader pool on SQLite (readers must not queue behind writers); same on PG."""
    return make_engine(url, read_only=True) if is_sqlite(url) else write_engine


def make_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> Engine:
    """Build an engine; on SQLite writers take the file lock up front, readers never do."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        begin = _sqlite_begin_deferred if read_only else _sqlite_begin_immediate
        event.listen(engine, "begin", begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _json_dumps(value: Any) -> str:
    """JSON columns: orjson, falling back to the standard library for what it refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, default=str)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: writers queue on the file lock
    # instead of deadlocking when two deferred transactions both try to upgrade to a write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Any) -> None:
    # A read transaction: a consistent WAL snapshot that never blocks the writer.
    connection.exec_driver_sql("BEGIN")


def migrate(engine: Engine) -> None:
    """Apply Alembic migrations up to head; on PostgreSQL one replica at a time."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
    log.info("database migrated to head")


# ---- change notification: caches are invalidated after a commit, in this one place -----------

_LISTENERS: weakref.WeakKeyDictionary[Engine, dict[str, list[Callable[[], None]]]] = (
    weakref.WeakKeyDictionary()
)


def mark_changed(session: Session, topic: str) -> None:
    """Say this transaction changed what a cache holds (signals, tokens): this replica's
    listeners run after it commits; on PostgreSQL the other replicas hear it (NOTIFY is
    delivered at commit, see notifications.py)."""
    session.info.setdefault("changed", set()).add(topic)
    if session.get_bind().dialect.name == "postgresql":  # PostgreSQL sends one per transaction
        session.connection().execute(text(f"NOTIFY controlplane_{topic}"))


def on_change(engine: Engine, topic: str, callback: Callable[[], None]) -> None:
    """Call `callback` after any transaction on `engine` that marked `topic` commits."""
    _LISTENERS.setdefault(engine, {}).setdefault(topic, []).append(callback)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # SQLAlchemy fires this when a SAVEPOINT is released too (a governed action executes in
    # one): nothing is visible to other connections until the outer commit, so a listener run
    # now would let a reader cache the state from before the change.
    if session.in_nested_transaction():
        return
    changed = session.info.pop("changed", None)
    if not changed:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    for topic in changed:
        for callback in _LISTENERS.get(engine, {}).get(topic, ()):
            callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT rolled back: the outer changes still stand
        return
    session.info.pop("changed", None)
