"""Terraform for GKE and EKS: parsed with python-hcl2; the same variables and outputs on both
clouds, the seed's shape on each; `terraform fmt`/`validate` when a terraform binary can run."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.infra.conftest import ENVIRONMENTS, REPO, by_kind

TF = REPO / "infra" / "terraform"
CLOUDS = ("gke", "eks")
Resources = dict[tuple[str, str], dict[str, Any]]


def _unq(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and keys: drop them, recursively."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_unq(v) for v in value]
    if isinstance(value, dict):
        return {_unq(k): _unq(v) for k, v in value.items() if not k.startswith("__")}
    return value


@dataclass
class Module:
    """The blocks of one Terraform root module, by kind."""

    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: Resources = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""


def _load(cloud: str) -> Module:
    module = Module()
    for path in sorted((TF / cloud).glob("*.tf")):
        module.text += path.read_text()
        doc = _unq(hcl2.load(path.open()))
        for block in doc.get("variable", []):
            module.variables.update(block)
        for block in doc.get("output", []):
            module.outputs.update(block)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    module.resources[rtype, name] = body
        module.terraform += doc.get("terraform", [])
    return module


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    """gke and eks, parsed."""
    return {cloud: _load(cloud) for cloud in CLOUDS}


def test_same_variables_on_both_clouds(modules: dict[str, Module]) -> None:
    """Same names, types, defaults and validations: one tfvars shape fits either cloud."""
    gke, eks = modules["gke"].variables, modules["eks"].variables
    assert set(gke) == set(eks) and len(gke) >= 10
    for name in gke:
        for key in ("type", "default", "validation"):
            assert gke[name].get(key) == eks[name].get(key), (name, key)
        assert gke[name].get("description"), name


def test_same_outputs_on_both_clouds(modules: dict[str, Module]) -> None:
    """Same output names and sensitivity; the docs and the plane's settings read these."""
    gke, eks = modules["gke"].outputs, modules["eks"].outputs
    assert set(gke) == set(eks)
    needed = {"cluster_name", "cluster_endpoint", "cluster_ca_certificate", "registry_url"}
    assert needed | {"controlplane_identity", "ci_identity", "secret_names"} <= set(gke)
    for name in gke:
        assert bool(gke[name].get("sensitive")) == bool(eks[name].get("sensitive")), name
    assert gke["cluster_ca_certificate"]["sensitive"] is True


def _of_type(resources: Resources, rtype: str) -> list[dict[str, Any]]:
    return [body for (t, _), body in resources.items() if t == rtype]


def _pool_labels(module: Module, cloud: str) -> set[str]:
    if cloud == "gke":
        pools = _of_type(module.resources, "google_container_node_pool")
        return {p["node_config"][0]["labels"]["mlops.io/pool"] for p in pools}
    return {p["labels"]["mlops.io/pool"] for p in _of_type(module.resources, "aws_eks_node_group")}


def test_gke_shape(modules: dict[str, Module]) -> None:
    """Network + NAT, a private cluster with Workload Identity and Dataplane V2, system and
    workload pools, Artifact Registry, Secret Manager, the plane's federated identity."""
    r = modules["gke"].resources
    for rtype in (
        "google_compute_network", "google_compute_subnetwork", "google_compute_router_nat",
        "google_artifact_registry_repository", "google_secret_manager_secret",
        "google_iam_workload_identity_pool_provider",
    ):  # fmt: skip
        assert _of_type(r, rtype), rtype
    [cluster] = _of_type(r, "google_container_cluster")
    assert cluster["remove_default_node_pool"] is True
    assert cluster["datapath_provider"] == "ADVANCED_DATAPATH"  # enforces NetworkPolicy
    assert (
        cluster["workload_identity_config"][0]["workload_pool"]
        == "${var.cloud_account}.svc.id.goog"
    )
    assert cluster["private_cluster_config"][0]["enable_private_nodes"] is True
    binding = r["google_service_account_iam_member", "controlplane_workload_identity"]
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert "${local.controlplane_ksa}" in binding["member"]
    assert '"${var.environment}/controlplane"' in modules["gke"].text


def test_eks_shape(modules: dict[str, Module]) -> None:
    """VPC with private subnets and NAT, a cluster with IRSA and the VPC CNI's network policy,
    system and workload node groups, ECR, Secrets Manager, GitHub OIDC for CI."""
    r = modules["eks"].resources
    for rtype in (
        "aws_vpc", "aws_subnet", "aws_nat_gateway", "aws_eks_cluster", "aws_ecr_repository",
        "aws_secretsmanager_secret", "aws_iam_openid_connect_provider",
    ):  # fmt: skip
        assert _of_type(r, rtype), rtype
    [cni] = _of_type(r, "aws_eks_addon")
    assert cni["addon_name"] == "vpc-cni" and "enableNetworkPolicy" in cni["configuration_values"]
    assert r["aws_ecr_repository", "images"]["image_tag_mutability"] == "IMMUTABLE"
    assert '"system:serviceaccount:${var.environment}:controlplane"' in modules["eks"].text


@pytest.mark.parametrize("cloud", CLOUDS)
def test_node_pools_split_system_and_workload_as_the_manifests_select(
    cloud: str, modules: dict[str, Module], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Two pools labelled mlops.io/pool=system|workload; the plane asks for system, the ML
    services for workload, in every overlay."""
    assert _pool_labels(modules[cloud], cloud) == {"system", "workload"}
    for objects in rendered.values():
        for name, dep in by_kind(objects, "Deployment").items():
            pool = dep["spec"]["template"]["spec"]["nodeSelector"]["mlops.io/pool"]
            assert pool == ("system" if name == "controlplane" else "workload"), name


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_static_credentials(cloud: str, modules: dict[str, Module]) -> None:
    """No service-account JSON keys, no IAM access keys, no wildcard actions (seed D-18, D-31)."""
    types = {t for t, _ in modules[cloud].resources}
    assert not types & {"google_service_account_key", "aws_iam_access_key", "aws_iam_user"}
    assert '"*"' not in modules[cloud].text.replace('resources = ["*"] # this action', "")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_remote_state_per_environment(cloud: str, modules: dict[str, Module]) -> None:
    """A partial remote backend, one backend config and one tfvars per environment, with the same
    keys on both clouds; state paths differ per environment."""
    backend = {"gke": "gcs", "eks": "s3"}[cloud]
    [block] = [b for t in modules[cloud].terraform for b in t.get("backend", [])]
    assert set(block) == {backend}
    keys, paths = set(), set()
    for env in ENVIRONMENTS:
        config = _unq(
            hcl2.load((TF / cloud / "environments" / f"{env}.{backend}.tfbackend").open())
        )
        paths.add(config.get("prefix") or config.get("key"))
        tfvars = _unq(hcl2.load((TF / cloud / "environments" / f"{env}.tfvars").open()))
        assert tfvars["environment"] == env
        keys.add(frozenset(tfvars))
        assert set(tfvars) <= set(modules[cloud].variables)
        required = {n for n, v in modules[cloud].variables.items() if "default" not in v}
        assert required <= set(tfvars), env
    assert len(paths) == len(ENVIRONMENTS) and len(keys) == 1
    assert not list((TF / cloud).rglob("*.tfstate*"))


def test_tfvars_agree_across_clouds_where_not_cloud_specific() -> None:
    """Sizes per environment are the same decision on both clouds."""
    same = ("environment", "system_node_count", "workload_min_nodes", "workload_max_nodes")
    for env in ENVIRONMENTS:
        gke, eks = (
            _unq(hcl2.load((TF / c / "environments" / f"{env}.tfvars").open())) for c in CLOUDS
        )
        assert {k: gke[k] for k in same} == {k: eks[k] for k in same}, env


NO_TERRAFORM = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary")


def _terraform(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args], cwd=work, capture_output=True, text=True, timeout=300
    )


@NO_TERRAFORM
@pytest.mark.parametrize("cloud", CLOUDS)
def test_terraform_fmt(cloud: str) -> None:
    """The code is in `terraform fmt` form (runs offline)."""
    fmt = _terraform(TF / cloud, "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert fmt.returncode == 0, fmt.stdout


@NO_TERRAFORM
@pytest.mark.parametrize("cloud", CLOUDS)
def test_terraform_validate(cloud: str, tmp_path: Path) -> None:
    """`terraform validate` needs the providers: it runs where `terraform init` can download
    them, and is skipped, saying why, where it cannot (this project's machines)."""
    work = tmp_path / cloud
    shutil.copytree(TF / cloud, work)
    init = _terraform(work, "init", "-backend=false", "-input=false", "-no-color")
    if init.returncode != 0:
        errors = [
            line for line in init.stderr.splitlines() if "Error" in line or "registry" in line
        ]
        pytest.skip(f"terraform init cannot fetch the providers: {' '.join(errors)[:200]}")
    validate = _terraform(work, "validate", "-no-color")
    assert validate.returncode == 0, validate.stdout + validate.stderr
