"""P1 incidents become GitHub issues, once each, after the incident is committed (never in its way).

An incident is filed when its timeline has no `issue` line yet; the issue's idempotency key is
the incident id, so a plane that dies between GitHub's answer and the commit finds the same issue
on its next round instead of opening a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.adapters.source_control import IssueRef, SourceControl
from controlplane.clock import Clock
from controlplane.errors import AdapterUnavailable, ControlPlaneError
from controlplane.incident.models import Incident, IncidentEvent
from controlplane.incident.service import add_event

log = logging.getLogger(__name__)
ISSUE_EVENT = "issue"
FILED_SEVERITY = "P1"


def awaiting_issue(*, session: Session, limit: int = 20) -> list[Incident]:
    """Open P1 incidents whose timeline has no issue yet, oldest first."""
    filed = select(IncidentEvent.incident_id).where(IncidentEvent.kind == ISSUE_EVENT)
    return list(
        session.exec(
            select(Incident)
            .where(Incident.status == "open", Incident.severity == FILED_SEVERITY)
            .where(col(Incident.id).not_in(filed))
            .order_by(col(Incident.opened_at))
            .limit(limit)
        ).all()
    )


def issue_text(incident: Incident) -> tuple[str, str, list[str]]:
    """Title, body and labels of an incident's issue (no secrets: only what the incident shows)."""
    where = " / ".join(p for p in (incident.service, incident.environment) if p) or "the platform"
    title = f"[{incident.severity}] {where}: {incident.title}"[:250]
    body = "\n".join(
        [
            f"A {incident.severity} incident is open on {where}.",
            "",
            f"- incident: `{incident.id}` (`opsctl incidents show {incident.id[:8]}`)",
            f"- opened: {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC by {incident.opened_by}",
            f"- source: {incident.source}",
            "",
            "The control plane keeps the timeline; this issue is for the people working on it.",
        ]
    )
    labels = ["incident", incident.severity] + (
        [f"service:{incident.service}"] if incident.service else []
    )
    return title, body, labels


def file_issue(
    *, session: Session, clock: Clock, source: SourceControl, repo: str, incident: Incident
) -> IssueRef:
    """Open (or find) the incident's issue and write it on the timeline, in the caller's session."""
    title, body, labels = issue_text(incident)
    ref = source.open_issue(repo, title, body, labels, idempotency_key=f"incident:{incident.id}")
    add_event(
        session=session, clock=clock, incident=incident, kind=ISSUE_EVENT, actor=source.name,
        text=f"issue #{ref.number} opened: {ref.url}", data={"number": ref.number, "url": ref.url},
    )  # fmt: skip
    return ref


def file_round(*, engine: Engine, clock: Clock, source: SourceControl, repo: str) -> int:
    """File every waiting P1, committing one by one (an outage halfway keeps what was filed)."""
    filed = 0
    with Session(engine, expire_on_commit=False) as session:
        for incident in awaiting_issue(session=session):
            file_issue(session=session, clock=clock, source=source, repo=repo, incident=incident)
            session.commit()
            filed += 1
    return filed


async def keep_filing(
    *, engine: Engine, clock: Clock, source: SourceControl, repo: str, every_s: Callable[[], float]
) -> None:
    """The plane's background filer: a round every `every_s()`, later when GitHub says so."""
    while True:
        wait = every_s()
        try:
            await asyncio.to_thread(
                file_round, engine=engine, clock=clock, source=source, repo=repo
            )
        except AdapterUnavailable as exc:  # rate limited or down: the incident stands regardless
            wait = max(wait, float(exc.details.get("retry_after_s", 0)))
            log.warning("github issues for P1 incidents: %s", exc.message)
        except ControlPlaneError as exc:  # refused (bad token, no repo): said, tried again
            log.warning("github issues for P1 incidents refused: %s", exc.message)
        except Exception as exc:  # the next round tries again
            log.warning("github issues for P1 incidents failed: %s", exc.__class__.__name__)
        await asyncio.sleep(wait)
