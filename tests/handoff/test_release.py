"""Release references: `<name>@sha256:<64 lowercase hex>`, unpinned names for dev only."""

from __future__ import annotations

import pytest
from factories import DIGEST, RELEASE
from pydantic import BaseModel, ValidationError

from controlplane.handoff import Release


class Holder(BaseModel):
    release: Release


def test_a_pinned_reference_parses_and_prints_back() -> None:
    ref = Release.parse(RELEASE)
    assert (ref.name, ref.digest, ref.pinned) == ("bankchurn", DIGEST, True)
    assert str(ref) == RELEASE


@pytest.mark.parametrize(
    "text",
    [
        "europe-docker.pkg.dev/proj/ml-images/bankchurn-predictor@sha256:" + DIGEST,
        "localhost:5000/bankchurn:v1.2.3@sha256:" + DIGEST,
    ],
)
def test_registry_paths_ports_and_tags_are_names(text: str) -> None:
    assert str(Release.parse(text)) == text
    assert Release.parse(text).pinned


@pytest.mark.parametrize("text", ["bankchurn", "bankchurn:latest", "ghcr.io/acme/bankchurn:dev"])
def test_an_unpinned_reference_parses_without_digest(text: str) -> None:
    ref = Release.parse(text)
    assert (ref.digest, ref.pinned, str(ref)) == (None, False, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Bankchurn@sha256:" + DIGEST,
        "bankchurn@sha256:" + DIGEST.upper(),
        "bankchurn@sha256:" + DIGEST[:-1],
        "bankchurn@sha512:" + DIGEST,
        "bankchurn@" + DIGEST,
        "@sha256:" + DIGEST,
        "bank churn",
        "-bankchurn",
    ],
)
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Release.parse(text)
    with pytest.raises(ValidationError, match="invariant release_ref_format"):
        Holder(release=text)


def test_a_release_field_takes_strings_or_releases_and_dumps_a_string() -> None:
    ref = Release.parse(RELEASE)
    assert Holder(release=RELEASE).release == ref
    assert Holder(release=ref).model_dump() == {"release": RELEASE}
    assert Holder.model_validate_json(Holder(release=ref).model_dump_json()).release == ref


def test_a_non_string_release_is_refused() -> None:
    with pytest.raises(ValidationError, match="release_ref_format"):
        Holder.model_validate({"release": 42})


def test_the_json_schema_is_a_string_pattern() -> None:
    schema = Holder.model_json_schema()["properties"]["release"]
    assert schema["type"] == "string"
    assert "@sha256:" in schema["pattern"]


def test_releases_compare_by_name_and_digest() -> None:
    assert Release.parse(RELEASE) == Release("bankchurn", DIGEST)
    assert Release.parse(RELEASE) != Release("other", DIGEST)
    assert len({Release.parse(RELEASE), Release("bankchurn", DIGEST)}) == 1
