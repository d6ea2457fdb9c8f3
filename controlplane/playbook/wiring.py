"""Builds the playbook parts of one plane: actions, playbooks, tools, the runner and its worker."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from controlplane.adapters.notify import LogNotifier
from controlplane.adapters.secrets import LocalSecretStore, SecretStore
from controlplane.adapters.secrets_aws import AwsSecretStore
from controlplane.adapters.secrets_gcp import GcpSecretStore
from controlplane.adapters.service_http import HttpxServiceHttp
from controlplane.adapters.silence import AlertSilencer, EmbeddedSilencer
from controlplane.adapters.silence_alertmanager import AlertmanagerSilencer
from controlplane.config import Settings
from controlplane.governance.service import Door
from controlplane.playbook.actions import registry
from controlplane.playbook.actions.base import Action, ActionRegistry
from controlplane.playbook.journal import Progress
from controlplane.playbook.loader import PlaybookStore
from controlplane.playbook.runner import Runner
from controlplane.playbook.tools import Tools
from controlplane.playbook.worker import RunWorker
from controlplane.workload.wiring import Workloads

log = logging.getLogger(__name__)


@dataclass
class PlaybookParts:
    """What the app keeps for playbooks."""

    actions: ActionRegistry
    store: PlaybookStore
    tools: Tools
    runner: Runner
    worker: RunWorker


def replica_name() -> str:
    """Who holds a lease: host, process and a random suffix (a restarted process is new)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def extra_actions(entries: str) -> list[Action[Any, Any]]:
    """Actions from `module:function` entries (a bad entry stops the plane: fail closed)."""
    found: list[Action[Any, Any]] = []
    for entry in (e.strip() for e in entries.split(",") if e.strip()):
        module, _, function = entry.partition(":")
        try:
            made = getattr(importlib.import_module(module), function)()
        except (ImportError, AttributeError, TypeError) as exc:
            raise ValueError(f"playbook_actions entry {entry!r}: {exc}") from exc
        found.extend(made)
    return found


def _chat_progress(settings: Settings) -> Callable[[Progress], None]:
    """Post a run's progress to the chat thread it came from (off the runner's thread)."""
    from controlplane.chat.slack import SlackResponsePoster

    hosts = tuple(h.strip() for h in settings.slack_response_hosts.split(",") if h.strip())
    poster = SlackResponsePoster(hosts)

    def tell(progress: Progress) -> None:
        if progress.reply_to:
            threading.Thread(target=_post, args=(poster, progress), daemon=True).start()

    return tell


def _post(poster: Any, progress: Progress) -> None:
    try:
        poster.post(progress.reply_to, progress.text, ephemeral=False)
    except Exception as exc:  # chat is news; the run goes on
        log.warning("could not post progress of %s: %s", progress.run_id, exc)


def playbook_parts(
    settings: Settings,
    *,
    engine: Engine,
    read_engine: Engine,
    door: Door,
    workloads: Workloads,
    operations: list[str],
) -> PlaybookParts:
    """Wire the runner with the plane's door and workloads and the embedded adapters."""
    actions = registry()
    for action in extra_actions(settings.playbook_actions):
        actions.add(action)
    store = PlaybookStore(
        settings.playbook_dir,
        actions,
        operations=operations,
        check_every_s=settings.policy_check_interval_s,
    )
    tools = Tools(
        engine=read_engine,
        clock=door.clock,
        audit=door.audit,
        door=door,
        workloads=workloads,
        http=HttpxServiceHttp(),
        secrets=secret_store_for(settings),
        silencer=silencer_for(settings, door.clock.now),
        notifier=LogNotifier(),
        settings=settings,
        state_dir=settings.state_dir,
        python=sys.executable,
    )
    runner = Runner(
        engine=engine,
        door=door,
        actions=actions,
        tools=tools,
        owner=replica_name(),
        lease_s=settings.run_lease_s,
        on_progress=_chat_progress(settings),
    )
    worker = RunWorker(runner, poll_s=settings.run_poll_s)
    return PlaybookParts(actions, store, tools, runner, worker)


__all__ = ["PlaybookParts", "Progress", "playbook_parts", "replica_name"]


def silencer_for(settings: Settings, now: Callable[[], datetime]) -> AlertSilencer:
    """Alertmanager's API when one is configured, else the embedded record of silences."""
    if settings.alertmanager_url:
        return AlertmanagerSilencer(settings.alertmanager_url, clock=now)
    return EmbeddedSilencer(settings.state_dir / "silences.json", now)


def secret_store_for(settings: Settings) -> SecretStore:
    """The configured secret manager; the local encrypted store by default."""
    if settings.secret_store == "aws":
        return AwsSecretStore.connect(settings.aws_region or "", settings.aws_secrets_endpoint_url)
    if settings.secret_store == "gcp":
        return GcpSecretStore.connect(
            settings.gcp_project or "", endpoint=settings.gcp_secrets_endpoint
        )
    return LocalSecretStore(settings.state_dir / "secrets")
