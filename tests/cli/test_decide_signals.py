"""`opsctl decide` and `opsctl signals` against a real plane over HTTP (issue 2 walkthrough)."""

from __future__ import annotations

import json

from .conftest import Opsctl

DECISION_FIELDS = {
    "decision_id",
    "operation",
    "environment",
    "service",
    "actor",
    "base_mode",
    "final_mode",
    "signals",
    "reasons",
    "required_approvals",
    "policy_version",
    "counterfactual",
}


def test_decide_production_deploy_prints_stop_with_reasons(opsctl: Opsctl) -> None:
    result = opsctl("decide", "deploy", "--env", "production", "--service", "bankchurn")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0].startswith("STOP  deploy in production for bankchurn")
    assert "base mode           STOP" in out
    assert "required approvals  2" in out
    assert "recorded, audit seq 1" in out
    for section in ("Signals", "Why", "What would change it"):
        assert section in out
    assert "error_budget_exhausted  disabled" in out  # disabled is listed, never hidden


def test_decide_json_carries_every_decision_field(opsctl: Opsctl) -> None:
    result = opsctl("decide", "deploy", "--env", "dev", "--service", "bankchurn", "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision.keys() >= DECISION_FIELDS
    assert (decision["base_mode"], decision["final_mode"]) == ("AUTO", "AUTO")
    assert {s["name"] for s in decision["signals"]} >= {"incident_active", "off_hours"}
    assert all({"state", "source"} <= s.keys() for s in decision["signals"])


def test_dry_run_is_not_recorded(opsctl: Opsctl) -> None:
    result = opsctl("decide", "deploy", "--env", "dev", "--dry-run", "--json")
    assert json.loads(result.stdout)["recorded"] is False


def test_context_options_reach_the_rules(opsctl: Opsctl) -> None:
    args = ["decide", "ci.autofix", "--env", "dev", "--json"]
    args += ["-c", "files_changed=13", "-c", "lines_changed=40", "-c", 'paths=["README.md"]']
    decision = json.loads(opsctl(*args).stdout)
    assert decision["final_mode"] == "STOP"
    assert "ci-autofix-large" in decision["rules_fired"]


def test_incident_override_raises_dev_deploy_to_consult_and_clears(opsctl: Opsctl) -> None:
    set_ = opsctl("signals", "set", "incident_active", "--ttl", "30m", "--reason", "P1 5xx")
    assert set_.exit_code == 0, set_.output
    assert "incident_active is active until" in set_.stdout
    decided = opsctl("decide", "deploy", "--env", "dev", "--service", "bankchurn")
    assert decided.stdout.startswith("CONSULT  deploy in dev")
    assert "CONSULT (raised from base)" in decided.stdout
    assert "would be AUTO without incident_active" in decided.stdout

    listed = json.loads(opsctl("signals", "list", "--json").stdout)
    incident = next(s for s in listed["data"] if s["name"] == "incident_active")
    assert (incident["state"], incident["source"]) == ("active", "override")
    assert "incident_active         active    override" in opsctl("signals", "list").stdout

    cleared = opsctl("signals", "clear", "incident_active")
    assert cleared.exit_code == 0, cleared.output
    assert "cleared 1 override of incident_active" in cleared.stdout
    listed = json.loads(opsctl("signals", "list", "--json").stdout)
    assert next(s for s in listed["data"] if s["name"] == "incident_active")["state"] == "inactive"


def test_unknown_signal_exits_1_naming_the_field(opsctl: Opsctl) -> None:
    result = opsctl("signals", "set", "incident_activ", "--ttl", "30m", "--reason", "typo")
    assert result.exit_code == 1
    assert "error (invalid_request): path.name: Input should be 'incident_active'" in result.stderr
    assert result.stdout == ""


def test_bad_ttl_is_refused_with_the_field(opsctl: Opsctl) -> None:
    result = opsctl("signals", "set", "incident_active", "--ttl", "forever", "--reason", "x y z")
    assert result.exit_code == 1
    assert "ttl" in result.stderr


def test_p1_incident_turns_incident_active_on_until_resolved(opsctl: Opsctl) -> None:
    args = ("bankchurn 5xx", "-p", "P1", "-s", "bankchurn", "--env", "dev", "--json")
    opened = opsctl("incidents", "open", *args)
    assert opened.exit_code == 0, opened.output
    incident_id = json.loads(opened.stdout)["id"]
    listed = opsctl("incidents", "list", "--status", "open").stdout
    assert incident_id[:12] in listed and incident_id not in listed  # printed as 12 characters
    decision = json.loads(opsctl("decide", "deploy", "--env", "dev", "--json").stdout)
    assert decision["final_mode"] == "CONSULT"
    resolved = opsctl("incidents", "resolve", incident_id[:12], "-r", "rolled back")
    assert resolved.exit_code == 0, resolved.output
    decision = json.loads(opsctl("decide", "deploy", "--env", "dev", "--json").stdout)
    assert decision["final_mode"] == "AUTO"
