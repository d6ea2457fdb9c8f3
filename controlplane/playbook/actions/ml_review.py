"""`performance.review`: AUC of the serving model on its labelled predictions, overall and per
slice, against the AUC its training run measured on held-out data.

Only predictions the serving model made count (a new release starts a new record in the same
log); labels come from `POST /ground_truth` and are joined by the services' own
`predlog.join_labels` (latest label wins, labels older than the prediction are ignored).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controlplane.playbook.actions import ml_metrics as metrics
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)
from controlplane.playbook.actions.ml_artifacts import (
    ENV,
    SERVICE,
    known_service,
    prediction_log,
    read_manifest,
    served,
)

BASELINE_METRIC = "roc_auc"


class ReviewIn(ActionInputs):
    service: str = SERVICE
    environment: str = ENV
    window: int = Field(default=20_000, ge=1, le=200_000, description="latest labelled rows")


class ReviewOut(ActionOutputs):
    auc: float | None
    baseline_auc: float
    degrading: list[str]  # the slices whose AUC fell more than 0.05 below the baseline
    enough_data: bool
    labelled: int
    model_version: str
    release: str
    slices: list[dict[str, Any]]


def labelled_rows(records: list[dict[str, Any]], model_version: str) -> list[metrics.Labelled]:
    """The joined predictions of one model with a probability and a 0/1 label."""
    rows = []
    for rec in records:
        if rec.get("model_version") != model_version:
            continue
        score = rec.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ActionFailed(
                f"prediction {rec.get('prediction_id')} has no single probability "
                f"(score {str(score)[:80]}); the review scores binary classifiers",
                error="unsupported",
                retryable=False,
            )
        label = metrics.binary_label(rec.get("label"))
        if label is None:
            continue  # a label the binary AUC cannot use: left out, not guessed
        rows.append(metrics.Labelled(float(score), label, rec.get("features") or {}))
    return rows


def review(ctx: StepContext, given: ReviewIn) -> ReviewOut:
    """Sliced AUC of the serving model against its training AUC; judged only with enough rows."""
    from services.common.predlog import join_labels

    service = known_service(ctx, given.service)
    serving = served(ctx, service, given.environment)
    if serving is None:
        raise ActionFailed(
            f"nothing serves {service} in {given.environment}",
            error="not_deployed",
            retryable=False,
        )
    manifest = read_manifest(serving.artifact, service)
    baseline = manifest.metrics.get(BASELINE_METRIC)
    if baseline is None:
        raise ActionFailed(
            f"{service}'s artifact records no training {BASELINE_METRIC} to compare with "
            f"(it has {', '.join(sorted(manifest.metrics))})",
            error="unsupported",
            retryable=False,
        )
    version = manifest.training.model_version
    joined = join_labels(prediction_log(ctx, serving.target))
    rows = labelled_rows(joined, version)[-given.window :]
    categorical = [n for n, e in manifest.baseline.items() if e.get("kind") == "categorical"]
    found = metrics.slices(rows, baseline, categorical)
    overall = found[0]
    degrading = [s.name for s in found if s.degraded]
    ctx.note(
        f"{len(rows)} labelled predictions of {version}: AUC {overall.auc} "
        f"(baseline {baseline:.4f}); degrading: {', '.join(degrading) or 'none'}"
    )
    return ReviewOut(
        auc=overall.auc,
        baseline_auc=round(baseline, 4),
        degrading=degrading,
        enough_data=overall.judged,
        labelled=len(rows),
        model_version=version,
        release=serving.release,
        slices=[metrics.as_json(s) for s in found],
    )


def actions() -> list[Action[Any, Any]]:
    """The performance review action."""
    return [
        Action("performance.review", "performance.review",
               "sliced AUC of labelled predictions against the training baseline", ReviewIn,
               ReviewOut, review),
    ]  # fmt: skip
