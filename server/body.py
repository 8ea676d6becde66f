"""Reading a JSON request body under a size limit, enforced while it is read: a client that
streams gigabytes is cut off at the limit, not after buffering it all (413, docs/protocol.md
"Errors")."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from editor_core.errors import TooLarge
from server.errors import InvalidJson, ValidationFailed, from_validation, validation_details

Model = TypeVar("Model", bound=BaseModel)

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds half of a UTF-16 pair (`"\\ud800"`): such text
    cannot be stored or sent back as UTF-8, so it is refused at the door."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(lone_surrogate(k) or lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(lone_surrogate(v) for v in value)
    return False


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_json(request: Request, model: type[Model], limit: int) -> Model:
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object",
                               details=[{"loc": [], "message": "expected an object",
                                         "type": "dict_type"}])
    if lone_surrogate(data):
        raise ValidationFailed("request body holds a lone UTF-16 surrogate", details=[
            {"loc": [], "message": "text must be valid Unicode", "type": "string_unicode"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_query(request: Request, model: type[Model]) -> Model:
    """The query string as `model` (its fields' names as on the wire); 422 names the
    parameter and what it must be (`limit must be an integer`)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        details = [{**d, "loc": ["query", *d["loc"]]} for d in validation_details(exc)]
        first = details[0]
        raise ValidationFailed(f"{first['loc'][-1]}: {first['message']}",
                               details=details) from None
