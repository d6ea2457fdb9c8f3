"""release_agent (runs in CI): build outputs -> typed hand-offs -> a deployment request, followed.

    python -m agents.release_agent --bundle .controlplane/releases/bankchurn/<digest> -e dev
    python -m agents.release_agent --build build-outputs.json -e production --release-tag v1.4.0

CONTROLPLANE_URL and CONTROLPLANE_TOKEN (the agent's own) say where and as whom;
CONTROLPLANE_CI_KEY_FILE (or --ci-key) is the ed25519 key the plane trusts for CI audits.
Exit 0 deployed and healthy, 1 refused or failed (the reason is printed), 3 waits for humans
(the approval is printed; this agent never approves), 4 still rolling out at --timeout.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents import release_inputs as inputs
from agents.common import EXIT_REFUSED, EXIT_USAGE, AgentExit, connect, emit, finish, run, say
from controlplane.client import ControlPlaneClient, DeploymentOut


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m agents.release_agent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--build", type=Path, help="build-outputs.json written by CI")
    source.add_argument("--bundle", type=Path, help="a local release bundle folder")
    p.add_argument("-e", "--environment", required=True, help="dev | staging | production")
    p.add_argument("--release-tag", help="v<major>.<minor>.<patch> (production needs one)")
    p.add_argument("--commit-sha", help="the commit that was built")
    p.add_argument("--commit-time", type=datetime.fromisoformat, help="its time (DORA lead time)")
    p.add_argument("--reason", help="why this release ships")
    p.add_argument("--ci-key", type=Path, default=os.environ.get(inputs.CI_KEY_ENV))
    p.add_argument("--timeout", type=float, default=900, help="seconds to follow the outcome")
    p.add_argument("--await-approval", action="store_true",
                   help="keep waiting while humans review (until --timeout)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the final state as JSON")
    return p.parse_args(argv)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """The DeploymentRequest as JSON, from build outputs; refused here when invalid."""
    if args.ci_key is None:
        raise AgentExit(EXIT_USAGE, f"no CI key: pass --ci-key or set {inputs.CI_KEY_ENV}")
    try:
        outputs = (
            inputs.from_bundle(args.bundle)
            if args.bundle
            else inputs.BuildOutputs.model_validate_json(args.build.read_text())
        )
        key = inputs.load_ci_key(args.ci_key)
        build = inputs.build_artifact(outputs)
        audit = inputs.security_audit(outputs, key)
        request = inputs.deployment_request(
            build, audit, environment=args.environment, release_tag=args.release_tag,
            commit_sha=args.commit_sha, commit_time=args.commit_time, reason=args.reason,
        )  # fmt: skip
    except (OSError, ValueError, ValidationError) as exc:
        raise AgentExit(EXIT_REFUSED, f"refused before asking the plane: {exc}") from None
    verdict = "passed" if audit.passed else "FAILED: " + "; ".join(audit.failed_checks())
    say(f"{request.release} -> {request.environment.value}: security audit {verdict}, signed")
    return request.model_dump(mode="json", exclude_none=True)


def follow(client: ControlPlaneClient, dep: DeploymentOut, args: argparse.Namespace) -> Any:
    """The deployment's last state: through its rollout, and through review if asked."""
    deadline = time.monotonic() + args.timeout
    state: Any = dep
    seen: set[str] = set()

    def progress(current: dict[str, Any]) -> None:
        step = current.get("step")
        if step and step not in seen:
            seen.add(step)
            say(f"  {current['status']}: {step}")

    while True:
        left = max(0.0, deadline - time.monotonic())
        state = client.wait(state, timeout_s=left, poll_s=0.3, on_update=progress)
        if state["status"] != "pending_approval" or not args.await_approval or left <= 0:
            return state
        time.sleep(1.0)  # humans review; poll slowly
        state = client.get_deployment(state["id"])
        if state["status"] == "pending_approval" and time.monotonic() >= deadline:
            return state


def main(argv: list[str] | None = None) -> int:
    """Prepare, submit, follow, and exit with what happened."""
    args = parse(argv)
    body = prepare(args)
    with connect() as client:
        dep = client.deploy(
            body.pop("service"), body.pop("environment"), body.pop("release"), **body
        )
        say(dep["message"])
        state = follow(client, dep, args)
        code = finish("deployment", state, client)
    if args.json:
        emit(state)
    return code


if __name__ == "__main__":
    run(main)
