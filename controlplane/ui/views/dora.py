"""DORA: the five keys of production with bands and raw numbers, split by requester kind and
service, the model view, weekly charts (and their table), and the CSV export.

The numbers are the DORA domain's own report (`dora.service.report`, what `GET /v1/dora`
answers); the value formats and the CSV layout are `opsctl dora`'s (one layout, not two).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.deps import ClockDep, DoraDep, ReadSessionDep
from controlplane.dora import bands, export
from controlplane.dora import service as dora
from controlplane.dora.models import DoraKeys, DoraReport, KeyValue, WeekPoint
from controlplane.dora.wiring import DoraParts
from controlplane.handoff.invariants import KNOWN_SERVICES
from controlplane.identity import service as identity
from controlplane.ui import filters
from controlplane.ui.auth import UiUser
from controlplane.ui.render import HEADERS, PREFIX, page
from controlplane.ui.service import Current as UiCurrent

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MODEL_KEY = "model_lead_time"
HOUR = 3600.0


def measure(
    chosen: filters.DoraFilter, session: Session, clock: Clock, parts: DoraParts
) -> DoraReport:
    """The domain's report for the page's filter."""
    return dora.report(
        session=session, clock=clock, window_days=chosen.window, service=chosen.service,
        table=bands.load(chosen.bands), commits=parts.commits, training=parts.training,
    )  # fmt: skip


def choose(request: Request, user: UiCurrent) -> filters.DoraFilter:
    """The viewer role (as `GET /v1/dora`), then window, service and band table (422 naming
    the field)."""
    identity.require(user.principal, "viewer")
    return filters.dora_filter(
        request.query_params, KNOWN_SERVICES, bands.versions(), bands.DEFAULT
    )


def left_out(value: KeyValue) -> list[str]:
    """What a key could not measure, in words ('2 no commit time')."""
    return [f"{n} {reason.replace('_', ' ')}" for reason, n in value.left_out.items() if n]


def card(field: str, label: str, style: str, keys: DoraKeys) -> dict[str, Any]:
    """One key as a card: raw value in its unit, how it was counted, band, what was left out."""
    value: KeyValue = getattr(keys, field)
    plain = value.model_dump()
    return {
        "field": field,
        "label": label,
        "shown": export.shown(plain, style),
        "counted": export.counted(field, {**plain, "left_out": {}}),
        "band": value.band,
        "band_report": value.band_report,
        "window": value.window_days,
        "left_out": left_out(value),
        "samples": value.denominator or 0,
    }


def slices(parts: dict[str, DoraKeys]) -> list[dict[str, Any]]:
    """One row per requester kind or service: every key's value and band side by side."""
    return [
        {"name": name, "cells": [card(f, label, style, keys) for f, label, style in export.KEYS]}
        for name, keys in parts.items()
    ]


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)


def _pct(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 1)


def series(weekly: list[WeekPoint]) -> dict[str, list[Any]]:
    """The weekly points as columns for the charts (and the no-JS table)."""
    return {
        "weeks": [w.week_start.isoformat() for w in weekly],
        "days": [w.days for w in weekly],
        "deployments": [w.deployments for w in weekly],
        "deployment_days": [w.deployment_days for w in weekly],
        "lead_time_h": [_hours(w.lead_time_s) for w in weekly],
        "recovery_time_h": [_hours(w.recovery_time_s) for w in weekly],
        "change_failure_pct": [_pct(w.change_failure_rate) for w in weekly],
        "rework_pct": [_pct(w.rework_rate) for w in weekly],
    }


def has_data(report: DoraReport) -> bool:
    """Anything finished in production in the window (deployments, failures or rollbacks)."""
    return any(w.finished or w.deployments or w.rework for w in report.weekly)


@router.get("/dora", response_class=HTMLResponse)
def dora_page(
    request: Request, user: UiUser, session: ReadSessionDep, clock: ClockDep, parts: DoraDep
) -> HTMLResponse:
    """The DORA keys of production over 7, 30 or 90 days, overall, by who asked and service."""
    chosen = choose(request, user)
    report = measure(chosen, session, clock, parts)
    overall = report.overall
    model_key = next(k for k in export.KEYS if k[0] == MODEL_KEY)
    context = {
        "chosen": chosen,
        "report": report,
        "windows": filters.DORA_WINDOWS,
        "services": KNOWN_SERVICES,
        "band_tables": bands.versions(),
        "has_data": has_data(report),
        "cards": [card(f, lb, st, overall) for f, lb, st in export.KEYS if f != MODEL_KEY],
        "model": card(model_key[0], model_key[1], model_key[2], overall),
        "headers": [lb for f, lb, _ in export.KEYS],
        "by_requester": slices(report.by_requester),
        "by_service": slices(report.by_service),
        "chart": series(report.weekly),
        "csv_query": chosen.query(),
    }
    return page(request, "dora.html", context)


@router.get("/dora.csv")
def dora_csv(
    request: Request, user: UiUser, session: ReadSessionDep, clock: ClockDep, parts: DoraDep
) -> Response:
    """Every key of every slice as CSV, the layout of `opsctl dora --csv`."""
    chosen = choose(request, user)
    report = measure(chosen, session, clock, parts)
    body = export.to_csv(report.model_dump(mode="json"))
    name = f"dora-{chosen.window}d-{chosen.service or 'all'}-{chosen.bands}.csv"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": HEADERS["Cache-Control"],
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
