"""JSON Schemas of the hand-offs, so agents and CI can validate before they send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from controlplane.errors import NotFound
from controlplane.handoff.models import HANDOFF_MODELS, lookup

router = APIRouter(prefix="/v1/schemas", tags=["handoff"])


class SchemaRef(BaseModel):
    """One hand-off model and where its JSON Schema lives."""

    name: str
    description: str
    url: str


class SchemasPublic(BaseModel):
    """Every hand-off model the plane accepts."""

    data: list[SchemaRef]
    count: int


def _summary(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""


@router.get("", response_model=SchemasPublic)
def list_schemas() -> SchemasPublic:
    """List the hand-off models (public: the schemas are the published contract)."""
    data = [
        SchemaRef(name=name, description=_summary(model), url=f"/v1/schemas/{name}")
        for name, model in HANDOFF_MODELS.items()
    ]
    return SchemasPublic(data=data, count=len(data))


@router.get("/{name}")
def get_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one hand-off model (404 lists the known names)."""
    model = lookup(name)
    if model is None:
        known = sorted(HANDOFF_MODELS)
        raise NotFound(f"no hand-off schema {name!r}; known: {', '.join(known)}", {"known": known})
    return model.model_json_schema()
