"""`opsctl audit` (verify on the plane, export, offline verify of a copy) and `opsctl token`."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Opsctl


def _some_history(opsctl: Opsctl) -> None:
    """Make a few audited changes so the chain has something to prove: three decisions, then a
    raise of off_hours (a governed action: requested, then done), five records."""
    for env in ("dev", "staging", "production"):
        assert opsctl("decide", "deploy", "--env", env, "--service", "bankchurn").exit_code == 0
    assert opsctl("signals", "set", "off_hours", "--ttl", "5m", "--reason", "test").exit_code == 0


def test_audit_verify_on_the_plane_reports_a_verified_chain(opsctl: Opsctl) -> None:
    _some_history(opsctl)
    result = opsctl("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "5 records, chain verified" in result.stdout
    report = json.loads(opsctl("audit", "verify", "--json").stdout)
    assert report["ok"] is True and report["last_seq"] == 5


def test_audit_list_shows_records_with_filters(opsctl: Opsctl) -> None:
    _some_history(opsctl)
    table = opsctl("audit", "list", "--env", "production").stdout
    assert "production" in table and "staging" not in table
    page = json.loads(opsctl("audit", "list", "--limit", "2", "--json").stdout)
    assert [r["seq"] for r in page["data"]] == [1, 2] and page["next_cursor"] == 2
    assert "more: --cursor 2" in opsctl("audit", "list", "--limit", "2").stdout


def test_export_uses_seed_field_names_and_verifies_offline(opsctl: Opsctl, tmp_path: Path) -> None:
    _some_history(opsctl)
    exported = opsctl("audit", "export")
    assert exported.exit_code == 0, exported.output
    lines = exported.stdout.splitlines()
    assert len(lines) == 5
    seed = {
        "agent",
        "approver",
        "audit_id",
        "base_mode",
        "environment",
        "inputs",
        "mode",
        "operation",
        "outputs",
        "result",
        "risk_signals",
        "timestamp",
        "seq",
        "prev_hash",
        "hash",
    }
    assert seed <= json.loads(lines[0]).keys()
    copy = tmp_path / "audit.jsonl"
    copy.write_text(exported.stdout)
    result = opsctl("audit", "verify", "--file", str(copy))
    assert result.exit_code == 0, result.output
    assert "5 records, chain verified" in result.stdout


def test_a_tampered_export_line_is_named_by_seq_and_line(opsctl: Opsctl, tmp_path: Path) -> None:
    _some_history(opsctl)
    copy = tmp_path / "audit.jsonl"
    written = opsctl("audit", "export", "--output", str(copy))
    assert written.exit_code == 0 and "wrote 5 records" in written.stderr
    lines = copy.read_text().splitlines()
    record = json.loads(lines[2])
    record["mode"] = "AUTO"  # someone rewrites history: the production STOP becomes AUTO
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    copy.write_text("\n".join(lines) + "\n")

    result = opsctl("audit", "verify", "--file", str(copy))
    assert result.exit_code == 1
    assert "chain BROKEN" in result.stdout
    assert f"record 3 (line 3, audit_id {record['audit_id']}, deploy): edited" in result.stdout
    report = json.loads(opsctl("audit", "verify", "--file", str(copy), "--json").stdout)
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(3, "edited")]


def test_a_deleted_export_line_is_reported_missing(opsctl: Opsctl, tmp_path: Path) -> None:
    _some_history(opsctl)
    lines = opsctl("audit", "export").stdout.splitlines()
    copy = tmp_path / "audit.jsonl"
    copy.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    result = opsctl("audit", "verify", "--file", str(copy))
    assert result.exit_code == 1
    assert "record 3" in result.stdout and "missing" in result.stdout


def test_a_garbled_export_line_is_reported_by_line(opsctl: Opsctl, tmp_path: Path) -> None:
    copy = tmp_path / "audit.jsonl"
    copy.write_text('{"seq": 1}\nnot json\n')
    result = opsctl("audit", "verify", "--file", str(copy))
    assert result.exit_code == 1
    assert f"{copy}:2: not JSON" in result.stderr


def test_token_create_for_an_agent_and_use_it(opsctl: Opsctl) -> None:
    result = opsctl("token", "create", "deploy-bot", "--kind", "agent", "--role", "operator")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("token for deploy-bot (agent; operator)")
    token = result.stdout.splitlines()[1]
    assert token.startswith("cpt_")
    assert "shown once" in result.stderr
    me = opsctl("whoami", "--json", token=token)
    assert json.loads(me.stdout)["name"] == "deploy-bot"
    assert "deploy-bot  agent  operator" in opsctl("identity", "list").stdout
    listed = json.loads(opsctl("token", "list", "--json").stdout)
    assert [t["prefix"] for t in listed if t["identity"] == "deploy-bot"] == [token[:10]]
    assert token not in opsctl("token", "list").stdout


def test_token_create_json_and_role_checks(opsctl: Opsctl) -> None:
    issued = json.loads(opsctl("token", "create", "viewer-1", "--json").stdout)
    assert issued["roles"] == ["viewer"]
    refused = opsctl("decide", "deploy", "--env", "dev", token=issued["token"])
    assert refused.exit_code == 1
    assert "error (forbidden)" in refused.stderr and "operator" in refused.stderr
    not_admin = opsctl("token", "create", "x", token=issued["token"])
    assert not_admin.exit_code == 1 and "admin" in not_admin.stderr
