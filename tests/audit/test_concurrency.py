"""Concurrent writers never fork the chain: seq stays gap-free and the chain verifies."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.config import Settings
from controlplane.identity.models import Principal
from controlplane.incident.models import IncidentCreate
from controlplane.policy import service as decisions
from controlplane.policy.service import DecisionRequest

ADMIN = Principal("x", "writer", "agent", frozenset({"operator"}))


def _write(app: FastAPI, n: int, env: str) -> list[int]:
    ctx = app.state.ctx
    seqs = []
    for _ in range(n):
        out = decisions.decide(
            decider=ctx.decider,
            audit=ctx.audit,
            principal=ADMIN,
            request=DecisionRequest(operation="deploy", environment=env, service="bankchurn"),
        )
        assert out.audit_seq is not None
        seqs.append(out.audit_seq)
    return seqs


def _open_incidents(app: FastAPI, n: int) -> list[int]:
    """Writes that go through a request-style transaction (change + records commit together)."""
    ctx = app.state.ctx
    seqs = []
    for i in range(n):
        with Session(ctx.engine) as session:
            row = ctx.door.submit(
                session=session,
                principal=ADMIN,
                operation="incident.open",
                payload=IncidentCreate(severity="P3", title=f"noise {i}").model_dump(),
            )
            session.commit()
            seqs += [row.audit_seq - 1, row.audit_seq]  # requested, then success
    return seqs


def test_eight_threads_write_one_unbroken_chain(app: FastAPI) -> None:
    """Four threads decide (group commit) while four open incidents (own transactions)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(_write, app, 25, ("dev", "staging")[i % 2])
            if i % 2
            else pool.submit(_open_incidents, app, 25)
            for i in range(8)
        ]
        seqs = sorted(s for f in futures for s in f.result())
    assert seqs == list(range(1, 301))  # 100 decisions, 100 incidents of two records each
    with Session(app.state.ctx.engine) as session:
        report = audit.verify(session=session, signer=app.state.ctx.signer)
    assert report.ok, report.problems
    assert report.records == 300


WRITER = textwrap.dedent(
    """
    import sys
    from controlplane.config import Settings
    from controlplane.context import build_context
    from controlplane.identity.models import Principal
    from controlplane.policy import service as decisions
    from controlplane.policy.service import DecisionRequest

    settings = Settings(state_dir=sys.argv[1], database_url=sys.argv[2], policy_dir=sys.argv[3])
    ctx = build_context(settings)
    who = Principal("p", sys.argv[4], "agent", frozenset({"operator"}))
    for _ in range(int(sys.argv[5])):
        decisions.decide(decider=ctx.decider, audit=ctx.audit, principal=who,
            request=DecisionRequest(operation="deploy", environment="dev"))
    ctx.close()
    """
)


@pytest.mark.skipif(not os.environ.get("CONTROLPLANE_TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_two_processes_on_postgres_write_one_unbroken_chain(
    app: FastAPI, settings: Settings
) -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(settings.state_dir),
                settings.resolved_database_url,
                str(settings.policy_dir),
                f"proc-{i}",
                "60",
            ],
        )
        for i in range(2)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    with Session(app.state.ctx.engine) as session:
        report = audit.verify(session=session, signer=app.state.ctx.signer)
        page = audit.list_records(session=session, limit=1000)
    assert report.ok, report.problems
    assert [line.seq for line in page.data] == list(range(1, 121))
    assert {line.agent for line in page.data} == {"proc-0", "proc-1"}
