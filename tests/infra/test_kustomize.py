"""Every overlay renders, validates against the Kubernetes schema, and has the seed's properties."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.adapters.workload import kustomize
from controlplane.errors import InvalidSpec
from tests.infra.conftest import ENVIRONMENTS, K8S, REPO, SERVICES, by_kind
from tests.infra.pss import restricted_violations

Objects = dict[str, list[dict[str, Any]]]
PSS_LEVEL = {"dev": "baseline", "staging": "baseline", "production": "restricted"}
HPA_CPU = {"bankchurn": 50, "nlpinsight": 60, "chicagotaxi": 60}  # seed ADR-001 / ADR-014
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PLANE = "controlplane"


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed"
)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_renderer_matches_kubectl_kustomize(env: str, rendered: Objects) -> None:
    """The plane's renderer and `kubectl kustomize` produce the very same objects."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / env)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    theirs = {_key(o): o for o in yaml.safe_load_all(out.stdout) if o}
    ours = {_key(o): o for o in rendered[env]}
    assert ours.keys() == theirs.keys()
    assert [k for k in ours if ours[k] != theirs[k]] == []


def test_renderer_refuses_fields_outside_its_subset(tmp_path: Path) -> None:
    """A kustomization using a field the renderer does not implement fails loudly, naming it."""
    (tmp_path / "kustomization.yaml").write_text("commonLabels: {a: b}\nresources: []\n")
    with pytest.raises(InvalidSpec, match="commonLabels"):
        kustomize.render(tmp_path)


def test_renderer_applies_namespace_images_and_json_patches(tmp_path: Path) -> None:
    """The subset behaves like kustomize: namespace moved, image pinned, patch applied."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources: [d.yaml]\n")
    (base / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {replicas: 3, template: {spec: {containers: [{name: x, image: 'x:1'}]}}}\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "namespace: ns\nresources: [base]\n"
        "images: [{name: x, newName: reg/x, digest: 'sha256:" + "a" * 64 + "'}]\n"
        "patches: [{target: {kind: Deployment, name: x}, "
        "patch: '[{op: replace, path: /spec/replicas, value: 1}]'}]\n"
    )
    [dep] = kustomize.render(tmp_path)
    assert dep["metadata"]["namespace"] == "ns" and dep["spec"]["replicas"] == 1
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "reg/x@sha256:" + "a" * 64


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_object_is_valid_kubernetes(env: str, rendered: Objects) -> None:
    """kubernetes-validate, strict (unknown fields refused), latest bundled schema."""
    import kubernetes_validate as kv

    for obj in rendered[env]:
        kv.validate(obj, kv.latest_version(), strict=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_namespace_with_its_pod_security_level(env: str, rendered: Objects) -> None:
    """baseline / baseline / restricted enforced; restricted warned and audited everywhere."""
    [ns] = by_kind(rendered[env], "Namespace").values()
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == env
    assert labels["pod-security.kubernetes.io/enforce"] == PSS_LEVEL[env]
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    namespaced = [o for o in rendered[env] if o["kind"] not in kustomize.CLUSTER_SCOPED]
    assert {o["metadata"]["namespace"] for o in namespaced} == {env}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_pod_passes_the_restricted_profile(env: str, rendered: Objects) -> None:
    """Non-root, no privilege escalation, ALL capabilities dropped, seccomp, safe volumes."""
    for name, dep in by_kind(rendered[env], "Deployment").items():
        assert restricted_violations(dep["spec"]["template"]["spec"]) == [], name


def test_the_checker_catches_what_restricted_refuses() -> None:
    """The Pod Security checker is not vacuous: a root, escalating, hostPath pod is refused."""
    pod = {
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"runAsUser": 0}}],
    }
    found = " ".join(restricted_violations(pod))
    for why in ("hostPath", "escalate", "root", "seccomp", "ALL"):
        assert why in found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_containers_are_read_only_with_emptydir_for_writes(env: str, rendered: Objects) -> None:
    """readOnlyRootFilesystem; every writable path (at least /tmp) is an emptyDir with a limit."""
    for name, dep in by_kind(rendered[env], "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for c in pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
            assert "/tmp" in mounts, name
            for volume in mounts.values():
                assert volumes[volume]["emptyDir"]["sizeLimit"], (name, volume)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_probes_requests_and_limits(env: str, rendered: Objects) -> None:
    """/health liveness and startup, /ready readiness (the plane: /healthz, /readyz); CPU and
    memory requested and capped, requests within limits."""
    for name, dep in by_kind(rendered[env], "Deployment").items():
        [c] = dep["spec"]["template"]["spec"]["containers"]
        live, ready = ("/healthz", "/readyz") if name == PLANE else ("/health", "/ready")
        assert c["livenessProbe"]["httpGet"]["path"] == live
        assert c["startupProbe"]["httpGet"]["path"] == live
        assert c["readinessProbe"]["httpGet"]["path"] == ready
        ports = {p["name"] for p in c["ports"]}
        assert {c[p]["httpGet"]["port"] for p in ("livenessProbe", "readinessProbe")} <= ports
        grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        startup = c["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120 and grace >= 30
        res = c["resources"]
        for kind in ("cpu", "memory"):
            assert _quantity(res["requests"][kind]) <= _quantity(res["limits"][kind]), name


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_uvicorn_worker_per_pod(env: str, rendered: Objects) -> None:
    """No --workers flag or WEB_CONCURRENCY anywhere: pods, not workers, are the unit of scale
    (the services' and the plane's entrypoints run exactly one uvicorn worker)."""
    for name, dep in by_kind(rendered[env], "Deployment").items():
        [c] = dep["spec"]["template"]["spec"]["containers"]
        words = [*c.get("command", []), *c.get("args", [])]
        assert not any(w.startswith("--workers") for w in words), name
        assert "WEB_CONCURRENCY" not in {e["name"] for e in c.get("env", [])}, name
    assert "workers=1" in (REPO / "services" / "common" / "cli.py").read_text()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_hpa_is_cpu_only_at_the_seed_targets(env: str, rendered: Objects) -> None:
    """One HPA per service on its Deployment: CPU utilisation 50 / 60 / 60 %, never memory;
    at least two replicas outside dev."""
    hpas = by_kind(rendered[env], "HorizontalPodAutoscaler")
    assert set(hpas) == set(SERVICES)
    for service, hpa in hpas.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": service,
        }
        [metric] = spec["metrics"]
        assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"] == {
            "type": "Utilization",
            "averageUtilization": HPA_CPU[service],
        }
        assert spec["minReplicas"] >= (1 if env == "dev" else 2)
        assert spec["maxReplicas"] > spec["minReplicas"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_deployment_has_a_pdb_over_its_pods(env: str, rendered: Objects) -> None:
    """A PDB selects each Deployment's pods; outside dev it keeps one available of >= 2."""
    pdbs = by_kind(rendered[env], "PodDisruptionBudget").values()
    for name, dep in by_kind(rendered[env], "Deployment").items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        [pdb] = [p for p in pdbs if _selects(p["spec"]["selector"], labels)]
        if env != "dev":
            assert pdb["spec"]["minAvailable"] == 1 and dep["spec"]["replicas"] >= 2, name


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_network_default_deny_plus_what_is_needed(env: str, rendered: Objects) -> None:
    """Default deny both ways; the services are reached only by the plane and Prometheus and call
    nothing; only the plane has egress (DNS, services, monitoring, 443, PostgreSQL)."""
    policies = by_kind(rendered[env], "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, dep in by_kind(rendered[env], "Deployment").items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        mine = [p["spec"] for p in policies.values() if _selects(p["spec"]["podSelector"], labels)]
        egress = [
            rule for p in mine if "Egress" in p["policyTypes"] for rule in p.get("egress", [])
        ]
        if name == PLANE:
            ports = {port["port"] for rule in egress for port in rule.get("ports", [])}
            assert ports == {53, 8000, 9090, 9093, 443, 5432}
            continue
        assert egress == [], f"{name} may call out"
        sources = [peer for p in mine for rule in p.get("ingress", []) for peer in rule["from"]]
        assert sources == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": PLANE}}},
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_images_pinned_by_digest_outside_dev(env: str, rendered: Objects) -> None:
    """staging and production name every image by digest; dev may use tags."""
    for name, dep in by_kind(rendered[env], "Deployment").items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            pinned = bool(DIGEST.search(c["image"]))
            assert pinned if env != "dev" else ":" in c["image"], (name, c["image"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_services_route_to_their_pods_named_port(env: str, rendered: Objects) -> None:
    """Each Service selects its Deployment's pods and targets a port the container names;
    the ML services answer on port 80 (the backend's stable address)."""
    deployments = by_kind(rendered[env], "Deployment")
    for name, svc in by_kind(rendered[env], "Service").items():
        dep = deployments[name]
        assert _selects(
            {"matchLabels": svc["spec"]["selector"]}, dep["spec"]["template"]["metadata"]["labels"]
        )
        names = {p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= names
        if name in SERVICES:
            assert [p["port"] for p in svc["spec"]["ports"]] == [80]
