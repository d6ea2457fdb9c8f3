"""`opsctl up`: run the plane on loopback and say, once it answers, where everything is."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import EXIT_USAGE, JsonOpt, fail

if TYPE_CHECKING:
    from types import FrameType

    import uvicorn
    from fastapi import FastAPI

    from controlplane.config import Settings
    from controlplane.monitoring.stack import MonitoringStack

log = logging.getLogger("controlplane.up")
Stop = Callable[[], int]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT/SIGTERM handlers that only record, so the clean-up after server.run always runs.

    uvicorn handles both while it serves, then restores the previous handlers and re-raises the
    signal: with the default SIGTERM handler that re-raise killed the plane before its clean-up.
    """

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._server: uvicorn.Server | None = None
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._record)

    def attach(self, server: uvicorn.Server) -> None:
        """Let a signal that came before the server existed stop it as soon as it starts."""
        self._server = server
        server.should_exit = server.should_exit or bool(self.received)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        """Note the signal and ask the server to stop; never raise (the clean-up must run)."""
        self.received.append(signal.Signals(signum))
        if self._server is not None:
            self._server.should_exit = True

    def reason(self) -> str:
        """` (SIGTERM)` when a signal stopped the plane, for the last log line."""
        return f" ({self.received[0].name})" if self.received else ""


def local_workloads_stopper(app: FastAPI, services: bool) -> Stop | None:
    """The local backend's stop_all, taken before serving so a stop at any moment reaches all."""
    backend = app.state.ctx.workloads.backend
    if not services or not hasattr(backend, "start") or not hasattr(backend, "stop_all"):
        return None
    stop_all: Stop = backend.stop_all
    return stop_all


def start_local_workloads(app: FastAPI, settings: Settings) -> None:
    """Adopt or restart recorded service processes, then deploy missing dev services (audited).

    Runs after the plane answers: each missing service gets its bundled initial release (trained
    in seconds on first use) deployed to dev through the API, like any other deployment.
    """
    threading.Thread(
        target=_bring_up_services, args=(app, settings), name="opsctl-services", daemon=True
    ).start()


def _bring_up_services(app: FastAPI, settings: Settings) -> None:
    """Wait for the plane, adopt what runs, deploy what is missing; log one line per service."""
    from controlplane.adapters.base import Target
    from controlplane.client import ControlPlaneClient
    from controlplane.deploy.facts import KNOWN_SERVICES
    from controlplane.errors import ControlPlaneError
    from controlplane.release.registry import ReleaseRegistry

    ctx = app.state.ctx
    for key, action in ctx.workloads.backend.start().items():
        log.info("service %s: %s", key, action)
    registry = ReleaseRegistry(settings.state_dir)
    base = f"http://{settings.host}:{settings.port}"
    token = settings.admin_token_path.read_text().strip()
    with ControlPlaneClient(base, token, timeout=180) as client:
        for service in KNOWN_SERVICES:
            status = ctx.workloads.backend.status(Target(service, "dev"))
            if status.state == "running":
                log.info("service %s/dev: running %s at %s", service, status.release, status.url)
                continue
            try:
                info = registry.ensure_initial(service)
                dep = client.deploy(
                    service=service,
                    environment="dev",
                    release=info.ref,
                    reason="initial release (opsctl up)",
                )
                log.info("service %s/dev: %s", service, dep.get("message") or dep.get("status"))
            except (ControlPlaneError, OSError, RuntimeError) as exc:
                log.error("service %s/dev not started: %s", service, exc)


def up(
    host: Annotated[
        str | None, typer.Option(help="Listen address (CONTROLPLANE_HOST; loopback only).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (CONTROLPLANE_PORT, default 8700).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    services: Annotated[
        bool,
        typer.Option(
            "--services/--no-services",
            help="With the local backend, also run the three ML services in dev (default on).",
        ),
    ] = True,
    monitoring: Annotated[
        bool | None,
        typer.Option(
            "--monitoring/--no-monitoring",
            help="Also run Prometheus and Alertmanager on loopback (default: when both are "
            "installed and CONTROLPLANE_PROMETHEUS_URL/_ALERTMANAGER_URL are unset).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Start the control plane (and, with the local backend, its services) in the foreground."""
    _configure_logging()
    settings = _settings(host, port)
    start_monitoring, why_not = _monitoring_wanted(monitoring, settings)
    sock = _bind(settings.host, settings.port)
    stops = StopSignals()
    stack = _start_monitoring(settings, sock) if start_monitoring else None
    try:
        if stack is not None:
            settings = _with_monitoring(settings, stack)
        from controlplane.app import create_app

        app = create_app(settings)
    except BaseException:
        if stack is not None:
            stack.stop()
        raise
    _serve(app, settings, stops, sock, services, access_log, json_out, stack, why_not)


def _serve(
    app: FastAPI,
    settings: Settings,
    stops: StopSignals,
    sock: socket.socket,
    services: bool,
    access_log: bool,
    json_out: bool,
    stack: MonitoringStack | None,
    why_not: str | None,
) -> None:
    """Serve until stopped, then stop everything `up` started."""
    stop_services = local_workloads_stopper(app, services)
    server = _server(app, access_log)
    stops.attach(server)
    from controlplane.app import tune_gc

    tune_gc()

    def ready() -> None:
        _banner(app, settings, json_out, why_not)
        if stack is not None:  # the services' ports are known only once each is deployed
            stack.follow()
        if stop_services is not None:
            start_local_workloads(app, settings)

    _announce_when_ready(server, ready)
    writer = getattr(app.state.ctx.audit.committer, "pid", None)  # gone once the app shuts down
    try:
        server.run(sockets=[sock])
    finally:
        stopped = _stop_everything(app, stop_services, writer, stack)
        log.info("control plane stopped%s: %s", stops.reason(), stopped)


def _stop_everything(
    app: FastAPI,
    stop_services: Stop | None,
    writer: int | None,
    stack: MonitoringStack | None = None,
) -> str:
    """Stop the services, the audit writer and database, then monitoring (each even if one
    before fails); say so.

    The app's own shutdown closes the writer first when uvicorn ran its lifespan; closing again
    is a no-op.
    """
    ctx = app.state.ctx
    monitored = 0
    try:
        try:
            count = stop_services() if stop_services is not None else None
        finally:
            ctx.close()
    finally:
        if stack is not None:
            monitored = stack.stop()
    done = (
        []
        if count is None
        else [f"{count} process{'es' * (count != 1)} (services and their fronts) stopped"]
    )
    if writer is not None:
        done.append(f"audit writer (pid {writer}) stopped")
    if stack is not None:
        done.append(f"monitoring ({monitored} of prometheus, alertmanager) stopped")
    return ", ".join(done) or "nothing else was running"


def _monitoring_wanted(flag: bool | None, settings: Settings) -> tuple[bool, str | None]:
    """Whether to start Prometheus and Alertmanager, and why error_budget_exhausted is off if not.

    `--monitoring` with a binary missing is an error; auto mode (no flag) starts them when both
    are installed and no external Prometheus or Alertmanager is configured.
    """
    from controlplane.monitoring.stack import INSTALL_HINT, missing_binaries

    missing = missing_binaries()
    if flag is True and missing:
        raise fail(
            f"--monitoring: {' and '.join(missing)} not found on PATH; install them with "
            f"`{INSTALL_HINT}`, or run without --monitoring"
        )
    if flag is True:
        return True, None
    if flag is None and (settings.prometheus_url or settings.alertmanager_url):
        return False, None  # the operator runs their own
    if flag is None and not missing:
        return True, None
    if settings.prometheus_url:
        return False, None
    if flag is False:
        return False, "--no-monitoring and no CONTROLPLANE_PROMETHEUS_URL"
    return False, (
        f"{' and '.join(missing)} not installed ({INSTALL_HINT}; `make run` then starts them)"
    )


def _start_monitoring(settings: Settings, sock: socket.socket) -> MonitoringStack:
    """Prometheus and Alertmanager, ready, for this plane; exit 1 with their log if not."""
    from controlplane.monitoring.stack import MonitoringError, MonitoringStack

    token = settings.alertmanager_token
    try:
        return MonitoringStack(
            settings.state_dir,
            plane_url=_base_url(settings),
            token=token.get_secret_value() if token else None,
        ).start()
    except MonitoringError as exc:
        sock.close()
        raise fail(str(exc)) from None


def _with_monitoring(settings: Settings, stack: MonitoringStack) -> Settings:
    """The plane reads error budgets from this Prometheus and accepts this Alertmanager's token."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "prometheus_url": stack.prometheus_url,
            "alertmanager_url": stack.alertmanager_url,
            "alertmanager_token": SecretStr(stack.token),
        }
    )


def _configure_logging() -> None:
    """Readable one-line logs on stderr, shared by the plane and uvicorn."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from controlplane.audit.redact import RedactingFilter

    for handler in logging.getLogger().handlers:  # access logs quote paths: no secret in clear
        handler.addFilter(RedactingFilter())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _settings(host: str | None, port: int | None) -> Settings:
    """Settings from the environment, with command-line overrides; refuse unsafe ones (exit 2)."""
    from pydantic import ValidationError

    from controlplane.config import Settings, get_settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        return Settings(**overrides) if overrides else get_settings()  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"invalid CONTROLPLANE_* settings: {problems}", EXIT_USAGE) from None


def _bind(host: str, port: int) -> socket.socket:
    """Take the port before the slow start-up, so a busy port fails fast and clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise fail(
            f"cannot listen on {host}:{port} ({exc.strerror}); is the plane already running "
            "(try `opsctl whoami`)? Otherwise set CONTROLPLANE_PORT or pass --port."
        ) from None
    return sock


def _server(app: FastAPI, access_log: bool) -> uvicorn.Server:
    """A uvicorn server that logs through our logging set-up."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, access_log=access_log, server_header=False)
    return uvicorn.Server(config)


def _announce_when_ready(server: uvicorn.Server, announce: Callable[[], None]) -> None:
    """Print the banner once uvicorn accepts connections (not before, so the URLs work)."""

    def watch() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        if not server.should_exit:
            announce()

    threading.Thread(target=watch, name="opsctl-banner", daemon=True).start()


def _banner(app: FastAPI, settings: Settings, json_out: bool, why_not: str | None = None) -> None:
    """Tell a newcomer where the docs, dashboard and admin token are, and what to try."""
    info = banner_info(app, settings, why_not)
    if json_out:
        typer.echo(json.dumps(info))
        return
    typer.echo(render_banner(info))


def _base_url(settings: Settings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def banner_info(app: FastAPI, settings: Settings, why_not: str | None = None) -> dict[str, Any]:
    """What the banner says, as data (also the `--json` output)."""
    base = _base_url(settings)
    has_dashboard = any(getattr(r, "path", None) == "/ui/static" for r in app.routes)
    prog = _prog()
    return {
        "url": base,
        "docs": f"{base}/docs",
        "dashboard": f"{base}/ui/" if has_dashboard else None,
        "admin_token_file": str(settings.admin_token_path.resolve()),
        "admin_token": app.state.ctx.admin_token,
        "prometheus": settings.prometheus_url,
        "alertmanager": settings.alertmanager_url,
        "error_budget_exhausted": (
            "enabled"
            if settings.prometheus_url
            else f"disabled: no Prometheus ({why_not or 'CONTROLPLANE_PROMETHEUS_URL unset'})"
        ),
        "env": _client_env(settings, base),
        "try": [
            f"{prog} decide deploy --env production --service bankchurn",
            f'{prog} signals set incident_active --ttl 30m --reason "trying opsctl"',
            f"{prog} audit verify",
        ],
    }


def render_banner(info: dict[str, Any]) -> str:
    """The banner as people read it."""
    lines = ["", f"control plane ready on {info['url']}", f"  API docs     {info['docs']}"]
    if info["dashboard"]:
        lines.append(f"  dashboard    {info['dashboard']} (log in with a token, e.g. the admin's)")
    lines.append(f"  admin token  {info['admin_token_file']} (mode 0600; the CLI reads it)")
    if info["admin_token"]:
        lines.append(f"  first start: admin token {info['admin_token']} (shown only this once)")
    if info.get("prometheus"):
        lines.append(f"  prometheus   {info['prometheus']}")
    if info.get("alertmanager"):
        lines.append(f"  alertmanager {info['alertmanager']}")
    if not info.get("prometheus") and info.get("error_budget_exhausted"):
        lines.append(f"  error_budget_exhausted is {info['error_budget_exhausted']}")
    lines += ["", "try, in another terminal in this folder:"]
    lines += [f"  export {k}={v}" for k, v in info["env"].items()]
    lines += [f"  {cmd}" for cmd in info["try"]]
    lines += ["", "Ctrl-C stops the plane.", ""]
    return "\n".join(lines)


def _client_env(settings: Settings, base: str) -> dict[str, str]:
    """The variables another shell needs when this plane is not at the defaults."""
    env: dict[str, str] = {}
    if base != "http://127.0.0.1:8700":
        env["CONTROLPLANE_URL"] = base
    if settings.state_dir != Path(".controlplane"):
        env["CONTROLPLANE_STATE_DIR"] = str(settings.state_dir)
    return env


def _prog() -> str:
    """`opsctl` when it is on PATH, else the path to it (e.g. .venv/bin/opsctl after make run)."""
    if shutil.which("opsctl"):
        return "opsctl"
    script = Path(sys.executable).parent / "opsctl"
    if not script.exists():
        return "opsctl"
    relative = os.path.relpath(script)
    return str(script) if relative.startswith("..") else relative
