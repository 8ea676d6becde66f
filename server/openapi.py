"""`GET /openapi.json`: the OpenAPI 3.1 description of the REST API, generated from the app's
own routes and the pydantic wire models (server/models.py), so the document can drift from
neither the routing nor validation.

Each documented route is an `ApiRoute` in app.py's route list, carrying its `Operation`: the
facts the routing cannot know (summary, bodies, statuses). `build` walks the app's routes;
a route that is not an `ApiRoute` (the editor pages, the WebSocket, this document) is not
part of the REST contract and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Route

from server import models

_ERRORS = {
    400: "Malformed JSON (`invalid_json`)",
    401: "Missing or wrong admin token (`unauthorized`)",
    403: "The read-only link was revoked (`link_revoked`)",
    404: "Unknown room or link (`room_not_found`, `link_not_found`)",
    413: "Body or code over the configured size (`too_large`)",
    422: "Schema violation (`validation_error`) or `unsupported_language`",
    429: "At capacity (`busy`), with a `Retry-After` header",
    503: "Several processes only: the room's owner did not answer (`room_moved`); retry",
}


@dataclass(frozen=True)
class QueryInt:
    """A non-negative integer query parameter."""

    name: str
    default: int
    maximum: int | None = None


@dataclass(frozen=True)
class Operation:
    """What /openapi.json says about one method of one path.

    `response` is the JSON body of the success `status` (None: no body); `text` instead
    describes a text/plain body. `errors` are the error statuses, each with the contract's
    error body. `admin` routes need the bearer token (docs/protocol.md "REST").
    """

    summary: str
    status: int = 200
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    text: str | None = None
    errors: tuple[int, ...] = ()
    admin: bool = False
    query: tuple[QueryInt, ...] = ()


class ApiRoute(Route):
    """A Starlette route of one method that carries its OpenAPI `Operation`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], operation: Operation, *,
                 method: str = "GET") -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method = method
        self.operation = operation


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _wire_path(path: str) -> str:
    """`/rooms/{room_id}` → `/rooms/{roomId}`: parameters named as on the wire."""
    return _PARAM.sub(lambda m: "{" + to_camel(m.group(1)) + "}", path)


def _parameters(route: ApiRoute) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": to_camel(name), "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    for q in route.operation.query:
        schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        if q.maximum is not None:
            schema["maximum"] = q.maximum
        schema["default"] = q.default
        params.append({"name": q.name, "in": "query", "schema": schema})
    return params


def build(version: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    api = [r for r in routes if isinstance(r, ApiRoute)]
    used = [m for r in api for m in (r.operation.request, r.operation.response)
            if m is not None] + [models.ErrorResponse]
    unique = list(dict.fromkeys(used))
    refs, schema = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization")
         for m in unique],
        by_alias=True, ref_template="#/components/schemas/{model}",
    )
    error_ref = refs[(models.ErrorResponse, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for route in api:
        spec = route.operation
        op: dict[str, Any] = {"summary": spec.summary, "responses": {}}
        if spec.admin:
            op["security"] = [{"adminToken": []}]
        if parameters := _parameters(route):
            op["parameters"] = parameters
        if spec.request is not None:
            ref = refs[(spec.request, "validation")]
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": ref}}}
        if spec.text is not None:
            ok: dict[str, Any] = {"description": spec.text,
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}
        else:
            ok = {"description": "Success"}
            if spec.response is not None:
                ok["content"] = {"application/json": {
                    "schema": refs[(spec.response, "serialization")]}}
        op["responses"][str(spec.status)] = ok
        for code in spec.errors:
            op["responses"][str(code)] = {"description": _ERRORS[code],
                                          "content": {"application/json": {"schema": error_ref}}}
        paths.setdefault(_wire_path(route.path), {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pairpad", "version": version,
                 "description": "REST half of the Pairpad wire contract; the WebSocket half "
                                "is described in docs/protocol.md."},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }
