"""The door's own guarantees, on a kind made for the test: a failing execution after approval
is recorded as failed and keeps the votes; on the AUTO path it refuses the whole request."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import Session

from controlplane.governance.kinds import ActionKind, Effect, Scope
from controlplane.identity.models import Principal
from controlplane.policy.models import Environment

ALICE = Principal("a", "alice", "human", frozenset({"operator"}))
BOB = Principal("b", "bob", "human", frozenset({"approver"}))


def _boom(effect: Effect) -> dict[str, Any]:
    raise RuntimeError("the backend fell over")


def _register(app: FastAPI, operation: str) -> None:
    app.state.ctx.door.registry.add_kind(
        ActionKind(
            operation=operation,
            scope=lambda p: Scope(Environment.PRODUCTION),
            summary=lambda p: "test change",
            execute=_boom,
        )
    )


def test_an_execution_that_raises_after_approval_is_failed_and_the_vote_kept(
    app: FastAPI,
) -> None:
    _register(app, "drift.baseline.update-test")  # not in the policy: STOP (fail-closed)
    door = app.state.ctx.door
    with Session(app.state.ctx.engine) as session:
        row = door.submit(
            session=session, principal=ALICE, operation="drift.baseline.update-test", payload={}
        )
        session.commit()
        assert row.mode == "STOP"
        carol = Principal("c", "carol", "human", frozenset({"approver"}))
        for who in (BOB, carol):
            result = door.vote(
                session=session, principal=who, approval_id=row.approval_id, verdict="approve",
                comment="ok",
            )  # fmt: skip
            session.commit()
        session.refresh(row)
        assert result.outcome == "approved"
        assert row.status == "failed" and "fell over" in (row.failure_reason or "")


def test_an_auto_execution_that_raises_refuses_the_request(app: FastAPI) -> None:
    app.state.ctx.door.registry.add_kind(
        ActionKind(
            operation="incident.document",  # AUTO everywhere in the policy
            scope=lambda p: Scope(Environment.DEV),
            summary=lambda p: "write it down",
            execute=_boom,
        )
    )
    with Session(app.state.ctx.engine) as session, pytest.raises(RuntimeError):
        app.state.ctx.door.submit(
            session=session, principal=ALICE, operation="incident.document", payload={}
        )
