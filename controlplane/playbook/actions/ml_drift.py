"""`drift.check`: PSI/KS per feature of each service's recent predictions against its baseline.

The maths is the services' own (`services/common/drift.py`, with each service's bands and drift
columns); the reference is the training baseline inside the artifact that serves. A check of
production files its report like a drift job posting to `/v1/drift-reports` (as the run's
requester, in the step's transaction), so a severe one raises `drift_severe` and a later clean
one by the same requester lowers it again. Other environments only report: their traffic (tests,
trials) must not block production changes, and drift reports name a service, not an environment.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from controlplane.handoff.ml import DriftReport
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)
from controlplane.playbook.actions.ml_artifacts import (
    ENV,
    NAME_PATTERN,
    known_service,
    prediction_log,
    read_manifest,
    served,
    service_spec,
)
from controlplane.risk import service as risk

FEEDS_SIGNAL = "production"  # the environment whose checks are filed as drift reports
FLOOR = 300  # fewer predictions than this: sampling noise alone often reads as an alert
PER_BUCKET = 10  # expected predictions in the smallest baseline bin or category
LEVELS = ("ok", "warn", "alert", "severe")


def needed_samples(baseline: Mapping[str, Mapping[str, Any]]) -> int:
    """How many predictions a check needs so an empty bin is not read as drift.

    A bin or category with no current sample adds share x ln(share / 1e-8) to the PSI (0.18
    for one of 77 taxi areas), so the window must expect PER_BUCKET samples in the smallest
    non-empty bucket; never fewer than FLOOR (at 50, the services' minimum, half the checks of
    in-distribution bankchurn traffic came out severe).
    """
    shares: list[float] = []
    for entry in baseline.values():
        if entry.get("kind") == "numeric":
            shares += [float(p) for p in entry.get("proportions", [])]
        elif entry.get("kind") == "categorical":
            shares += [float(p) for p in dict(entry.get("shares", {})).values()]
    smallest = min((s for s in shares if s > 0), default=1.0)
    return max(FLOOR, math.ceil(PER_BUCKET / smallest))


def level(psi: float, warn: float, alert: float) -> str:
    """ok below warn, warn from warn, alert from alert, severe above twice alert (DESIGN §6)."""
    if psi > 2 * alert:
        return "severe"
    if psi >= alert:
        return "alert"
    return "warn" if psi >= warn else "ok"


def worst(levels: list[str]) -> str:
    """The most serious level of a list (ok for none)."""
    return max(levels, key=LEVELS.index, default="ok")


def recent_predictions(folder: Path, count: int) -> list[dict[str, Any]]:
    """The last `count` logged predictions with their inputs (a torn last line is skipped)."""
    from services.common.predlog import PREDICTIONS_FILE, read_jsonl

    kept: deque[dict[str, Any]] = deque(maxlen=count)
    for record in read_jsonl(folder / PREDICTIONS_FILE):
        if isinstance(record.get("features"), dict) and record.get("timestamp"):
            kept.append(record)
    return list(kept)


class DriftIn(ActionInputs):
    service: str = Field(pattern=NAME_PATTERN, max_length=63, description="a service or all")
    environment: str = ENV
    window: int = Field(default=500, ge=FLOOR, le=10_000, description="recent predictions")


class DriftOut(ActionOutputs):
    services: list[dict[str, Any]]
    severe_services: list[str]
    any_severe: bool
    checked: int
    not_enough_data: list[str]
    not_deployed: list[str]
    reports: list[str]  # ids of the drift reports filed (checks of production only)


def feature_levels(found: Any, thresholds: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each feature of a services' DriftReport with its bands and its level."""
    from services.common.drift import DEFAULT_THRESHOLD

    features: list[dict[str, Any]] = []
    for f in found.features:
        band = thresholds.get(f.name, DEFAULT_THRESHOLD)
        features.append(
            {"name": f.name, "kind": f.kind, "psi": f.psi, "ks": f.ks, "warn": band.warn,
             "alert": band.alert, "level": level(f.psi, band.warn, band.alert)}
        )  # fmt: skip
    return features


def check_service(ctx: StepContext, service: str, environment: str, window: int) -> dict[str, Any]:
    """One service's check: its level, per-feature PSI/KS and the window it looked at."""
    from services.common import drift

    serving = served(ctx, service, environment)
    if serving is None:
        return {"service": service, "status": "not_deployed"}
    manifest = read_manifest(serving.artifact, service)
    spec = service_spec(service)
    needed = needed_samples(manifest.baseline)
    recent = recent_predictions(prediction_log(ctx, serving.target), max(window, needed))
    head: dict[str, Any] = {
        "service": service, "release": serving.release,
        "model_version": manifest.training.model_version, "predictions": len(recent),
        "needed": needed, "window": max(window, needed),
    }  # fmt: skip
    if len(recent) < needed:
        return head | {"status": "not_enough_data"}
    try:
        found = drift.report(
            service=service,
            baseline=manifest.baseline,
            current=spec.drift_columns([r["features"] for r in recent]),
            thresholds=spec.thresholds,
            window_start=str(recent[0]["timestamp"]),
            window_end=str(recent[-1]["timestamp"]),
        )
    except drift.NotEnoughData as exc:
        return head | {"status": "not_enough_data", "reason": str(exc)}
    features = feature_levels(found, spec.thresholds)
    return head | {
        "status": worst([f["level"] for f in features]),
        "max_psi": found.max_psi,
        "recommendation": found.retrain_recommendation,
        "window_start": found.window_start,
        "window_end": found.window_end,
        "features": features,
        "report": found.model_dump(mode="json"),
    }


def file_report(ctx: StepContext, result: dict[str, Any]) -> str:
    """Store the check as a drift report, in the step's transaction (it drives drift_severe)."""
    accepted = risk.accept_drift_report(
        session=ctx.session,
        clock=ctx.tools.clock,
        report=DriftReport.model_validate(result["report"]),
        reported_by=ctx.requester.name,
    )
    return accepted.id


def check(ctx: StepContext, given: DriftIn) -> DriftOut:
    """Check one service, or every managed one; file production's reports as drift reports."""
    names = (
        list(ctx.tools.known_services)
        if given.service == "all"
        else [known_service(ctx, given.service)]
    )
    results = [check_service(ctx, name, given.environment, given.window) for name in names]
    if given.service != "all" and results[0]["status"] == "not_deployed":
        raise ActionFailed(
            f"nothing serves {given.service} in {given.environment}",
            error="not_deployed",
            retryable=False,
        )
    reports: list[str] = []
    for result in results:
        if "report" not in result:
            continue
        if given.environment == FEEDS_SIGNAL:
            result["report_id"] = file_report(ctx, result)
            reports.append(result["report_id"])
        del result["report"]  # the features above say the same, with their levels
        ctx.note(f"{result['service']}: {result['status']} (max PSI {result['max_psi']:.3f})")
    severe = [r["service"] for r in results if r["status"] == "severe"]
    return DriftOut(
        services=results,
        severe_services=severe,
        any_severe=bool(severe),
        checked=sum(1 for r in results if "features" in r),
        not_enough_data=[r["service"] for r in results if r["status"] == "not_enough_data"],
        not_deployed=[r["service"] for r in results if r["status"] == "not_deployed"],
        reports=reports,
    )


def actions() -> list[Action[Any, Any]]:
    """The drift action."""
    return [
        Action("drift.check", "drift.check", "PSI/KS of recent predictions against the baseline",
               DriftIn, DriftOut, check),
    ]  # fmt: skip
