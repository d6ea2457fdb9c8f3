"""Upgrading to governed suppressions ends the inactive overrides nobody approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from controlplane import db


def test_unapproved_inactive_overrides_are_cleared_by_the_upgrade(database_url: str) -> None:
    engine = db.make_engine(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.commit()
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        for ident, state in (("lowered", "inactive"), ("raised", "active")):
            conn.execute(
                text(
                    "INSERT INTO signal_override (id, name, state, service, reason, set_by, "
                    "created_at, expires_at) VALUES (:id, 'incident_active', :state, NULL, "
                    "'old', 'agent', :now, :later)"
                ),
                {"id": ident, "state": state, "now": now, "later": now + timedelta(days=3)},
            )
    db.migrate(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, cleared_at FROM signal_override")).all())
    engine.dispose()
    assert rows["lowered"] is not None, "an unapproved suppression does not survive"
    assert rows["raised"] is None, "a raise is the safe direction and stays"
