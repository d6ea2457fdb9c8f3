"""Templates in `with` and `when`: a whole expression keeps its type, missing names are loud,
the sandbox refuses to reach out of the data, and references() sees what a template reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.playbook.template import (
    TemplateProblem,
    has_template,
    references,
    render,
    truthy,
)

REPO = Path(__file__).resolve().parents[2]


def context(**inputs: Any) -> dict[str, Any]:
    """What the runner gives templates (runner.context_of): inputs, steps, run, scope."""
    return {
        "inputs": {"service": "bankchurn", "environment": "production", "count": 3} | inputs,
        "steps": {
            "target": {
                "outputs": {"target_release": "bankchurn@sha256:ab12"},
                "status": "succeeded",
            },
            "silence": {"outputs": {}, "status": "skipped"},
        },
        "run": {"id": "5f0c", "requested_by": "alice"},
        "scope": {"environment": "production", "service": "bankchurn"},
    }


def playbook_step(name: str, step_id: str) -> dict[str, Any]:
    """One step of a repo playbook, as written."""
    doc = yaml.safe_load((REPO / "playbooks" / f"{name}.yaml").read_text())
    return dict(next(s for s in doc["steps"] if s["id"] == step_id))


# -- render ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.count }}", 3),
        ("  {{ inputs.count * 2 }}  ", 6),
        ("{{ inputs.count > 2 }}", True),
        ("{{ none }}", None),
        ("{{ [inputs.service, inputs.count] }}", ["bankchurn", 3]),
        ("{{ {'n': inputs.count} }}", {"n": 3}),
        ("{{ inputs.count | string }}", "3"),
    ],
)
def test_a_whole_expression_keeps_its_type(template: str, expected: Any) -> None:
    got = render(template, context())
    assert got == expected and type(got) is type(expected)


def test_text_around_an_expression_renders_as_text() -> None:
    ctx = context()
    assert render("count={{ inputs.count }}", ctx) == "count=3"
    assert render("{{ inputs.count }}{{ inputs.count }}", ctx) == "33"
    assert render("{{ inputs.service }} to {{ steps.target.outputs.target_release }}", ctx) == (
        "bankchurn to bankchurn@sha256:ab12"
    )


def test_values_render_through_mappings_and_lists_and_plain_values_stay() -> None:
    given = {"a": ["{{ inputs.count }}", "plain", 7], "b": {"c": "{{ run.id }}"}, "d": None,
             "e": "{ not a template }"}  # fmt: skip
    assert render(given, context()) == {"a": [3, "plain", 7], "b": {"c": "5f0c"}, "d": None,
                                        "e": "{ not a template }"}  # fmt: skip
    assert has_template("x {{ y }}") and not has_template("{ y }") and not has_template(3)


def test_playbook_expressions_give_what_the_actions_take() -> None:
    restart = playbook_step("secret-breach", "restart")["with"]["services"]
    assert render(restart, context(consumers=" bankchurn, nlpinsight ,chicagotaxi")) == [
        "bankchurn",
        "nlpinsight",
        "chicagotaxi",
    ]
    rate = playbook_step("incident", "classify")["with"]["error_rate"]
    assert render(rate, context(error_rate="0.08")) == pytest.approx(0.08)
    assert render(rate, context(error_rate=None)) is None


@pytest.mark.parametrize(
    "template",
    [
        "{{ inputs.colour }}",
        "colour: {{ inputs.colour }}",
        "{{ steps.nope.outputs.id }}",
        "{{ steps.silence.outputs.silence_id }}",  # a skipped step has no outputs
        "{{ [steps.silence.outputs.silence_id] }}",
        "{{ {'id': steps.silence.outputs.silence_id} }}",
        "{{ colour }}",
    ],
)
def test_a_missing_name_is_an_error_never_an_empty_value(template: str) -> None:
    with pytest.raises(TemplateProblem) as err:
        render({"x": template}, context())
    assert template in str(err.value)
    assert any(name in str(err.value) for name in ("colour", "nope", "silence_id"))


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "text {{ inputs.__class__.__init__.__globals__ }}",
        "{{ run.id.__class__.__base__ }}",
        "{{ inputs.items.__self__ }}",
        "{{ range.__call__.__self__ }}",
    ],
)
def test_the_sandbox_refuses_to_reach_past_the_data(template: str) -> None:
    with pytest.raises(TemplateProblem, match="unsafe"):
        render(template, context())


def test_templates_cannot_change_the_values_they_read() -> None:
    ctx = context()
    for template in ("{{ inputs.update({'service': 'x'}) }}", "{{ inputs.pop('service') }}",
                     "{{ steps.target.outputs.clear() }}"):  # fmt: skip
        with pytest.raises(TemplateProblem, match="unsafe"):
            render(template, ctx)
    assert ctx == context()


def test_runaway_and_bad_maths_are_template_problems() -> None:
    for template in ("{{ range(10 ** 6) | list }}", "{{ 1 / 0 }}", "{{ inputs.service + 1 }}",
                     "{{ inputs.count + 'x' }}", "{{ {}['x'] }}"):  # fmt: skip
        with pytest.raises(TemplateProblem):
            render(template, context())


def test_a_template_that_does_not_parse_is_a_problem() -> None:
    for template in ("{{ inputs.count + }}", "{{ inputs.count", "x {% if %} y {{ 1 }}"):
        with pytest.raises(TemplateProblem):
            render(template, context())


# -- truthy ------------------------------------------------------------------------------------


def test_when_conditions_read_with_or_without_braces() -> None:
    ctx = context()
    assert truthy("steps.target.status == 'succeeded'", ctx)
    assert truthy("{{ steps.target.status == 'succeeded' }}", ctx)
    assert not truthy("steps.silence.status == 'succeeded'", ctx)
    assert not truthy("inputs.leaked", context(leaked=None)) and truthy("inputs.count", ctx)


def test_the_playbooks_own_conditions_decide_as_written() -> None:
    mitigate = playbook_step("incident", "mitigate")["when"]
    ctx = context()
    ctx["steps"]["classify"] = {"outputs": {"severity": "P1"}, "status": "succeeded"}
    ctx["steps"]["mitigate_target"] = {"outputs": {}, "status": "succeeded"}
    assert truthy(mitigate, ctx)
    ctx["steps"]["classify"]["outputs"]["severity"] = "P2"
    assert not truthy(mitigate, ctx)


def test_a_condition_on_a_missing_name_fails_loudly() -> None:
    for condition in ("inputs.colour", "inputs.colour == 'red'", "not steps.nope.status"):
        with pytest.raises(TemplateProblem, match=r"^when "):
            truthy(condition, context())
    with pytest.raises(TemplateProblem, match="unsafe"):
        truthy("''.__class__", context())


# -- references --------------------------------------------------------------------------------


def paths(value: Any, **kw: Any) -> set[str]:
    return {".".join(p) for p in references(value, **kw)}


def test_references_find_the_paths_a_step_reads() -> None:
    document = playbook_step("rollback", "document")["with"]
    assert paths(document) == {
        "inputs.service",
        "steps.confirm.outputs.incident_id",
        "steps.target.outputs.current_release",
        "steps.target.outputs.current_deployment",
        "steps.target.outputs.target_release",
        "inputs.reason",
        "steps.silence.outputs.silence_id",
        "steps.silence.status",
        "steps.execute.outputs.duration_s",
    }


def test_references_see_through_filters_calls_and_constant_subscripts() -> None:
    assert paths("{{ inputs.error_rate | float if inputs.error_rate else none }}") == {
        "inputs.error_rate"
    }
    assert paths(["{{ inputs.consumers.split(',') | map('trim') | list }}"]) == {
        "inputs.consumers.split"
    }
    assert paths("{{ steps['plan'].outputs['target'] }}") == {"steps.plan.outputs.target"}
    assert paths("{{ run.id }}/{{ scope.environment }}") == {"run.id", "scope.environment"}


def test_a_computed_subscript_still_reports_the_path_before_it() -> None:
    assert paths("{{ steps.plan.outputs[inputs.key].name }}") == {
        "steps.plan.outputs",
        "inputs.key",
    }


def test_a_when_condition_is_read_as_an_expression() -> None:
    mitigate = playbook_step("incident", "mitigate")["when"]
    assert paths(mitigate, expression=True) == {
        "steps.classify.outputs.severity",
        "steps.mitigate_target.status",
    }
    assert paths("inputs.leaked", expression=True) == {"inputs.leaked"}
    assert paths("inputs.leaked") == set()  # not a template unless read as a condition


def test_references_of_plain_values_are_none_and_bad_syntax_is_a_problem() -> None:
    assert paths({"a": 1, "b": "plain", "c": None, "d": ["{{ 1 + 2 }}"]}) == set()
    with pytest.raises(TemplateProblem):
        list(references("{{ steps. }}"))
