"""`opsctl policy`: lint, test and explain policy files offline; show what the plane runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    JsonOpt,
    ServiceOpt,
    emit_json,
    fail,
    parse_pairs,
    plane,
    table,
)
from controlplane.cli.decide import ContextOpt, render_decision
from controlplane.cli.grammar import EnvOpt, NounGroup

if TYPE_CHECKING:
    from controlplane.policy.compiled import CompiledPolicy
    from controlplane.policy.loader import PolicyError
    from controlplane.risk.signals import SignalReading

app = typer.Typer(
    help="Lint, test and explain policies (offline); show the plane's policy.",
    cls=NounGroup,
    no_args_is_help=True,
)

DirOpt = Annotated[
    Path,
    typer.Option(
        "--dir", "-d", envvar="CONTROLPLANE_POLICY_DIR", help="Policy directory.", show_default=True
    ),
]
SignalOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--signal",
        help="Signal state name=active|inactive|unknown|disabled, repeatable (others: inactive).",
        metavar="NAME=STATE",
    ),
]
DEFAULT_DIR = Path("policies")


def _load(directory: Path, json_out: bool) -> CompiledPolicy:
    """Load and validate a policy directory, or exit 1 naming file, line and field."""
    from controlplane.policy.loader import PolicyError, load_policy

    try:
        return load_policy(directory)
    except PolicyError as exc:
        _report_policy_error(exc, json_out)
        raise typer.Exit(EXIT_REFUSED) from None


def _report_policy_error(exc: PolicyError, json_out: bool) -> None:
    """Say where a policy is wrong, for people (stderr) or scripts (stdout JSON)."""
    where = {"file": exc.file, "line": exc.line, "field": exc.field, "reason": exc.reason}
    if json_out:
        error = {"code": "policy_invalid", "message": f"policy invalid: {exc}", "details": where}
        emit_json({"ok": False, "error": error})
    typer.echo(f"policy invalid: {exc}", err=True)


@app.command("lint")
def lint(directory: DirOpt = DEFAULT_DIR, json_out: JsonOpt = False) -> None:
    """Validate the policy files strictly; name file, line and field of the first problem."""
    policy = _load(directory, json_out)
    operations = len(policy.modes.operations)
    if json_out:
        emit_json(
            {
                "ok": True,
                "directory": str(directory),
                "version": policy.version,
                "operations": operations,
                "signals": sorted(policy.signals.signals),
            }
        )
        return
    typer.echo(
        f"ok: {directory} is valid ({operations} operations, policy version {policy.version[:12]})"
    )


@app.command("test")
def test(directory: DirOpt = DEFAULT_DIR, json_out: JsonOpt = False) -> None:
    """Run the table tests in <dir>/tests/*.yaml against the policy, like `opa test`."""
    from controlplane.policy.loader import PolicyError
    from controlplane.policy.testing import run_policy_tests

    try:
        report = run_policy_tests(directory)
    except PolicyError as exc:
        _report_policy_error(exc, json_out)
        raise typer.Exit(EXIT_REFUSED) from None
    if json_out:
        emit_json(
            {
                "ok": report.ok,
                "total": report.total,
                "passed": report.total - len(report.failures),
                "failures": [vars(f) for f in report.failures],
                "operations": sorted(report.operations),
                "signals": sorted(report.signals),
            }
        )
    else:
        typer.echo(report.render())
        typer.echo(
            f"covering {len(report.operations)} operations and {len(report.signals)} signals"
        )
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


@app.command("explain")
def explain(
    operation: Annotated[str, typer.Argument(help="Operation to decide about.")],
    env: EnvOpt,
    service: ServiceOpt = None,
    signal: SignalOpt = None,
    context: ContextOpt = None,
    actor_kind: Annotated[
        str, typer.Option("--actor-kind", help="human, agent, ci or service.")
    ] = "human",
    directory: DirOpt = DEFAULT_DIR,
    json_out: JsonOpt = False,
) -> None:
    """Decide offline with the pure engine on given signals; nothing is sent or recorded."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from controlplane.policy.engine import decide
    from controlplane.policy.models import DecisionInput

    now = datetime.now(UTC)
    readings = _readings(signal or [], now)
    ctx = parse_pairs(context or [], "--context")
    policy = _load(directory, json_out)
    try:
        inp = DecisionInput(
            operation=operation,
            environment=env.value,
            service=service,
            actor="opsctl-explain",
            actor_kind=actor_kind,
            context=ctx,
        )
    except ValidationError as exc:
        raise fail(_first_error(exc), EXIT_USAGE) from None
    decision = decide(inp, readings, policy, decision_id="offline", now=now).model_dump(mode="json")
    if json_out:
        emit_json(decision)
    else:
        typer.echo(
            render_decision(
                decision, note=f"offline from {directory}; signals not given are assumed inactive"
            )
        )


def _readings(items: list[str], now: Any) -> list[SignalReading]:
    """All five signals: the ones given on the command line, the rest assumed inactive."""
    from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState

    given = parse_pairs(items, "--signal")
    unknown = sorted(set(given) - set(SIGNAL_NAMES))
    if unknown:
        raise typer.BadParameter(
            f"unknown signal {', '.join(unknown)}; expected {', '.join(SIGNAL_NAMES)}",
            param_hint="--signal",
        )
    states = {s.value: s for s in SignalState}
    readings = []
    for name in SIGNAL_NAMES:
        raw = str(given.get(name, "inactive"))
        if raw not in states:
            raise typer.BadParameter(
                f"{name}={raw}: state must be one of {', '.join(states)}", param_hint="--signal"
            )
        source = "command line" if name in given else "assumed"
        readings.append(SignalReading(name, states[raw], source, now))
    return readings


def _first_error(exc: Any) -> str:
    """The first pydantic error as `field: reason`."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "input"
    return f"{field}: {err.get('msg', 'invalid')}"


@app.command("show")
def show(json_out: JsonOpt = False) -> None:
    """Show the policy the running plane enforces: version and base modes per environment."""
    with plane() as client:
        info = client.policies()
    if json_out:
        emit_json(info)
        return
    version = (info.get("version") or "none loaded")[:12]
    typer.echo(f"policy {version} from {info['directory']}")
    if info.get("last_error"):
        typer.echo(f"last refused edit: {info['last_error']}")
    envs = ("dev", "staging", "production")
    rows = [(op, *(modes.get(e) for e in envs)) for op, modes in info["operations"].items()]
    typer.echo(table(("operation", *envs), rows))
