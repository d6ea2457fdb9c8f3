"""The house keeps its shape: no import cycle, client types that match the server's models."""

from __future__ import annotations

import sys
import typing

import grimp
import pytest
from pydantic import BaseModel

from controlplane import client_types as ct
from controlplane.approval.models import ApprovalPublic, VotePublic
from controlplane.audit.models import AuditPage, VerifyResult
from controlplane.deploy.gates import GateResult
from controlplane.deploy.models import DeploymentPublic, ServiceLogs, ServiceStatus
from controlplane.governance.models import ActionPublic, ActionsPublic
from controlplane.handoff.routes import SchemaRef
from controlplane.identity.models import IdentityPublic, TokenIssued, TokenPublic, WhoAmI
from controlplane.incident.models import IncidentPublic
from controlplane.policy.models import SignalView
from controlplane.policy.routes import PolicyInfo
from controlplane.policy.service import DecisionOut
from controlplane.release.models import (
    ReleaseDetail,
    ReleasePublic,
    ReleasesPublic,
    UnusableRelease,
)
from controlplane.risk.models import (
    DriftReportAccepted,
    OverrideCleared,
    OverrideOut,
    SignalPublic,
    SignalsPublic,
)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycle_among_controlplane_modules_type_checking_imports_included() -> None:
    graph = grimp.build_graph("controlplane", exclude_type_checking_imports=False)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch) -> None:
    """The check above can fail: a two-module circle is reported."""
    pkg = tmp_path / "circle_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circle_pkg import b\n")
    (pkg / "b.py").write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    from circle_pkg import a\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("circle_pkg", exclude_type_checking_imports=False, cache_dir=None)
    assert _cycles(graph) == [["circle_pkg.a", "circle_pkg.b"]]
    sys.modules.pop("circle_pkg", None)


PAIRS: list[tuple[type, type[BaseModel]]] = [
    (ct.SignalOut, SignalPublic),
    (ct.DecisionSignal, SignalView),
    (ct.DecisionOut, DecisionOut),
    (ct.SignalsOut, SignalsPublic),
    (ct.OverrideOut, OverrideOut),
    (ct.OverrideCleared, OverrideCleared),
    (ct.ActionOut, ActionPublic),
    (ct.ActionsOut, ActionsPublic),
    (ct.DriftReportAccepted, DriftReportAccepted),
    (ct.PolicyInfo, PolicyInfo),
    (ct.IncidentOut, IncidentPublic),
    (ct.AuditPage, AuditPage),
    (ct.VerifyOut, VerifyResult),
    (ct.WhoAmI, WhoAmI),
    (ct.TokenIssued, TokenIssued),
    (ct.TokenOut, TokenPublic),
    (ct.IdentityOut, IdentityPublic),
    (ct.GateResultOut, GateResult),
    (ct.DeploymentOut, DeploymentPublic),
    (ct.ServiceStatusOut, ServiceStatus),
    (ct.ServiceLogsOut, ServiceLogs),
    (ct.VoteOut, VotePublic),
    (ct.ApprovalOut, ApprovalPublic),
    (ct.ReleaseOut, ReleasePublic),
    (ct.UnusableReleaseOut, UnusableRelease),
    (ct.ReleasesOut, ReleasesPublic),
    (ct.ReleaseDetailOut, ReleaseDetail),
    (ct.SchemaRefOut, SchemaRef),
]


@pytest.mark.parametrize(("typed", "model"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_client_types_have_exactly_the_fields_of_the_servers_models(
    typed: type, model: type[BaseModel]
) -> None:
    client_fields = set(typing.get_type_hints(typed))
    assert client_fields == set(model.model_fields), (typed.__name__, model.__name__)


def test_every_client_type_is_checked() -> None:
    typed_dicts = {
        name for name, obj in vars(ct).items() if isinstance(obj, type) and typing.is_typeddict(obj)
    }
    assert typed_dicts == {t.__name__ for t, _ in PAIRS}
