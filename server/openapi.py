"""`GET /openapi.json`: the OpenAPI 3.1 description of the REST API, generated from the
pydantic wire models (server/models.py), so the document cannot drift from validation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server import models

_ERRORS = {
    "400": "Malformed JSON (`invalid_json`)",
    "401": "Missing or wrong admin token (`unauthorized`)",
    "404": "Unknown room (`room_not_found`)",
    "413": "Body or code over the configured size (`too_large`)",
    "422": "Schema violation (`validation_error`) or `unsupported_language`",
    "429": "At capacity (`busy`), with a `Retry-After` header",
}

# (method, path, summary, request model, success status, response model or None, error statuses)
_ROUTES: list[tuple[str, str, str, type[BaseModel] | None, str, type[BaseModel] | None,
                    list[str]]] = [
    ("post", "/rooms", "Create a room", models.CreateRoomRequest, "201", models.Room,
     ["400", "413", "422", "429"]),
    ("get", "/rooms/{roomId}", "A room's state", None, "200", models.RoomState, ["404"]),
    ("post", "/autocomplete", "Completions and symbols at a cursor", models.AutocompleteRequest,
     "200", models.AutocompleteResponse, ["400", "413", "422"]),
    ("post", "/execute", "Run code in the sandbox", models.ExecuteRequest, "200",
     models.ExecutionResult, ["400", "413", "422", "429"]),
    ("get", "/admin/rooms", "List rooms, most recently active first", None, "200",
     models.AdminRoomList, ["401", "422"]),
    ("get", "/admin/rooms/{roomId}", "Inspect a room", None, "200", models.AdminRoomDetail,
     ["401", "404"]),
    ("delete", "/admin/rooms/{roomId}", "Delete a room and close its connections with 4410",
     None, "204", None, ["401", "404"]),
    ("get", "/health", "Liveness and load", None, "200", models.Health, []),
]


def build(version: str) -> dict[str, Any]:
    used = [m for r in _ROUTES for m in (r[3], r[5]) if m is not None] + [models.ErrorResponse]
    unique = list(dict.fromkeys(used))
    refs, schema = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization")
         for m in unique],
        by_alias=True, ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request, status, response, errors in _ROUTES:
        op: dict[str, Any] = {"summary": summary, "responses": {}}
        if path.startswith("/admin"):
            op["security"] = [{"adminToken": []}]
        if "{roomId}" in path:
            op["parameters"] = [{"name": "roomId", "in": "path", "required": True,
                                 "schema": {"type": "string"}}]
        if path == "/admin/rooms":
            op["parameters"] = [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                            "maximum": 500, "default": 50}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                             "default": 0}},
            ]
        if request is not None:
            ref = refs[(request, "validation")]
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": ref}}}
        ok: dict[str, Any] = {"description": "Success"}
        if response is not None:
            ok["content"] = {"application/json": {"schema": refs[(response, "serialization")]}}
        op["responses"][status] = ok
        error_ref = refs[(models.ErrorResponse, "serialization")]
        for code in errors:
            op["responses"][code] = {"description": _ERRORS[code],
                                     "content": {"application/json": {"schema": error_ref}}}
        paths.setdefault(path, {})[method] = op
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics (text format)", "responses": {
        "200": {"description": "Prometheus text exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
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
