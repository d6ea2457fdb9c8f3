"""One grammar: list and show per noun, ids as printed, one --env and --reason, JSON errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer
from typer._click import Command, Context
from typer.core import TyperGroup
from typer.testing import Result

from controlplane.cli.grammar import (
    ENV_ALIASES,
    HIDDEN_ALIASES,
    Env,
    parse_env,
    pick,
    with_hidden_aliases,
)
from controlplane.cli.main import app as opsctl_app
from controlplane.client import ControlPlaneClient
from controlplane.errors import BadRequest, NotFound
from controlplane.policy.models import Environment

from .conftest import Opsctl

# Nouns that do not hold a list of records, and why.
NOT_LIST_AND_SHOW = {
    "policy": "one policy is in force: `policy show` shows it and there is nothing to list",
}
# Required values for the walk; anything else gets "x" (an id that resolves against the plane).
VALUES = {"env": "dev", "severity": "P4", "ttl": "5m", "seq": "1", "artifact": "x@sha256:ab"}
# Commands that fail before reaching the plane need their own failing arguments.
OFFLINE_FAILURES = {
    "up": ["--host", "0.0.0.0"],
    "policy lint": ["--dir", "{missing}"],
    "policy test": ["--dir", "{missing}"],
    "policy explain": ["deploy", "--env", "dev", "--dir", "{missing}"],
    "release build": ["bankchurn", "--artifact", "{missing}"],
    "audit verify": ["--file", "{missing}"],
}


def _commands(
    group: TyperGroup, ctx: Context, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, Command]]:
    """Every command under a group, as ('noun verb', command), recursively."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, TyperGroup):
            yield from _commands(command, ctx, (*path, name))
        else:
            yield " ".join((*path, name)), command


def _root() -> tuple[TyperGroup, Context]:
    root = typer.main.get_command(opsctl_app)
    assert isinstance(root, TyperGroup)
    return root, Context(root)


def _failing_args(path: str, command: Command, missing: Path) -> list[str]:
    """Arguments that make a command fail: its required values, against a plane that is down."""
    if path in OFFLINE_FAILURES:
        return [a.format(missing=missing) for a in OFFLINE_FAILURES[path]]
    args: list[str] = []
    for param in command.params:
        if not param.required or param.name is None:
            continue
        value = VALUES.get(param.name, "x")
        args += [param.opts[0], value] if param.param_type_name == "option" else [value]
    return args


def _one_json_error(result: Result) -> dict[str, object]:
    """The error of a result whose stdout must be exactly one JSON document."""
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), result.stdout
    error: dict[str, object] = doc["error"]
    assert error["code"] and error["message"]
    return error


def test_every_command_with_json_prints_one_json_error_on_stdout(
    offline_opsctl: Opsctl, tmp_path: Path
) -> None:
    root, ctx = _root()
    walked = []
    for path, command in _commands(root, ctx):
        assert any("--json" in p.opts for p in command.params), f"{path} has no --json"
        args = [*path.split(), *_failing_args(path, command, tmp_path / "missing"), "--json"]
        result = offline_opsctl(*args)
        assert result.exit_code != 0, (args, result.output)
        _one_json_error(result)
        walked.append(path)
    assert {"deploy", "decide", "services", "deployments show", "up"} <= set(walked)
    assert len(walked) >= 35


def test_usage_errors_are_json_with_json_too(offline_opsctl: Opsctl) -> None:
    bad_env = offline_opsctl("deploy", "bankchurn", "--env", "moon", "-a", "x", "--json")
    assert bad_env.exit_code == 2
    error = _one_json_error(bad_env)
    assert error["code"] == "usage_error" and "unknown environment 'moon'" in str(error["message"])
    missing = offline_opsctl("decide", "deploy", "--json")
    assert missing.exit_code == 2 and "--env" in str(_one_json_error(missing)["message"])


def test_every_noun_has_list_and_show_and_bare_means_list(offline_opsctl: Opsctl) -> None:
    root, ctx = _root()
    nouns = [n for n in root.list_commands(ctx) if isinstance(root.get_command(ctx, n), TyperGroup)]
    assert len(nouns) >= 9
    for name in nouns:
        group = root.get_command(ctx, name)
        assert isinstance(group, TyperGroup)
        if name in NOT_LIST_AND_SHOW:
            continue
        assert {"list", "show"} <= set(group.list_commands(ctx)), name
        bare = offline_opsctl(name, "--json")  # runs `list`: it reaches for the plane
        assert bare.exit_code == 1 and _one_json_error(bare)["code"] == "unavailable", name


def test_plane_errors_print_readable_detail_lines(opsctl: Opsctl) -> None:
    result = opsctl("signals", "set", "nope", "--ttl", "5m", "--reason", "typo here")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error (invalid_request): ")
    assert "  errors:" in lines and any(line.startswith("    - field: path.name") for line in lines)
    assert "{'" not in result.stderr and "[{" not in result.stderr


def test_prod_means_production_everywhere() -> None:
    assert parse_env("prod") is Env.production and parse_env(" Local ") is Env.dev
    for spelling in [*ENV_ALIASES, *(e.value for e in Env)]:
        assert parse_env(spelling).value == Environment.parse(spelling).value, spelling


def test_reason_is_the_one_name_and_old_names_stay_hidden(offline_opsctl: Opsctl) -> None:
    for command in (["reject"], ["approve"], ["incidents", "resolve"], ["token", "revoke"]):
        shown = offline_opsctl(*command, "--help").stdout
        assert "--reason" in shown, command
        assert not any(old in shown for old in ("--comment", "--resolution")), command
    assert set(HIDDEN_ALIASES.values()) == {"--reason"}


def test_old_flag_names_still_work(opsctl: Opsctl, plane_url: str, admin_token: str) -> None:
    with ControlPlaneClient(plane_url, admin_token) as client:
        incident = client.open_incident("P4", "disk 80%", "bankchurn", environment="dev")
        other = client.open_incident("P4", "disk 85%", "bankchurn", environment="dev")
    old = opsctl("incidents", "resolve", incident["id"][:12], "--resolution", "cleaned up")
    assert old.exit_code == 0, old.output
    new = opsctl("incidents", "resolve", other["id"][:12], "--reason=pruned logs", "--json")
    assert new.exit_code == 0, new.output
    assert json.loads(new.stdout)["resolution"] == "pruned logs"
    shown = json.loads(opsctl("incidents", "show", incident["id"][:12], "--json").stdout)
    assert shown["resolution"] == "cleaned up"


def test_an_ambiguous_prefix_lists_the_candidates(
    opsctl: Opsctl, plane_url: str, admin_token: str
) -> None:
    with ControlPlaneClient(plane_url, admin_token) as client:
        ids = [client.open_incident("P4", f"noise {i}")["id"] for i in range(17)]
    first = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    result = opsctl("incidents", "show", first)  # 17 ids, 16 first characters: one is shared
    assert result.exit_code == 1
    assert f"matches for incident '{first}'; type more of it" in result.stderr
    assert "  candidates:" in result.stderr
    as_json = opsctl("incidents", "show", first, "--json")
    assert as_json.exit_code == 1 and _one_json_error(as_json)["code"] == "bad_request"


def test_pick_takes_a_unique_start_only() -> None:
    ids = ["abc123", "abd456", "ffff00"]
    assert pick("ff", ids, "token") == "ffff00"
    assert pick("abc123", ids, "token") == "abc123"
    for prefix, error in (("ab", BadRequest), ("zz", NotFound), (" ", BadRequest)):
        try:
            pick(prefix, ids, "token")
        except (BadRequest, NotFound) as exc:
            assert isinstance(exc, error), prefix
        else:
            raise AssertionError(f"{prefix!r} should not resolve")


def test_nouns_show_records_by_the_id_they_print(opsctl: Opsctl) -> None:
    opsctl("decide", "deploy", "--env", "dev")
    last = json.loads(opsctl("audit", "--newest-first", "--json").stdout)["data"][0]
    record = json.loads(opsctl("audit", "show", str(last["seq"]), "--json").stdout)
    assert record == last and record["operation"] == "deploy"
    assert f"audit record {last['seq']}: deploy" in opsctl("audit", "show", str(last["seq"])).stdout
    assert opsctl("audit", "show", "999999").exit_code == 1
    created = json.loads(opsctl("token", "create", "bot", "--kind", "agent", "--json").stdout)
    token_id = str(created["token_id"])
    listed = opsctl("token", "list").stdout
    printed = next(line.split()[0] for line in listed.splitlines() if " bot " in line)
    assert printed == token_id[:12]
    assert created["token"] not in opsctl("token", "show", printed).stdout
    assert json.loads(opsctl("token", "show", printed, "--json").stdout)["identity"] == "bot"
    assert json.loads(opsctl("identity", "show", "bo", "--json").stdout)["name"] == "bot"
    assert "incident_active: " in opsctl("signals", "show", "incident").stdout


def test_version_and_completion() -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    version = runner.invoke(opsctl_app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("opsctl 0.")
    shown = runner.invoke(opsctl_app, ["--help"]).stdout
    assert "--install-completion" in shown and "--show-completion" in shown


def test_hidden_aliases_are_rewritten_before_the_separator_only() -> None:
    root, ctx = _root()
    reject = root.get_command(ctx, "reject")
    args = ["abc", "--comment", "no", "-m", "no", "--comment=no", "--", "--comment"]
    assert with_hidden_aliases(reject, args) == [
        "abc", "--reason", "no", "--reason", "no", "--reason=no", "--", "--comment",
    ]  # fmt: skip
    decide = root.get_command(ctx, "decide")  # no --reason: nothing to alias
    assert with_hidden_aliases(decide, ["--comment", "x"]) == ["--comment", "x"]
