"""The one slash-command grammar, shared by the HTTP API, the CLI and Slack.

`parse` turns `/rollback bankchurn env=production reason='p1 error rate'` into a `Command`;
`bind` checks it against a playbook's typed inputs and returns the values the runner uses;
`usage` and `overview` are the help texts, generated from the same `InputSpec`s. Pure: no I/O.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controlplane.playbook.spec import IDENT, NAME, InputSpec, PlaybookSpec, parse_duration

MAX_TEXT = 2000
HELP_WORDS = frozenset({"--help", "-h"})
INTEGER = re.compile(r"-?[0-9]{1,18}")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
# The house spellings (controlplane.policy.models.ALIASES, a test keeps them in step) plus `stg`.
# A word the caller lists as an environment is taken as it is first, so a real `local`
# environment stays `local`; only where there is none does `local` mean dev, as in `opsctl`.
ENV_ALIASES = {
    "prod": "production",
    "stage": "staging",
    "stg": "staging",
    "preprod": "staging",
    "development": "dev",
    "develop": "dev",
    "local": "dev",
}
ENV_KEYS = ("environment", "env")
LISTED = 10  # names quoted in a refusal before "..."

Problem = tuple[str, str]


class CommandError(ValueError):
    """A command that cannot run; `problems` lists (field, reason) for a 422 answer."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems)


@dataclass(frozen=True)
class Command:
    """What was typed: the playbook's name, bare words, key=value pairs, and whether --help."""

    name: str
    args: tuple[str, ...] = ()
    kwargs: dict[str, str] = field(default_factory=dict, hash=False)
    help: bool = False


# -- parse -------------------------------------------------------------------------------------


def _refuse(field_name: str, reason: str) -> CommandError:
    return CommandError(f"{field_name}: {reason}", [(field_name, reason)])


def _words(text: str) -> list[str]:
    """Split like a shell, so quotes group words the same way in Slack, the CLI and HTTP."""
    if len(text) > MAX_TEXT:
        raise _refuse("text", f"is {len(text)} characters; at most {MAX_TEXT}")
    stripped = text.strip()
    if not stripped:
        raise _refuse("text", "is empty; type a command such as /help")
    if not stripped.startswith("/"):
        raise _refuse("text", "must start with / (for example /help)")
    try:
        return shlex.split(stripped)
    except ValueError:
        raise _refuse("text", "has unbalanced quotes") from None


def _name(word: str) -> str:
    name = word.removeprefix("/")
    if not NAME.fullmatch(name):
        shown = name[:50]
        raise _refuse("command", f"{shown!r} is not a command name (lower-kebab-case)")
    return name


def _key_value(word: str, kwargs: dict[str, str]) -> None:
    key, _, value = word.partition("=")
    if not key:
        raise _refuse("text", f"{word[:50]!r} has no key before '='")
    if not IDENT.fullmatch(key):
        raise _refuse(
            key[:50],
            "is not an input name (lower_snake_case); to pass a value holding '=', "
            "name its input: reason='a=b'",
        )
    if key in kwargs:
        raise _refuse(key, "is given twice")
    kwargs[key] = value


def parse(text: str) -> Command:
    """Read one slash command; every malformed text is a CommandError, nothing else."""
    first, *rest = _words(text)
    name = _name(first)
    args: list[str] = []
    kwargs: dict[str, str] = {}
    wants_help = False
    for word in rest:
        if word in HELP_WORDS:
            wants_help = True
        elif word.startswith("--"):
            raise _refuse(word[:50], "options are written key=value (env=production), not --key")
        elif "=" in word:
            _key_value(word, kwargs)
        else:
            args.append(word)
    return Command(name=name, args=tuple(args), kwargs=kwargs, help=wants_help)


# -- bind --------------------------------------------------------------------------------------


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (", ..." if len(names) > LISTED else "") if names else "(none)"


@dataclass(frozen=True)
class _Known:
    """What a value may name: the plane's services and environments."""

    services: tuple[str, ...]
    environments: tuple[str, ...]


def _to_int(spec: InputSpec, raw: str, ctx: _Known) -> int:
    if not INTEGER.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a whole number")
    return int(raw)


def _to_bool(spec: InputSpec, raw: str, ctx: _Known) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"{raw!r} is not true/false (also yes/no, 1/0)")


def _to_duration(spec: InputSpec, raw: str, ctx: _Known) -> int:
    if not raw.isascii():
        raise ValueError(f"{raw!r} is not a duration (use e.g. 30s, 10m, 2h, 1h30m)")
    return parse_duration(raw)


def _to_enum(spec: InputSpec, raw: str, ctx: _Known) -> str:
    if raw not in spec.choices:
        raise ValueError(f"{raw!r} is not one of {', '.join(spec.choices)}")
    return raw


def _to_service(spec: InputSpec, raw: str, ctx: _Known) -> str:
    if raw in ctx.services or (spec.allow_all and raw == "all"):
        return raw
    hint = " (or all)" if spec.allow_all else ""
    raise ValueError(f"unknown service {raw!r}; known: {_listing(ctx.services)}{hint}")


def _to_environment(spec: InputSpec, raw: str, ctx: _Known) -> str:
    word = raw.strip().lower()
    name = word if word in ctx.environments else ENV_ALIASES.get(word, word)
    if name not in ctx.environments:
        raise ValueError(f"unknown environment {raw!r}; known: {_listing(ctx.environments)}")
    return name


def _to_string(spec: InputSpec, raw: str, ctx: _Known) -> str:
    return raw


CONVERTERS: dict[str, Callable[[InputSpec, str, _Known], Any]] = {
    "string": _to_string,
    "int": _to_int,
    "bool": _to_bool,
    "duration": _to_duration,
    "enum": _to_enum,
    "service": _to_service,
    "environment": _to_environment,
}


def _input_name(spec: PlaybookSpec, key: str) -> str | None:
    """The declared input a key names; `env` and `environment` stand for each other."""
    if spec.input(key) is not None:
        return key
    if key in ENV_KEYS:
        other = ENV_KEYS[1 - ENV_KEYS.index(key)]
        return other if spec.input(other) is not None else None
    return None


def _given(spec: PlaybookSpec, command: Command, problems: list[Problem]) -> dict[str, str]:
    """Raw values by input name: positional words first, then key=value pairs."""
    positional = [i.name for i in spec.inputs if i.positional]
    given = dict(zip(positional, command.args, strict=False))
    if len(command.args) > len(positional):
        takes = f"at most {len(positional)} ({_listing(positional)})" if positional else "none"
        problems.append(("args", f"{len(command.args)} bare words; /{spec.name} takes {takes}"))
    for key, raw in command.kwargs.items():
        name = _input_name(spec, key)
        if name is None:
            known = [i.name for i in spec.inputs]
            problems.append((key, f"unknown input; /{spec.name} takes {_listing(known)}"))
        elif name in given:
            problems.append((name, "is given twice"))
        else:
            given[name] = raw
    return given


def _convert(spec: InputSpec, raw: str, known: _Known) -> Any:
    if raw == "":
        raise ValueError("has no value")
    return CONVERTERS[spec.type](spec, raw, known)


def _default_text(default: Any) -> str:
    """A playbook default as the text a user would type (YAML `true` is `True` in Python)."""
    return str(default).lower() if isinstance(default, bool) else str(default)


def _value(spec: InputSpec, given: dict[str, str], known: _Known) -> tuple[Any, str | None]:
    """The typed value of one input, or the reason there is none."""
    if spec.name in given:
        try:
            return _convert(spec, given[spec.name], known), None
        except ValueError as exc:
            return None, str(exc)
    if spec.required:
        return None, "is required"
    if spec.default is None:
        return None, None
    try:
        return _convert(spec, _default_text(spec.default), known), None
    except ValueError as exc:
        return None, f"the playbook's default is invalid: {exc}"


def bind(
    spec: PlaybookSpec,
    command: Command,
    *,
    services: Sequence[str],
    environments: Sequence[str],
) -> dict[str, Any]:
    """Check a command against the playbook's inputs; every problem is reported at once."""
    problems: list[Problem] = []
    if command.name != spec.name:
        problems.append(("command", f"is /{command.name}, not /{spec.name}"))
    given = _given(spec, command, problems)
    known = _Known(tuple(services), tuple(environments))
    bound: dict[str, Any] = {}
    for item in spec.inputs:
        bound[item.name], reason = _value(item, given, known)
        if reason is not None:
            problems.append((item.name, reason))
    if problems:
        lines = "".join(f"\n  {name}: {reason}" for name, reason in problems)
        raise CommandError(f"/{spec.name} cannot run:{lines}", problems)
    return bound


# -- help --------------------------------------------------------------------------------------


def _synopsis(spec: PlaybookSpec) -> str:
    words = [f"/{spec.name}"]
    for item in spec.inputs:
        if item.positional:
            words.append(f"<{item.name}>" if item.required else f"[{item.name}]")
    if spec.inputs:
        words.append("[key=value ...]")
    return " ".join(words)


def _describe(item: InputSpec) -> str:
    facts: list[str] = [item.type]
    if item.choices:
        facts.append(f"one of {'|'.join(item.choices)}")
    if item.type == "service" and item.allow_all:
        facts.append("or all")
    if item.required:
        facts.append("required")
    if item.default is not None:
        facts.append(f"default {_default_text(item.default)}")
    if item.positional:
        facts.append("may be given bare")
    if item.name in ENV_KEYS:
        facts.append(f"also {ENV_KEYS[1 - ENV_KEYS.index(item.name)]}=")
    text = ", ".join(facts)
    return f"{text} - {item.description}" if item.description else text


def usage(spec: PlaybookSpec) -> str:
    """The help for one playbook, written from its inputs so it cannot drift from them."""
    lines = [_synopsis(spec), spec.description.strip()]
    if spec.inputs:
        width = max(len(i.name) for i in spec.inputs)
        lines.append("")
        lines.extend(f"  {i.name.ljust(width)}  {_describe(i)}" for i in spec.inputs)
    return "\n".join(lines)


def overview(specs: Sequence[PlaybookSpec]) -> str:
    """The answer to /help: each playbook's command and the first line of its description."""
    if not specs:
        return "no playbooks are loaded"
    ordered = sorted(specs, key=lambda s: s.name)
    width = max(len(s.name) for s in ordered) + 1
    firsts = [(s.description.strip().splitlines() or [""])[0] for s in ordered]
    rows = zip(ordered, firsts, strict=True)
    return "\n".join(f"/{s.name.ljust(width)} {first}".rstrip() for s, first in rows)
