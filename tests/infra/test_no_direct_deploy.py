"""Nothing in the repository deploys around the plane: no workflow, script, Makefile target,
shell file, Dockerfile or Python argv runs `kubectl apply`, `kubectl set image`, `helm upgrade`,
`terraform apply` or the like. Only the plane's Kubernetes backend changes a cluster."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import REPO

FLAGS = r"(?:\s+--?[\w.-]+(?:[= ](?!-)[^\s|;&]+)?)*"
MUTATING_KUBECTL = (
    "apply|create|replace|patch|delete|edit|scale|set|rollout|annotate|label|run|expose|autoscale"
)
SHELL = [
    re.compile(rf"\bkubectl{FLAGS}\s+({MUTATING_KUBECTL})\b"),
    re.compile(rf"\bhelm{FLAGS}\s+(upgrade|install|rollback|uninstall)\b"),
    re.compile(rf"\b(terraform|tofu){FLAGS}\s+(apply|destroy|import)\b"),
    re.compile(r"\bargocd\s+app\s+sync\b|\bflux\s+reconcile\b"),
]
Q = r"['\"]"
ITEMS = rf"(?:\s*{Q}[^'\"]*{Q}\s*,)*?"  # the flags and values before the verb
ARGV = [
    re.compile(rf"{Q}kubectl{Q}\s*,{ITEMS}\s*{Q}({MUTATING_KUBECTL}){Q}"),
    re.compile(rf"{Q}helm{Q}\s*,{ITEMS}\s*{Q}(upgrade|install|rollback|uninstall){Q}"),
    re.compile(rf"{Q}(terraform|tofu){Q}\s*,{ITEMS}\s*{Q}(apply|destroy|import){Q}"),
]
THIS = Path(__file__).resolve()


def direct_deploys(text: str, *, python: bool = False) -> list[str]:
    """Lines that would change a cluster or cloud without the plane (comments ignored)."""
    found = []
    for line in text.splitlines():
        code = line.split("#", 1)[0] if not python else line
        patterns = ARGV if python else SHELL
        if any(p.search(code) for p in patterns):
            found.append(line.strip())
    return found


def _repo_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [REPO / name for name in listed if (REPO / name).is_file()]


def _is_script(path: Path) -> bool:
    """Workflows, shell files, Makefiles, .ci/, Dockerfiles, and anything with a shebang."""
    rel = path.relative_to(REPO).as_posix()
    if rel.startswith((".github/", ".ci/")) or path.name in ("Makefile", "GNUmakefile"):
        return True
    if path.suffix in (".sh", ".bash", ".mk") or path.name.endswith("Dockerfile"):
        return True
    try:
        return path.read_bytes()[:2] == b"#!"
    except OSError:
        return False


def test_no_script_or_workflow_deploys_around_the_plane() -> None:
    """Scan every tracked or new file that runs commands; list each offending line."""
    offenders: dict[str, list[str]] = {}
    scanned = 0
    for path in _repo_files():
        if path.resolve() == THIS:
            continue
        if _is_script(path):
            hits = direct_deploys(path.read_text(errors="replace"))
        elif path.suffix == ".py":
            hits = direct_deploys(path.read_text(errors="replace"), python=True)
        else:
            continue
        scanned += 1
        if hits:
            offenders[path.relative_to(REPO).as_posix()] = hits
    assert scanned > 50  # the walk really covered the repository
    assert offenders == {}


@pytest.mark.parametrize(
    "line",
    [
        "kubectl apply -k infra/k8s/overlays/production",
        "kubectl -n production set image deployment/bankchurn bankchurn=x@sha256:1",
        "kubectl --context=prod rollout restart deployment/bankchurn",
        "kustomize build overlays/staging | kubectl apply -f -",
        "helm upgrade --install bankchurn charts/bankchurn",
        "terraform -chdir=infra/terraform/gke apply -auto-approve",
        "tofu apply plan.out",
        "	$(BIN)/terraform apply",
    ],
)
def test_the_scan_catches_direct_deploys(line: str) -> None:
    """The scanner is not vacuous: each way of deploying around the plane is found."""
    assert direct_deploys(f"run: |\n  {line}\n") == [line.strip()]


@pytest.mark.parametrize(
    "line",
    [
        "kubectl kustomize infra/k8s/overlays/dev",
        "kubectl get pods -n dev",
        "terraform plan -var-file=environments/dev.tfvars",
        "terraform -chdir=infra/terraform/gke validate",
        "# kubectl apply is what the plane replaces",
    ],
)
def test_the_scan_allows_reading_and_rendering(line: str) -> None:
    """Rendering, reading, planning and comments are not deploys."""
    assert direct_deploys(line) == []


def test_the_scan_reads_python_argv_lists() -> None:
    """subprocess argv lists count too; a docstring mentioning `kubectl apply` does not."""
    code = 'subprocess.run(["kubectl", "-n", "production", "apply", "-f", "x.yaml"])\n'
    assert direct_deploys(code, python=True)
    assert not direct_deploys('"""like `kubectl apply` without pruning"""', python=True)
