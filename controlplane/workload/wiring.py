"""Which workload backend runs the services, where its releases and their audits come from, and
how health is judged."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from controlplane.adapters.base import Release, WorkloadBackend
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.config import Settings
from controlplane.deploy.facts import AuditTrust
from controlplane.errors import InvalidSpec
from controlplane.handoff import attest
from controlplane.handoff.models import SecurityAuditResult
from controlplane.handoff.release import Release as ReleaseRef

if TYPE_CHECKING:
    from controlplane.release.registry import ReleaseRegistry


class ReleaseCatalog(Protocol):
    """Where releases come from: the local bundle registry, or images for a cluster."""

    def inspect(self, ref: str, service: str, offered: SecurityAuditResult | None) -> AuditTrust:
        """Refuse (4xx) a release the backend cannot run for this service; say whether the
        offered audit of it can be trusted, and which audit the plane trusts."""
        ...

    def resolve(self, ref: str) -> Release:
        """Turn a reference into what the backend runs."""
        ...


HealthCheck = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Workloads:
    """The backend that runs services, its release catalog and its health check."""

    backend: WorkloadBackend
    releases: ReleaseCatalog
    health: HealthCheck


def _same_service(ref: str, service: str) -> ReleaseRef:
    """Refuse a release named for another service before anything starts."""
    try:
        release = ReleaseRef.parse(ref)
    except ValueError as exc:
        raise InvalidSpec(str(exc), {"field": "release", "reason": str(exc)}) from None
    name = release.name.rsplit("/", 1)[-1].split(":", 1)[0]
    if name != service:
        raise InvalidSpec(
            f"release {release.name} is not a release of {service}",
            {"field": "release", "reason": f"expected a release of {service}, got {name}"},
        )
    return release


class SignedImages:
    """Releases are OCI images pinned by digest; audits must carry a trusted CI signature."""

    def __init__(self, trusted_keys: Collection[str]) -> None:
        self.trusted_keys = frozenset(trusted_keys)

    def inspect(self, ref: str, service: str, offered: SecurityAuditResult | None) -> AuditTrust:
        """A pinned image of this service can be tried (a missing one fails the rollout); its
        audit is trusted only when signed by a configured CI key (CONTROLPLANE_TRUSTED_CI_KEYS)."""
        _same_service(ref, service)
        if offered is None:
            return AuditTrust(False, "no security audit was sent")
        verdict = attest.verify_audit(offered, self.trusted_keys)
        return AuditTrust(verdict.trusted, verdict.reason, offered if verdict.trusted else None)

    def resolve(self, ref: str) -> Release:
        """The image is the reference."""
        return Release(ref, image=ref)


class FakeReleases(SignedImages):
    """The in-memory backend's releases: a local bundle when one was built here (its own audit
    is trusted), else any well-formed reference with a CI-signed audit, as for images."""

    def __init__(self, trusted_keys: Collection[str], bundles: RegistryCatalog) -> None:
        super().__init__(trusted_keys)
        self.bundles = bundles

    def inspect(self, ref: str, service: str, offered: SecurityAuditResult | None) -> AuditTrust:
        """A bundle of this plane is judged as a bundle; anything else as an image."""
        if self.bundles.has(ref):
            return self.bundles.inspect(ref, service, offered)
        return super().inspect(ref, service, offered)

    def resolve(self, ref: str) -> Release:
        """The reference alone."""
        return Release(ref)


class RegistryCatalog:
    """Releases are the signed local bundles in the state folder; so are their audits."""

    def __init__(self, registry: ReleaseRegistry) -> None:
        self.registry = registry

    def inspect(self, ref: str, service: str, offered: SecurityAuditResult | None) -> AuditTrust:
        """404 (with the known refs) for a release never built here, 409 for one that fails
        verification (the bundle is verified in full), 422 for another service's release. The
        bundle's own signed audit is the one trusted; a request's copy must equal it."""
        _same_service(ref, service)
        audit = self.registry.get(ref).audit
        if offered is not None and _content(offered) != _content(audit):
            return AuditTrust(
                False,
                "the request's security audit differs from the release's own signed audit "
                "(security_audit.json in the bundle); send that one unchanged",
                audit,  # the security gate still judges the registry's own copy
            )
        return AuditTrust(True, "the release registry's own signed audit", audit)

    def has(self, ref: str) -> bool:
        """Whether a bundle of that reference was built here (verified or not)."""
        try:
            return self.registry.has(ref)
        except InvalidSpec:  # not a reference a bundle could have
            return False

    def resolve(self, ref: str) -> Release:
        """The verified bundle's artifact folder, which the local backend runs."""
        info = self.registry.get(ref)
        return Release(
            info.ref, artifact=str(info.artifact_dir), model_version=info.manifest.model_version
        )


def _content(audit: SecurityAuditResult) -> dict[str, Any]:
    return audit.model_dump(mode="json", exclude={"signature"})


def workload_parts(settings: Settings, workloads: WorkloadBackend | None) -> Workloads:
    """The backend, its release catalog and its health check: as given, or from settings."""
    from controlplane.release.registry import ReleaseRegistry

    bundles = RegistryCatalog(ReleaseRegistry(settings.state_dir))
    if isinstance(workloads, FakeWorkloadBackend):
        return Workloads(workloads, FakeReleases(settings.ci_keys, bundles), workloads.health)
    if workloads is None and settings.workload_backend == "kubernetes":
        return _kubernetes_parts(settings)
    if workloads is None:
        from controlplane.adapters.workload.local import LocalBackend

        workloads = LocalBackend(settings.state_dir)
    return Workloads(workloads, bundles, _health_check(settings))


def _kubernetes_parts(settings: Settings) -> Workloads:
    """Deployments in a real cluster from a kubeconfig; releases are digest-pinned images."""
    from controlplane.adapters.workload.k8s import KubernetesBackend
    from controlplane.adapters.workload.k8s_api import KubeClusterApi

    backend: WorkloadBackend
    if settings.kube_context_map:  # each environment in its own cluster
        from controlplane.adapters.workload.k8s_environments import ClusterPerEnvironment

        backend = ClusterPerEnvironment.from_kubeconfig(
            settings.kube_context_map, path=settings.kubeconfig
        )
    else:
        backend = KubernetesBackend(
            KubeClusterApi.from_kubeconfig(settings.kubeconfig, settings.kube_context)
        )
    return Workloads(
        backend,
        SignedImages(settings.ci_keys),
        # Readiness is the rollout itself (available replicas); error rates need Prometheus.
        lambda url: {"healthy": True, "ready": True, "reason": "rollout available"},
    )


def _health_check(settings: Settings) -> HealthCheck:
    """Readiness plus error rate over the configured window (numbers kept for the record)."""
    from controlplane.adapters.workload.health import verify_health

    def check(url: str) -> dict[str, Any]:
        result = verify_health(url, settings.health_window_s, settings.max_error_rate)
        return {
            "healthy": result.ok,
            "ready": result.ready,
            "error_rate": result.error_rate,
            "requests": result.requests,
            "window_s": result.window_s,
            "reason": result.reason,
        }

    return check
