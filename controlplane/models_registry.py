"""Imports every table module so SQLModel.metadata is complete (Alembic, tests)."""

from controlplane.approval import models as approval_models
from controlplane.audit import models as audit_models
from controlplane.chat import models as chat_models
from controlplane.deploy import models as deploy_models
from controlplane.governance import models as governance_models
from controlplane.identity import models as identity_models
from controlplane.incident import models as incident_models
from controlplane.playbook import models as playbook_models
from controlplane.risk import models as risk_models
from controlplane.ui import models as ui_models

__all__ = [
    "approval_models",
    "audit_models",
    "chat_models",
    "deploy_models",
    "governance_models",
    "identity_models",
    "incident_models",
    "playbook_models",
    "risk_models",
    "ui_models",
]
