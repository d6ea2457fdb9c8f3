"""`opsctl`: the command line of the control plane, one module per noun.

Only typer and light helpers load at start-up so `opsctl --help` stays fast; each command
imports the HTTP client or the pure policy modules when it runs. Add a noun by writing
`controlplane/cli/<noun>.py` (its Typer from `grammar.noun`, with `list` and `show ID`) and
registering it below; `grammar` holds the shared `--env`, `--reason` and id-prefix rules.
"""

from __future__ import annotations

from typing import Annotated

import typer

from controlplane.cli import (
    actions,
    approvals,
    audit,
    decide,
    deploy,
    dora,
    identity,
    incidents,
    logs,
    mcp,
    policy,
    releases,
    runs,
    services,
    signals,
    token,
    up,
    whoami,
)
from controlplane.cli.grammar import OpsctlGroup

DISTRIBUTION = "mlops-controlplane"  # pyproject.toml [project] name

app = typer.Typer(
    name="opsctl",
    help="Govern ops actions on ML services: decide AUTO / CONSULT / STOP, explain why, audit it.",
    cls=OpsctlGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    """`opsctl --version`: the installed package's version, then exit."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"opsctl {version(DISTRIBUTION)}")
    except PackageNotFoundError:
        typer.echo("opsctl (version unknown: the package is not installed)")
    raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Govern ops actions on ML services: decide AUTO / CONSULT / STOP, explain why, audit it."""


# Commands are listed before groups in --help, each in the order registered here.
app.command("up")(up.up)
app.command("decide")(decide.decide)
app.command("deploy")(deploy.deploy)
app.command("approve")(approvals.approve)
app.command("reject")(approvals.reject)
app.command("services")(services.services)
app.command("logs")(logs.logs)
app.command("run")(runs.run)
app.command("releases")(releases.releases)
app.command("whoami")(whoami.whoami)
app.command("dora")(dora.dora)
app.command("mcp")(mcp.mcp)
app.add_typer(deploy.deployments, name="deployments")
app.add_typer(approvals.app, name="approvals")
app.add_typer(releases.app, name="release")
app.add_typer(signals.app, name="signals")
app.add_typer(policy.app, name="policy")
app.add_typer(audit.app, name="audit")
app.add_typer(incidents.app, name="incidents")
app.add_typer(token.app, name="token")
app.add_typer(identity.app, name="identity")
app.add_typer(actions.app, name="actions")
app.add_typer(runs.app, name="runs")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
