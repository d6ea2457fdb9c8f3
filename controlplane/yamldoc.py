"""YAML documents validated by pydantic models, with errors that name file, line and field.

Shared by the policy loader and the playbook loader: a bad edit must point at the line to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
Marks = dict[Loc, int]
ModelT = TypeVar("ModelT", bound=BaseModel)


class DocumentError(ValueError):
    """A document is missing or invalid; the message names the file, line and field."""

    def __init__(self, file: str, line: int | None, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field or '<document>'}: {reason}")


def load_model(
    path: Path, model: type[ModelT], raw: bytes, error: type[DocumentError] = DocumentError
) -> tuple[ModelT, Marks]:
    """Parse one YAML file with line marks and validate it against its model."""
    data, marks = parse_with_marks(path, raw, error)
    if not isinstance(data, dict):
        raise error(str(path), 1, "", "the document must be a mapping")
    try:
        return model.model_validate(data), marks
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(errors[0]["loc"])
        reason = errors[0]["msg"]
        if len(errors) > 1:
            reason += (
                f" (and {len(errors) - 1} more: "
                + "; ".join(f"{dotted(tuple(e['loc']))}: {e['msg']}" for e in errors[1:4])
                + ")"
            )
        raise error(str(path), line_of(marks, loc), dotted(loc), reason) from exc


def parse_with_marks(
    path: Path, raw: bytes, error: type[DocumentError] = DocumentError
) -> tuple[Any, Marks]:
    """Plain data from YAML text, with the line of every path; duplicate keys are errors."""
    marks: Marks = {}
    try:
        text = raw.decode("utf-8")
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = _to_python(loader, node, (), marks, str(path), error) if node else {}
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        raise error(str(path), None, "", f"not UTF-8 text: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise error(str(path), line, "", f"not valid YAML: {exc}") from exc
    return data, marks


def _to_python(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    marks: Marks,
    file: str,
    error: type[DocumentError],
) -> Any:
    marks[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                line = key_node.start_mark.line + 1
                raise error(file, line, dotted((*loc, key)), f"duplicate key {key!r}")
            out[key] = _to_python(loader, value_node, (*loc, key), marks, file, error)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(loader, n, (*loc, i), marks, file, error) for i, n in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def line_of(marks: Marks, loc: Loc) -> int | None:
    """The line of the deepest known prefix of an error location."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in marks:
            return marks[loc[:end]]
    return None


def dotted(loc: Loc) -> str:
    """An error location as people write it: steps.2.with.service."""
    return ".".join(str(part) for part in loc)
