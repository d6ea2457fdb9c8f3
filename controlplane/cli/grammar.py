"""One grammar for every noun: `list` by default, `show ID` by printed id, one `--env`, `--reason`.

Groups use `NounGroup` (bare noun = `list`; old flag names such as `--comment` kept as hidden
aliases of `--reason`); the root uses `OpsctlGroup`, which reports usage errors as JSON when
`--json` was asked for. Ids print cut to `PRINTED_ID` characters and `by_prefix` turns what was
printed back into the full id. Light on purpose (typer and click only), like `_common`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer import _click as click  # typer 0.29 (pinned) parses with its own copy of click
from typer.core import TyperGroup

from controlplane.cli._common import JSON_META, report_usage, wants_json
from controlplane.errors import BadRequest, ControlPlaneError, NotFound

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient

T = TypeVar("T", bound=Mapping[str, object])

PRINTED_ID = 12
FULL_ID = 32  # uuid4().hex, what the plane uses for every record id


# -- environments ------------------------------------------------------------------------------


class Env(StrEnum):
    """The three environments, by the names the plane stores."""

    dev = "dev"
    staging = "staging"
    production = "production"


# Same spellings as controlplane.policy.models.Environment.parse (a test keeps them equal); not
# imported from there because that module loads pydantic, and `--env` is parsed on every call.
ENV_ALIASES = {
    "local": "dev",
    "development": "dev",
    "develop": "dev",
    "stage": "staging",
    "preprod": "staging",
    "prod": "production",
}


def parse_env(raw: str) -> Env:
    """An environment from any accepted spelling (`prod` is production), else ValueError."""
    key = raw.strip().lower()
    try:
        return Env(ENV_ALIASES.get(key, key))
    except ValueError:
        raise ValueError(
            f"unknown environment {raw!r}; expected dev, staging or production "
            f"(or {', '.join(sorted(ENV_ALIASES))})"
        ) from None


def _env_value(raw: str) -> Env:
    """Parse `--env`; a bad spelling is a usage error with the list of good ones."""
    try:
        return parse_env(raw)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def complete_env(incomplete: str) -> list[str]:
    """Shell completion offers the three canonical names."""
    return [e.value for e in Env if e.value.startswith(incomplete)]


def _env_option(help: str) -> Any:
    """`--env` for every command: the same spellings everywhere, sent as the canonical name."""
    return typer.Option(
        "--env",
        "-e",
        parser=_env_value,
        autocompletion=complete_env,
        metavar="[dev|staging|production]",
        help=help,
    )


ENV_HELP = "dev, staging or production (prod, stage and local are accepted too)"
EnvOpt = Annotated[Env, _env_option(f"Target: {ENV_HELP}.")]
EnvFilterOpt = Annotated[Env | None, _env_option(f"Only this one: {ENV_HELP}.")]
EnvScopeOpt = Annotated[Env | None, _env_option(f"{ENV_HELP}; unset: every environment.")]


def env_name(env: Env | None) -> str | None:
    """What the API wants for an optional environment."""
    return env.value if env is not None else None


# -- one flag name per meaning -----------------------------------------------------------------

# Old names of `--reason`, still accepted but not shown in --help.
HIDDEN_ALIASES = {"--comment": "--reason", "-m": "--reason", "--resolution": "--reason"}


def with_hidden_aliases(command: click.Command | None, args: list[str]) -> list[str]:
    """Rewrite old flag names into the one name a command shows (only before `--`)."""
    if command is None:
        return args
    names = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        flag, eq, value = arg.partition("=")
        target = HIDDEN_ALIASES.get(flag)
        if target in names and flag not in names:
            arg = f"{target}{eq}{value}"
        out.append(arg)
    return out


# -- groups ------------------------------------------------------------------------------------


class NounGroup(TyperGroup):
    """A noun: bare (or with only options) it runs `list`; its commands take hidden aliases."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "list" in self.commands and self._means_list(ctx, args):
            args = ["list", *args]
        return super().parse_args(ctx, args)

    def _means_list(self, ctx: click.Context, args: list[str]) -> bool:
        """No subcommand given: nothing at all, or options that belong to `list`."""
        if not args:
            return True
        return args[0].startswith("-") and args[0] not in ctx.help_option_names

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return name, command, with_hidden_aliases(command, rest)


class OpsctlGroup(NounGroup):
    """The root: remembers whether `--json` was asked for, so usage errors answer in JSON too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_META] = wants_json(args)
        return super().parse_args(ctx, args)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            sys.exit(report_usage(exc, wants_json(argv)))
        except typer.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except ControlPlaneError as exc:  # from a parameter callback, outside any command
            sys.exit(report_usage(exc, wants_json(argv)))
        sys.exit(rv if isinstance(rv, int) else 0)


def noun(help: str) -> typer.Typer:
    """A noun's Typer: `opsctl <noun>` lists, `opsctl <noun> --help` explains."""
    return typer.Typer(help=help, cls=NounGroup, no_args_is_help=False)


# -- ids as printed ----------------------------------------------------------------------------


def short_id(record_id: str | None) -> str | None:
    """An id as tables print it; `show` and friends take it back."""
    return record_id[:PRINTED_ID] if record_id else record_id


def pick_record(prefix: str, records: Sequence[T], key: str, what: str) -> T:
    """The one record whose `key` starts with `prefix` (a list is the API's only way to read
    one of these), else the same errors as `pick`."""
    found = pick(prefix, [str(r[key]) for r in records], what)
    return next(r for r in records if r[key] == found)


def pick(prefix: str, candidates: Iterable[str], what: str) -> str:
    """The one candidate that starts with `prefix`, else a clear not-found or ambiguity error."""
    wanted = prefix.strip()
    if not wanted:
        raise BadRequest(f"an empty {what} id matches nothing")
    matches = sorted({c for c in candidates if c.startswith(wanted)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"no {what} starts with {wanted!r}")
    shown = [*matches[:10], *(["..."] if len(matches) > 10 else [])]
    raise BadRequest(
        f"{len(matches)} matches for {what} {wanted!r}; type more of it", {"candidates": shown}
    )


Lister = Callable[["ControlPlaneClient"], Iterable[str]]


def by_prefix(what: str, lister: Lister) -> Callable[[typer.Context, str], str]:
    """An argument callback that turns an id as printed into the full id (full ids pass as is)."""

    def resolve(ctx: typer.Context, value: str) -> str:
        if ctx.resilient_parsing or value is None or len(value) >= FULL_ID:
            return value
        from controlplane.cli._common import plane

        with plane() as client:
            return pick(value, lister(client), what)

    return resolve
