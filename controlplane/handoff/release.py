"""Release references `<name>@sha256:<64 hex>`: one spelling for OCI images and local bundles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from controlplane.handoff.invariants import invariant_error

NAME_PATTERN = r"[a-z0-9](?:[a-z0-9._/:-]{0,253}[a-z0-9])?"
DIGEST_PATTERN = r"[a-f0-9]{64}"
REF_PATTERN = rf"^{NAME_PATTERN}(?:@sha256:{DIGEST_PATTERN})?$"
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_DIGEST = re.compile(rf"^{DIGEST_PATTERN}$")


@dataclass(frozen=True)
class Release:
    """A deployable release: a name and, once pinned, the sha256 of its image or manifest."""

    name: str
    digest: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"release name {self.name!r} must be lowercase letters, digits and . _ / : -"
            )
        if self.digest is not None and not _DIGEST.match(self.digest):
            raise ValueError(f"release digest {self.digest!r} must be 64 lowercase hex characters")

    @classmethod
    def parse(cls, text: str) -> Release:
        """Read `<name>@sha256:<64 hex>` (pinned) or a bare `<name>[:tag]` (dev only)."""
        name, at, rest = text.strip().partition("@")
        if not at:
            return cls(name)
        algo, colon, digest = rest.partition(":")
        if algo != "sha256" or not colon:
            raise ValueError(f"release {text!r}: only @sha256:<64 lowercase hex> digests")
        return cls(name, digest)

    @property
    def pinned(self) -> bool:
        """Whether the reference names exact bytes (it does only with a digest)."""
        return self.digest is not None

    def __str__(self) -> str:
        return f"{self.name}@sha256:{self.digest}" if self.digest else self.name

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _coerce, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": REF_PATTERN,
            "description": "release reference <name>@sha256:<64 lowercase hex>; "
            "an unpinned <name>[:tag] is accepted in dev only",
            "examples": ["bankchurn@sha256:" + "0" * 64],
        }


def _coerce(value: Any) -> Release:
    """Accept a Release or its string form; anything else breaks `release_ref_format`."""
    if isinstance(value, Release):
        return value
    if not isinstance(value, str):
        raise invariant_error("release_ref_format", "a release reference must be a string")
    try:
        return Release.parse(value)
    except ValueError as exc:
        raise invariant_error("release_ref_format", str(exc)) from None
