"""`with` values and `when` conditions: Jinja2 expressions in a sandbox, checked before a run.

A value that is exactly `{{ expr }}` keeps its type (a number stays a number); any other string
with `{{ }}` renders as text. The names in scope are `inputs`, `steps` (`steps.<id>.outputs.<key>`),
`run` (id, requested_by) and `scope` (environment, service). Undefined names are errors, never
empty strings, so a reference to a missing output fails at load time or at least loudly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
ROOTS = frozenset({"inputs", "steps", "run", "scope"})
ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateProblem(ValueError):
    """A template that does not parse, or names something that is not there."""


def has_template(value: Any) -> bool:
    """True for a string that contains a `{{ }}` expression."""
    return isinstance(value, str) and "{{" in value


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a `with` value (recursively through lists and mappings)."""
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, context) for v in value]
    if not has_template(value):
        return value
    try:
        whole = WHOLE.match(value)
        if whole and "{{" not in whole.group("expr"):
            return _defined(
                ENV.compile_expression(whole.group("expr"), undefined_to_none=False)(**context)
            )
        return ENV.from_string(value).render(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"{value!r}: {exc.message or exc}") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:  # bad maths on inputs
        raise TemplateProblem(f"{value!r}: {exc}") from exc


def truthy(condition: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a `when` condition (an expression, with or without braces)."""
    whole = WHOLE.match(condition)
    expr = whole.group("expr") if whole else condition
    try:
        return bool(_defined(ENV.compile_expression(expr, undefined_to_none=False)(**context)))
    except TemplateError as exc:
        raise TemplateProblem(f"when {condition!r}: {exc.message or exc}") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateProblem(f"when {condition!r}: {exc}") from exc


def _defined(value: Any) -> Any:
    """An expression that names nothing is an error (StrictUndefined raises on any use),
    also inside a list or mapping it builds: `{{ [steps.x.outputs.id] }}`."""
    if isinstance(value, Undefined):
        str(value)  # raises UndefinedError with the name that is missing
    elif isinstance(value, list | tuple):
        for item in value:
            _defined(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            _defined(item)
    return value


def references(value: Any, *, expression: bool = False) -> Iterator[tuple[str, ...]]:
    """Every attribute path a template reads, e.g. ('steps', 'plan', 'outputs', 'target')."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from references(item)
        return
    if not isinstance(value, str) or not (expression or has_template(value)):
        return
    whole = WHOLE.match(value)
    source = f"{{{{ {value} }}}}" if expression and not whole else value
    try:
        tree = ENV.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"{value!r}: {exc.message or exc}") from exc
    yield from _paths(tree)


def _paths(tree: nodes.Node) -> Iterator[tuple[str, ...]]:
    """The longest name.attr.attr chains in a parsed template (subscripts with constants too)."""
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner.add(id(node.node))  # type: ignore[attr-defined]
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if id(node) in inner:
            continue
        path = _chain(node)
        if path:
            yield path


def _chain(node: nodes.Node) -> tuple[str, ...] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const):
                parts.append(str(node.arg.value))
            else:  # a computed subscript (`outputs[inputs.key]`): the path is what is before it
                parts = []
            node = node.node
        elif isinstance(node, nodes.Name):
            if node.ctx != "load":
                return None
            parts.append(node.name)
            return tuple(reversed(parts))
        else:
            return None
