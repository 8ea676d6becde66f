"""Reading a JSON request body under a size limit, enforced while it is read: a client that
streams gigabytes is cut off at the limit, not after buffering it all (413, docs/protocol.md
"Errors")."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from editor_core.errors import TooLarge
from server.errors import InvalidJson, ValidationFailed, from_validation

Model = TypeVar("Model", bound=BaseModel)


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
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None
