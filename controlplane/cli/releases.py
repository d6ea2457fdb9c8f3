"""`opsctl releases` lists what can be deployed (via the API); `opsctl release build` makes one.

`release build` is a local build tool like `docker build`: it writes a signed, audited bundle
into the state folder and prints its ref; deploying it is a separate, governed step.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import JsonOpt, ServiceOpt, emit_json, plane, reporting_errors, table
from controlplane.cli.grammar import noun, pick

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient
    from controlplane.client_types import ReleaseOut

app = noun("List deployable releases, show one, or build a local release bundle.")
FULL_DIGEST = 64

StateDirOpt = Annotated[
    Path,
    typer.Option(
        "--state-dir", envvar="CONTROLPLANE_STATE_DIR", help="State folder holding releases/."
    ),
]


def releases(service: ServiceOpt = None, json_out: JsonOpt = False) -> None:
    """List deployable releases with model version, metrics and whether the audit passed."""
    with plane() as client:
        out = client.releases(service)
    if json_out:
        emit_json(out)
        return
    rows = [_row(r) for r in out["data"]]
    typer.echo(table(("ref", "created (utc)", "model version", "metric", "audit"), rows))
    for bad in out.get("unusable", []):
        typer.echo(f"unusable: {bad['service']}@sha256:{bad['digest']}: {bad['problem']}", err=True)


app.command("list")(releases)


def _row(r: ReleaseOut) -> tuple[Any, ...]:
    created = r["created_at"][:19]
    return (r["ref"], created, r["model_version"], _metric(r["metrics"]), r["audit_passed"])


def _metric(metrics: dict[str, float]) -> str:
    """The headline metric of any of the three services."""
    for name in ("roc_auc", "f1_macro", "r2"):
        if name in metrics:
            return f"{name} {metrics[name]:.3f}"
    return "-"


@app.command("build")
def build(
    service: Annotated[str, typer.Argument(help="Service the artifact is for, e.g. bankchurn.")],
    artifact: Annotated[
        Path, typer.Option("--artifact", "-a", help="Trained artifact folder (train --out DIR).")
    ],
    state_dir: StateDirOpt = Path(".controlplane"),
    json_out: JsonOpt = False,
) -> None:
    """Bundle a trained artifact (offline): manifest, SBOM, signature, audit; print the ref."""
    from controlplane.release.models import detail
    from controlplane.release.registry import ReleaseRegistry

    with reporting_errors():
        info = ReleaseRegistry(state_dir).build(service, artifact)
    if json_out:
        emit_json(detail(info).model_dump(mode="json"))
        return
    typer.echo(info.ref)
    audit = info.audit
    verdict = "passed" if audit.passed else "FAILED: " + "; ".join(audit.failed_checks())
    typer.echo(f"security audit {verdict} ({info.path / 'security_audit.json'})", err=True)


@app.command("show")
def show(
    ref: Annotated[
        str, typer.Argument(help="<service>@sha256:<hex>: the full digest or its start, as listed.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Show one release (re-verified by the plane) with its files and security audit."""
    service, _, digest = ref.partition("@sha256:")
    if not digest:
        raise typer.BadParameter("expected <service>@sha256:<hex>", param_hint="REF")
    with plane() as client:
        out = client.get_release(service, _full_digest(client, service, digest))
    if json_out:
        emit_json(out)
        return
    audit = out["security_audit"]
    typer.echo(f"{out['ref']}\n  model {out['model_version']} (code {out['code_version']})")
    typer.echo(f"  audit passed: {audit['passed']}")
    for finding in audit["findings"]:
        typer.echo(f"    - {finding}")
    for f in out["files"]:
        typer.echo(f"  {f['sha256'][:12]}  {f['size']:>10}  {f['path']}")


def _full_digest(client: ControlPlaneClient, service: str, digest: str) -> str:
    """A digest as printed (cut to 12 hex in deployment tables) back to the full one."""
    if len(digest) >= FULL_DIGEST:
        return digest
    listed = client.releases(service)["data"]
    return pick(digest, [r["digest"].removeprefix("sha256:") for r in listed], f"{service} release")
