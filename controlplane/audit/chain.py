"""Pure hash-chain rules: the canonical form of a record, its hash, and chain verification.

The canonical form *is* the seed-compatible export line (without `hash`), so a JSONL export can be
verified on its own, line by line, with the same code that verifies the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

GENESIS = "0" * 64
ESCALATING_STATES = frozenset({"active", "unknown"})


def canonical_bytes(obj: Any) -> bytes:
    """Deterministic JSON (orjson): sorted keys, no spaces, UTF-8, shortest float repr."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def canonical_json(obj: Any) -> str:
    """canonical_bytes as text (export lines)."""
    return canonical_bytes(obj).decode()


def risk_signal_names(signals: Sequence[Mapping[str, Any]]) -> list[str]:
    """Seed `risk_signals`: names of the signals that were active (or unknown) at the time."""
    return [str(s["name"]) for s in signals if s.get("state") in ESCALATING_STATES]


def export_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Map stored columns to the seed field names plus ours (everything the hash covers)."""
    approvers = list(fields.get("approvers") or [])
    signals = list(fields.get("signals") or [])
    return {
        "seq": fields["seq"],
        "audit_id": fields["id"],
        "timestamp": fields["ts"],
        "agent": fields["actor"],
        "actor_kind": fields["actor_kind"],
        "operation": fields["operation"],
        "environment": fields.get("environment"),
        "service": fields.get("service"),
        "base_mode": fields.get("base_mode"),
        "mode": fields.get("final_mode"),
        "risk_signals": risk_signal_names(signals),
        "signals": signals,
        "decision_id": fields.get("decision_id"),
        "approver": ", ".join(approvers) if approvers else None,
        "approvers": approvers,
        "result": fields["result"],
        "inputs": fields.get("inputs") or {},
        "outputs": fields.get("outputs") or {},
        "policy_version": fields.get("policy_version"),
        "prev_hash": fields["prev_hash"],
    }


def record_hash(line: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an export line without its own `hash`."""
    body = {k: v for k, v in line.items() if k != "hash"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


@dataclass
class Problem:
    """One way the chain is broken, located precisely."""

    seq: int
    kind: str  # edited | missing | reordered | truncated | head_mismatch | checkpoint
    detail: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    """The outcome of walking the chain."""

    ok: bool = True
    records: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    checkpoints_checked: int = 0

    def add(self, problem: Problem, limit: int = 50) -> None:
        """Keep the first problems; one is enough to fail."""
        self.ok = False
        if len(self.problems) < limit:
            self.problems.append(problem)


class ChainWalker:
    """Feed export lines in storage order; it records every break it sees."""

    def __init__(self) -> None:
        self.report = VerifyReport()
        self._expected_seq = 1
        self._prev_hash = GENESIS
        self.hash_at: dict[int, str] = {}

    def feed(
        self, line: Mapping[str, Any], *, want_hashes_at: frozenset[int] = frozenset()
    ) -> None:
        """Check one line against its own hash and against its predecessor."""
        report = self.report
        seq = int(line.get("seq", -1))
        stored = str(line.get("hash", ""))
        report.records += 1
        if record_hash(line) != stored:
            report.add(Problem(seq, "edited", "content does not match its hash"))
        if seq != self._expected_seq:
            if seq > self._expected_seq:
                missing = f"{self._expected_seq}" + (
                    f"-{seq - 1}" if seq - 1 > self._expected_seq else ""
                )
                report.add(Problem(seq, "missing", f"record(s) {missing} missing before it"))
            else:
                report.add(Problem(seq, "reordered", f"expected seq {self._expected_seq}"))
        elif line.get("prev_hash") != self._prev_hash:
            report.add(
                Problem(seq, "reordered", "prev_hash does not match the previous record's hash")
            )
        if seq in want_hashes_at:
            self.hash_at[seq] = stored
        self._expected_seq = max(self._expected_seq, seq) + 1
        self._prev_hash = stored
        report.last_seq = max(report.last_seq, seq)
        report.head_hash = stored


def verify_lines(lines: Iterable[Mapping[str, Any]]) -> VerifyReport:
    """Verify a standalone sequence of export lines (e.g. a JSONL file)."""
    walker = ChainWalker()
    for line in lines:
        walker.feed(line)
    return walker.report
