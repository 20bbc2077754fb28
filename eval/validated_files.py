"""Reading a JSON file through its schema: the value, or one error naming the file, the field and what is expected."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import EvalError

MAX_SHOWN = 60


class InvalidFileError(EvalError):
    """A file `mmcache eval` reads back is missing, unreadable, not JSON, or does not match its schema."""


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _first_problem(error: ValidationError, tag_field: str | None = None, tag: Any = None) -> str:
    problem = error.errors()[0]
    location = problem["loc"][1:] if tag is not None and problem["loc"][:1] == (tag,) else problem["loc"]
    where = ".".join(str(part) for part in location)
    count = error.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
        expected = ", ".join(repr(value) for value in problem.get("ctx", {}).get("expected_tags", "").split(", ") if value)
        return f"field '{tag_field}' must be one of {expected or 'the known kinds'}, got {_shown(tag)}{more}"
    if not where:
        return f"expected a JSON object, got {_shown(problem['input'])}{more}"
    if problem["type"] == "missing":
        return f"field '{where}' is missing{more}"
    message = problem["msg"][0].lower() + problem["msg"][1:]
    return f"field '{where}': {message}, got {_shown(problem['input'])}{more}"


def read_validated(path: str | os.PathLike, schema: type[BaseModel] | TypeAdapter, tag_field: str | None = None) -> Any:
    """The validated content of ``path`` (a model instance); ``InvalidFileError`` otherwise.

    ``tag_field`` names the discriminator of a union schema (e.g. a record's ``status``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidFileError(f"{file} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidFileError(f"{file} cannot be read: {getattr(error, 'strerror', None) or error}.") from None
    if not text.strip():
        raise InvalidFileError(f"{file} is empty.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidFileError(f"{file} is not valid JSON: {error.msg} (line {error.lineno}, column "
                               f"{error.colno}; truncated?).") from None
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(data)
        return schema.model_validate(data)
    except ValidationError as error:
        # a discriminated union puts the tag's value (e.g. "done") first in every error location
        tag = data.get(tag_field) if tag_field and isinstance(data, dict) else None
        raise InvalidFileError(f"{file} is invalid: {_first_problem(error, tag_field, tag)}.") from None


def as_dict(value: BaseModel) -> dict[str, Any]:
    """A validated model as the plain dict the rest of the code reads (field names as written on disk)."""
    return value.model_dump(mode="json", by_alias=True)
