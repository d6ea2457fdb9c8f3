"""Typed hand-offs between the agents and tools of the delivery chain (DESIGN §5)."""

from controlplane.handoff.invariants import Invariant, Violation, invariant_error
from controlplane.handoff.ml import (
    DriftReport,
    EDAHandoff,
    FeatureDrift,
    ModelValidation,
    TrainingArtifact,
    expected_verdict,
)
from controlplane.handoff.models import (
    HANDOFF_MODELS,
    BuildArtifact,
    DeploymentRequest,
    SecurityAuditResult,
    lookup,
)
from controlplane.handoff.ops import IncidentReport, TimelineEntry
from controlplane.handoff.release import Release

__all__ = [
    "HANDOFF_MODELS",
    "BuildArtifact",
    "DeploymentRequest",
    "DriftReport",
    "EDAHandoff",
    "FeatureDrift",
    "IncidentReport",
    "Invariant",
    "ModelValidation",
    "Release",
    "SecurityAuditResult",
    "TimelineEntry",
    "TrainingArtifact",
    "Violation",
    "expected_verdict",
    "invariant_error",
    "lookup",
]
