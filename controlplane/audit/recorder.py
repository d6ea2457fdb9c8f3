"""The one entrance to the audit log for domains: record in a transaction, alone, or a refusal.

Domains receive a `Recorder` as their `audit=` collaborator and never touch the engine behind it
(`audit/commit/`): a record either commits in the caller's transaction, with the change it
describes, or (a decision, a refusal: the record is the whole effect) is group-committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlmodel import Session

from controlplane.audit.commit.batcher import Committer
from controlplane.audit.commit.sql import append_in_session
from controlplane.audit.models import RESULTS, Appended
from controlplane.audit.redact import sanitize
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, iso
from controlplane.errors import InvalidSpec
from controlplane.metrics import PlaneMetrics


class Actor(Protocol):
    """Who a record is about: any principal with a name and a kind."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


def make_entry(
    *,
    actor: str,
    actor_kind: str,
    operation: str,
    result: str,
    environment: str | None = None,
    service: str | None = None,
    base_mode: str | None = None,
    final_mode: str | None = None,
    signals: Sequence[Mapping[str, Any]] = (),
    decision_id: str | None = None,
    approvers: Sequence[str] = (),
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    policy_version: str | None = None,
) -> dict[str, Any]:
    """Validate and redact one entry before it is chained (no I/O, so it can fail early)."""
    if result not in RESULTS:
        raise InvalidSpec(f"audit result {result!r} is not one of {', '.join(RESULTS)}")
    return {
        "id": uuid.uuid4().hex,
        "actor": actor,
        "actor_kind": actor_kind,
        "operation": operation,
        "environment": environment,
        "service": service,
        "base_mode": base_mode,
        "final_mode": final_mode,
        "signals": sanitize(list(signals)),
        "decision_id": decision_id,
        "approvers": list(approvers),
        "result": result,
        "inputs": sanitize(dict(inputs or {})),
        "outputs": sanitize(dict(outputs or {})),
        "policy_version": policy_version,
    }


class Recorder:
    """Writes audit records for the plane's domains, counting appends and failures."""

    def __init__(
        self,
        *,
        clock: Clock,
        signer: Signer,
        committer: Committer,
        checkpoint_every: Callable[[], int],
        policy_version: Callable[[], str | None],
        metrics: PlaneMetrics,
    ) -> None:
        self.clock = clock
        self._signer = signer
        self._committer = committer
        self._checkpoint_every = checkpoint_every
        self._policy_version = policy_version
        self._metrics = metrics

    @property
    def committer(self) -> Committer:
        """The group-commit engine behind standalone records (the writer thread or process)."""
        return self._committer

    def record(self, session: Session, actor: Actor, **fields: Any) -> Appended:
        """Append in the caller's transaction: the change and its record commit together."""
        entry = self.entry(actor, fields)
        with self._counted():
            [appended] = append_in_session(
                session,
                [entry],
                ts=iso(self.clock.now()),
                signer=self._signer,
                every=self._checkpoint_every(),
            )
            return appended

    def record_alone(self, actor: Actor, **fields: Any) -> Appended:
        """Record something whose only effect is the record, from a thread or script."""
        entry = self.entry(actor, fields)
        with self._counted():
            return self._committer.submit(entry)

    async def record_alone_async(self, actor: Actor, **fields: Any) -> Appended:
        """The same as record_alone, awaited on the event loop (group-committed)."""
        entry = self.entry(actor, fields)
        with self._counted():
            return await self._committer.append(entry)

    def entry(self, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A validated, redacted entry for this actor, bound to the policy in force."""
        fields = dict(fields)
        fields.setdefault("policy_version", self._policy_version())
        return make_entry(actor=actor.name, actor_kind=actor.kind, **fields)

    @contextmanager
    def _counted(self) -> Iterator[None]:
        """Count appends and failures (a failure still propagates: fail closed)."""
        try:
            yield
        except Exception:
            self._metrics.audit_failures.inc()
            raise
        self._metrics.audit_appends.inc()

    def close(self) -> None:
        """Finish what the group-commit engine holds, then stop it."""
        self._committer.close()
