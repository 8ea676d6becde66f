"""`GET /openapi.json`: the OpenAPI 3.1 description of the REST API, generated from the app's
own routes and the pydantic wire models (server/models.py), so the document can drift from
neither the routing nor validation.

Each documented path is one `ApiRoute` in app.py's route list, carrying for each method it
serves the endpoint and its `Operation`: the facts the routing cannot know (summary,
statuses). Bodies and query parameters are the pydantic models that parse them; a body is
optional when its model accepts `{}` (an empty body reads as `{}`, server/body.py). `build`
walks the app's routes; a route that is not an `ApiRoute` (the editor pages, the WebSocket,
this document) is not part of the REST contract and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server import models

_ERRORS = {
    400: "Malformed JSON (`invalid_json`)",
    401: "Missing or wrong admin token (`unauthorized`)",
    403: "The read-only link was revoked (`link_revoked`)",
    404: "Unknown room or link (`room_not_found`, `link_not_found`), or a version the room"
         " has not reached (`version_not_found`)",
    410: "A version the history no longer keeps (`history_gone`)",
    413: "Body or code over the configured size (`too_large`)",
    422: "Schema violation (`validation_error`) or `unsupported_language`",
    429: "At capacity (`busy`), with a `Retry-After` header",
    503: "Several processes only: the room's owner did not answer (`room_moved`); retry",
}


@dataclass(frozen=True)
class Operation:
    """What /openapi.json says about one method of one path.

    `request` parses the JSON body and `query` the query string (server/body.py).
    `response` is the JSON body of the success `status` (None: no body), and of the `also`
    statuses too (`/ready`'s 503); `text` instead describes a text/plain body. `errors` are
    the error statuses, each with the contract's error body. `admin` routes need the bearer
    token (docs/protocol.md "REST").
    """

    summary: str
    status: int = 200
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    text: str | None = None
    errors: tuple[int, ...] = ()
    admin: bool = False
    query: type[BaseModel] | None = None
    also: tuple[int, ...] = ()


Endpoint = Callable[[Request], Awaitable[Response]]


class ApiRoute(Route):
    """One path with every method it serves, each with its endpoint and `Operation`. One route
    per path, so a 405 there lists in `Allow` every method the path serves (RFC 9110 15.5.6);
    `HEAD` is served by the `GET` endpoint, as Starlette does."""

    def __init__(self, path: str, methods: Mapping[str, tuple[Endpoint, Operation]]) -> None:
        self.endpoints = {method: endpoint for method, (endpoint, _) in methods.items()}
        self.operations = {method: operation for method, (_, operation) in methods.items()}
        super().__init__(path, self._dispatch, methods=list(methods))

    async def _dispatch(self, request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await self.endpoints[method](request)


_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def _wire_path(path: str) -> str:
    """`/rooms/{room_id}` → `/rooms/{roomId}`: parameters named as on the wire."""
    return _PARAM.sub(lambda m: "{" + to_camel(m.group(1)) + "}", path)


def _parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": to_camel(name), "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0} if converter == "int" else
         {"type": "string"}}
        for name, converter in _PARAM.findall(path)
    ]
    if operation.query is not None:
        schema = operation.query.model_json_schema(by_alias=True)
        params += [{"name": name, "in": "query",
                    "schema": {k: v for k, v in prop.items() if k != "title"}}
                   for name, prop in schema["properties"].items()]
    return params


def _body_required(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def build(version: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    api = [(r.path, method, op) for r in routes if isinstance(r, ApiRoute)
           for method, op in r.operations.items()]
    used = [m for _, _, op in api for m in (op.request, op.response)
            if m is not None] + [models.ErrorResponse]
    unique = list(dict.fromkeys(used))
    refs, schema = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization")
         for m in unique],
        by_alias=True, ref_template="#/components/schemas/{model}",
    )
    error_ref = refs[(models.ErrorResponse, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for path, method, spec in api:
        op: dict[str, Any] = {"summary": spec.summary, "responses": {}}
        if spec.admin:
            op["security"] = [{"adminToken": []}]
        if parameters := _parameters(path, spec):
            op["parameters"] = parameters
        if spec.request is not None:
            ref = refs[(spec.request, "validation")]
            op["requestBody"] = {"required": _body_required(spec.request),
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
        for code in spec.also:
            op["responses"][str(code)] = {**ok, "description": "Not ready yet"}
        for code in spec.errors:
            op["responses"][str(code)] = {"description": _ERRORS[code],
                                          "content": {"application/json": {"schema": error_ref}}}
        paths.setdefault(_wire_path(path), {})[method.lower()] = op
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
