"""The Pod Security Standards' checks on a pod spec, as the admission controller applies them."""

from __future__ import annotations

from typing import Any

RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def baseline_violations(pod: dict[str, Any]) -> list[str]:
    """Why the pod would be refused under `baseline` (empty: admitted)."""
    out = [f"{k} is set" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    out += [
        f"volume {v['name']} is a hostPath" for v in pod.get("volumes") or [] if "hostPath" in v
    ]
    for c in _containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{c['name']} is privileged")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            out.append(f"{c['name']} adds capabilities {sorted(added)}")
        out += [f"{c['name']} uses hostPort" for p in c.get("ports") or [] if p.get("hostPort")]
    return out


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Why the pod would be refused under `restricted` (empty: admitted)."""
    out = baseline_violations(pod)
    psc = pod.get("securityContext") or {}
    for v in pod.get("volumes") or []:
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append(f"volume {v['name']} is {sorted(kinds)}")
    for c in _containers(pod):
        sc, name = c.get("securityContext") or {}, c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name} may escalate privileges")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            out.append(f"{name} may run as root")
        if 0 in (sc.get("runAsUser"), psc.get("runAsUser")):
            out.append(f"{name} runs as uid 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name} has no seccomp profile")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{name} does not drop ALL capabilities")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{name} adds capabilities")
    return out


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
