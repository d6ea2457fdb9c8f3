"""`GET /v1/dora`: the five keys over a window, overall, by requester kind and by service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from controlplane.deps import ClockDep, DoraDep, ReadSessionDep, Viewer
from controlplane.dora import bands
from controlplane.dora import service as dora
from controlplane.dora.models import WINDOWS, DoraReport
from controlplane.errors import InvalidSpec
from controlplane.handoff.invariants import KNOWN_SERVICES

router = APIRouter(prefix="/v1/dora", tags=["dora"])
# what the schema offers is what is accepted (other values: a 422 naming the field)
_WINDOWS: dict[str, Any] = {"enum": list(WINDOWS)}
_SERVICES: dict[str, Any] = {"enum": list(KNOWN_SERVICES)}
_BANDS: dict[str, Any] = {"enum": bands.versions()}


@router.get("", response_model=DoraReport)
def get_dora(
    session: ReadSessionDep,
    clock: ClockDep,
    parts: DoraDep,
    _: Viewer,
    window: int = Query(30, description="days: 7, 30 or 90", json_schema_extra=_WINDOWS),
    service: str | None = Query(
        None, description=f"one of {', '.join(KNOWN_SERVICES)}", json_schema_extra=_SERVICES
    ),
    bands_version: str = Query(
        bands.DEFAULT, alias="bands", description="band table", json_schema_extra=_BANDS
    ),
) -> DoraReport:
    """DORA keys of production: raw value, numerator, denominator, band, what was left out."""
    if window not in WINDOWS:
        raise InvalidSpec(
            f"window: {window} days is not offered; use 7, 30 or 90",
            {"field": "window", "allowed": list(WINDOWS)},
        )
    if service is not None and service not in KNOWN_SERVICES:
        raise InvalidSpec(
            f"service: {service!r} is not a managed service; known: {', '.join(KNOWN_SERVICES)}",
            {"field": "service", "known": list(KNOWN_SERVICES)},
        )
    table = bands.load(bands_version)
    return dora.report(
        session=session, clock=clock, window_days=window, service=service, table=table,
        commits=parts.commits, training=parts.training,
    )  # fmt: skip
