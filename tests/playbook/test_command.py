"""The slash-command grammar: what people type in Slack, the CLI and HTTP becomes typed inputs,
and every mistake comes back naming the field and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.deploy.facts import KNOWN_SERVICES
from controlplane.playbook import command as commands
from controlplane.playbook.command import Command, CommandError, bind, overview, parse, usage
from controlplane.playbook.routes import ENVIRONMENTS
from controlplane.playbook.spec import PlaybookSpec
from controlplane.policy.models import ALIASES

REPO = Path(__file__).resolve().parents[2]
SERVICES = tuple(KNOWN_SERVICES)
SERVICE = SERVICES[0]


def book(name: str) -> PlaybookSpec:
    """One of the repo's playbooks, as the loader validates it."""
    return PlaybookSpec.model_validate(
        yaml.safe_load((REPO / "playbooks" / f"{name}.yaml").read_text())
    )


def spec(*inputs: dict[str, Any], name: str = "tune") -> PlaybookSpec:
    """A one-step playbook with these inputs (for types the repo's playbooks do not use)."""
    return PlaybookSpec.model_validate(
        {"name": name, "description": "Tune a thing.\nSecond line.", "inputs": list(inputs),
         "steps": [{"id": "only", "action": "notify"}]}
    )  # fmt: skip


def run(
    playbook: PlaybookSpec, text: str, environments: tuple[str, ...] = ENVIRONMENTS
) -> dict[str, Any]:
    """Parse and bind as the routes do (the plane's services and environments)."""
    return bind(playbook, parse(text), services=SERVICES, environments=environments)


def refusal(playbook: PlaybookSpec, text: str, **kw: Any) -> dict[str, str]:
    """The problems of a command that cannot run, by field."""
    with pytest.raises(CommandError) as err:
        run(playbook, text, **kw)
    problems = dict(err.value.problems)
    assert len(problems) == len(err.value.problems), "one problem per field"
    for field, reason in err.value.problems:  # the message a person reads lists every one
        assert f"{field}: {reason}" in str(err.value)
    return problems


# -- parse -------------------------------------------------------------------------------------


def test_quotes_group_words_like_a_shell() -> None:
    got = parse(f"/rollback {SERVICE} env=production reason='p1 error rate'")
    assert got == Command("rollback", (SERVICE,), {"env": "production", "reason": "p1 error rate"})
    assert parse('/rollback x reason="it\'s \\"down\\""').kwargs["reason"] == 'it\'s "down"'


def test_a_value_may_hold_equals_signs_and_spaces_when_its_input_is_named() -> None:
    got = parse("/rollback x reason='a=b, c=d'  where=here")
    assert got.kwargs == {"reason": "a=b, c=d", "where": "here"} and got.args == ("x",)


@pytest.mark.parametrize("word", ["--help", "-h"])
def test_help_anywhere_asks_for_help_and_keeps_the_rest(word: str) -> None:
    got = parse(f"/rollback {SERVICE} {word} env=dev")
    assert got.help and got.name == "rollback"
    assert got.args == (SERVICE,) and got.kwargs == {"env": "dev"}
    assert not parse(f"/rollback {SERVICE}").help


def test_a_value_that_looks_like_an_option_is_still_a_value() -> None:
    assert parse("/rollback x reason='--force it'").kwargs == {"reason": "--force it"}
    assert not parse("/rollback x reason=--help").help


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("", "text", "is empty"),
        ("   \n ", "text", "is empty"),
        ("rollback bankchurn", "text", "must start with /"),
        ("/rollback reason='p1 error", "text", "unbalanced quotes"),
        ("/Rollback", "command", "not a command name"),
        ("/roll_back", "command", "not a command name"),
        ("/", "command", "not a command name"),
        ("/rollback x --env=prod", "--env=prod", "key=value"),
        ("/rollback x --force", "--force", "not --key"),
        ("/rollback x Env=prod", "Env", "not an input name"),
        ("/rollback x =prod", "text", "no key before '='"),
        ("/rollback x env=dev env=prod", "env", "is given twice"),
    ],
)
def test_malformed_text_is_refused_naming_the_field(text: str, field: str, reason: str) -> None:
    with pytest.raises(CommandError) as err:
        parse(text)
    [(got_field, got_reason)] = err.value.problems
    assert got_field == field and reason in got_reason
    assert str(err.value) == f"{field}: {got_reason}"


def test_overlong_text_is_refused_before_it_is_split() -> None:
    limit = commands.MAX_TEXT
    assert parse("/rollback x reason=" + "r" * (limit - len("/rollback x reason=")))
    with pytest.raises(CommandError) as err:
        parse("/rollback x reason='" + "r" * limit + "'")
    [(field, reason)] = err.value.problems
    assert field == "text" and str(limit) in reason


# -- bind: the repo's playbooks ----------------------------------------------------------------


def test_rollback_takes_the_service_bare_and_fills_the_defaults() -> None:
    got = run(book("rollback"), f"/rollback {SERVICE} env=prod reason='p1 error rate'")
    assert got == {"service": SERVICE, "environment": "production", "reason": "p1 error rate",
                   "silence": 2 * 3600}  # fmt: skip
    defaults = run(book("rollback"), f"/rollback {SERVICE}")
    assert defaults["environment"] == "production" and defaults["reason"] == "not given"


def test_release_takes_two_positional_inputs_in_declaration_order() -> None:
    release = f"{SERVICE}@sha256:{'ab' * 32}"
    got = run(book("release"), f"/release {SERVICE} {release} tag=v1.4.0 soak=10m")
    assert got == {"service": SERVICE, "release": release, "tag": "v1.4.0", "soak": 600}
    named = run(book("release"), f"/release release={release} service={SERVICE}")
    assert named == got | {"tag": None, "soak": 0}


def test_an_optional_input_without_default_is_none_and_a_bool_default_is_typed() -> None:
    got = run(book("incident"), f"/incident {SERVICE}")
    assert got["severity"] is None and got["error_rate"] is None
    assert got["resolve"] is False and got["title"] == "reported via /incident"
    assert run(book("incident"), f"/incident {SERVICE} resolve=yes severity=P1")["resolve"] is True


def test_secret_breach_takes_named_inputs_only() -> None:
    got = run(
        book("secret-breach"), "/secret-breach kind=github_pat leaked=ci-token consumers='a, b'"
    )
    assert got["kind"] == "github_pat" and got["leaked"] == "ci-token"
    assert got["consumers"] == "a, b" and got["where"] == "unknown"
    problems = refusal(book("secret-breach"), "/secret-breach github_pat")
    assert "takes none" in problems["args"]


def test_a_missing_required_input_is_named() -> None:
    assert refusal(book("rollback"), "/rollback env=dev") == {"service": "is required"}


def test_every_problem_is_reported_at_once() -> None:
    problems = refusal(book("rollback"), "/rollback nope extra env=qa silence=1d colour=red")
    assert set(problems) == {"args", "service", "environment", "silence", "colour"}
    assert problems["args"].startswith("2 bare words") and "at most 1 (service)" in problems["args"]
    assert "unknown service 'nope'" in problems["service"]
    assert all(s in problems["service"] for s in SERVICES)
    assert "unknown environment 'qa'" in problems["environment"]
    assert "'1d' is not a duration" in problems["silence"]
    assert "unknown input" in problems["colour"] and "silence" in problems["colour"]


def test_env_and_environment_stand_for_each_other_but_not_twice() -> None:
    rollback = book("rollback")
    assert run(rollback, f"/rollback {SERVICE} env=staging")["environment"] == "staging"
    assert run(rollback, f"/rollback {SERVICE} environment=stage")["environment"] == "staging"
    twice = refusal(rollback, f"/rollback {SERVICE} env=dev environment=staging")
    assert twice == {"environment": "is given twice"}
    env_input = spec({"name": "env", "type": "environment"})
    assert run(env_input, "/tune environment=prod") == {"env": "production"}
    assert "unknown input" in refusal(spec(), "/tune env=dev")["env"]


def test_a_positional_input_given_by_name_too_is_given_twice() -> None:
    assert refusal(book("rollback"), f"/rollback {SERVICE} service={SERVICE}") == {
        "service": "is given twice"
    }


def test_an_empty_value_has_no_value() -> None:
    problems = refusal(book("rollback"), f"/rollback {SERVICE} reason= silence=''")
    assert problems == {"reason": "has no value", "silence": "has no value"}


def test_another_playbooks_command_is_refused() -> None:
    problems = refusal(book("rollback"), f"/incident {SERVICE}")
    assert "is /incident, not /rollback" in problems["command"]


# -- bind: types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [("45s", 45), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1h0m5s", 3605), ("90", 90)],
)
def test_a_duration_is_seconds(typed: str, seconds: int) -> None:
    assert run(book("rollback"), f"/rollback {SERVICE} silence={typed}")["silence"] == seconds


@pytest.mark.parametrize("typed", ["1d", "-5", "2H", "1.5h", "h", "30s10m", "\u0663", "2 h"])
def test_a_bad_duration_names_the_input_and_the_accepted_forms(typed: str) -> None:
    problems = refusal(book("rollback"), f"/rollback {SERVICE} silence='{typed}'")
    assert f"{typed!r} is not a duration" in problems["silence"]
    assert "1h30m" in problems["silence"]


def test_an_int_is_a_whole_number() -> None:
    tune = spec({"name": "replicas", "type": "int", "default": 2})
    assert run(tune, "/tune replicas=-3") == {"replicas": -3}
    assert run(tune, "/tune") == {"replicas": 2}
    for typed in ("3.5", "1e3", "three", "0x10", "1" * 19, "\u0663"):
        assert refusal(tune, f"/tune replicas={typed}") == {
            "replicas": f"{typed!r} is not a whole number"
        }


@pytest.mark.parametrize(
    ("typed", "value"),
    [("yes", True), ("TRUE", True), ("1", True), ("no", False), ("False", False), ("0", False)],
)
def test_a_bool_takes_the_usual_words(typed: str, value: bool) -> None:
    assert run(spec({"name": "force", "type": "bool"}), f"/tune force={typed}") == {"force": value}


def test_a_bool_refuses_other_words() -> None:
    assert (
        "'maybe' is not true/false"
        in refusal(book("incident"), f"/incident {SERVICE} resolve=maybe")["resolve"]
    )


def test_an_enum_takes_exactly_one_of_its_choices() -> None:
    incident = book("incident")
    assert run(incident, f"/incident {SERVICE} severity=P2")["severity"] == "P2"
    for typed in ("P5", "p1", "P1,P2"):
        reason = refusal(incident, f"/incident {SERVICE} severity={typed}")["severity"]
        assert reason == f"{typed!r} is not one of P1, P2, P3, P4"


def test_a_service_is_one_the_plane_knows_and_all_only_when_allowed() -> None:
    assert "unknown service 'all'" in refusal(book("rollback"), "/rollback all")["service"]
    every = spec({"name": "service", "type": "service", "allow_all": True, "positional": True})
    assert run(every, "/tune all") == {"service": "all"}
    assert "(or all)" in refusal(every, "/tune nope")["service"]


def test_an_environment_takes_the_house_spellings() -> None:
    rollback = book("rollback")
    for typed, meant in (("prod", "production"), ("Production", "production"), ("stg", "staging"),
                         ("preprod", "staging"), ("development", "dev")):  # fmt: skip
        assert run(rollback, f"/rollback {SERVICE} env={typed}")["environment"] == meant, typed


def test_local_stays_local_where_it_is_an_environment_else_it_means_dev() -> None:
    rollback = book("rollback")
    assert run(rollback, f"/rollback {SERVICE} env=local")["environment"] == "local"
    three = ("dev", "staging", "production")
    assert run(rollback, f"/rollback {SERVICE} env=local", three)["environment"] == "dev"


def test_the_environment_spellings_include_the_policys() -> None:
    for spelling, meant in ALIASES.items():
        assert commands.ENV_ALIASES[spelling] == meant, spelling


def test_an_invalid_default_is_blamed_on_the_playbook() -> None:
    broken = spec({"name": "wait", "type": "duration", "default": "2 hours"})
    reason = refusal(broken, "/tune")["wait"]
    assert reason.startswith("the playbook's default is invalid") and "'2 hours'" in reason
    assert run(broken, "/tune wait=5m") == {"wait": 300}


# -- help --------------------------------------------------------------------------------------


def test_usage_is_written_from_the_inputs() -> None:
    rollback = book("rollback")
    lines = usage(rollback).splitlines()
    assert lines[0] == "/rollback <service> [key=value ...]"
    assert lines[1] == rollback.description.strip().splitlines()[0]
    rows = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert set(rows) == {i.name for i in rollback.inputs}
    assert "required" in rows["service"] and "may be given bare" in rows["service"]
    assert "default production" in rows["environment"] and "also env=" in rows["environment"]
    assert "duration" in rows["silence"] and "default 2h" in rows["silence"]
    assert rows["reason"].endswith("- why (goes into the record)")


def test_usage_shows_choices_optional_positionals_and_bool_defaults() -> None:
    incident = usage(book("incident"))
    assert "one of P1|P2|P3|P4" in incident and "default false" in incident
    optional = spec({"name": "what", "positional": True}, {"name": "service", "type": "service",
                                                           "allow_all": True})  # fmt: skip
    text = usage(optional)
    assert text.startswith("/tune [what] [key=value ...]") and "or all" in text
    bare = usage(spec())
    assert bare.splitlines()[0] == "/tune" and "key=value" not in bare


def test_overview_lists_each_playbook_once_sorted_with_its_first_line() -> None:
    books = [book(n) for n in ("rollback", "release", "secret-breach", "incident")]
    lines = overview(books).splitlines()
    assert [line.split()[0] for line in lines] == sorted(f"/{b.name}" for b in books)
    for line, playbook in zip(lines, sorted(books, key=lambda b: b.name), strict=True):
        assert line.endswith(playbook.description.strip().splitlines()[0])
    assert overview([]) == "no playbooks are loaded"
    assert parse("/help") == Command("help")
