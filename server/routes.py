"""Public REST routes (docs/protocol.md "REST")."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from editor_core.errors import Busy, TooLarge
from editor_core.positions import snap_utf16, utf16_length
from server import models
from server.body import parse_json
from server.errors import ValidationFailed
from server.hub import Hub
from server.models import (
    AutocompleteRequest,
    CreateLinkRequest,
    CreateRoomRequest,
    DefinitionRequest,
    DiagnosticsRequest,
    ExecuteRequest,
    HoverRequest,
    SignatureRequest,
    dump_completion,
    dump_definition,
    dump_diagnostics,
    dump_execution_result,
    dump_hover,
    dump_signatures,
)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def check_cursor(code: str, position: int) -> int:
    """`cursorPosition` as the contract takes it (docs/protocol.md "REST"): within
    `0..len(code)` UTF-16 units and not inside a surrogate pair, else 422 `validation_error`."""
    if snap_utf16(code, position) != position:
        why = ("splits a surrogate pair" if position <= utf16_length(code)
               else "must be within 0..len(code) in UTF-16 units")
        raise ValidationFailed(f"cursorPosition {why}", details=[
            {"loc": ["cursorPosition"], "message": why, "type": "out_of_range"}])
    return position


def check_code_size(code: str, limit: int) -> None:
    if utf16_length(code) > limit:
        raise TooLarge(f"code is over the {limit}-unit limit")


async def create_room(request: Request) -> Response:
    hub = hub_of(request)
    body = await parse_json(request, CreateRoomRequest, hub.settings.max_request_bytes)
    check_code_size(body.code, hub.settings.max_document_length)
    room = await hub.create(body.name, body.code)
    return JSONResponse(room.model_dump(by_alias=True), status_code=201,
                        headers={"Location": f"/rooms/{room.room_id}"})


async def get_room(request: Request) -> Response:
    return JSONResponse(await hub_of(request).state(request.path_params["room_id"]))


async def create_link(request: Request) -> Response:
    hub = hub_of(request)
    body = await parse_json(request, CreateLinkRequest, hub.settings.max_request_bytes)
    link = await hub.links.create(request.path_params["room_id"], body.role)
    return JSONResponse(link.model_dump(by_alias=True), status_code=201,
                        headers={"Location": link.url})


async def list_links(request: Request) -> Response:
    links = await hub_of(request).links.list(request.path_params["room_id"])
    return JSONResponse(links.model_dump(by_alias=True))


async def revoke_link(request: Request) -> Response:
    params = request.path_params
    await hub_of(request).links.revoke(params["room_id"], params["link_id"])
    return Response(status_code=204)


async def get_link(request: Request) -> Response:
    return JSONResponse(await hub_of(request).links.shared_state(request.path_params["link_id"]))


async def autocomplete(request: Request) -> Response:
    hub = hub_of(request)
    body = await parse_json(request, AutocompleteRequest, hub.settings.max_request_bytes)
    check_code_size(body.code, hub.settings.max_code_length)
    position = check_cursor(body.code, body.cursor_position)
    result = await hub.services.completion.complete(body.code, position,
                                                     deadline_s=body.deadline_ms / 1000)
    if result is None:  # only while the engine shuts down: requests without a key stay current
        raise Busy("completion is not available right now", retry_after_ms=1000)
    return JSONResponse(dump_completion(result))


async def diagnostics(request: Request) -> Response:
    hub = hub_of(request)
    body = await parse_json(request, DiagnosticsRequest, hub.settings.max_request_bytes)
    check_code_size(body.code, hub.settings.max_code_length)
    items = await hub.services.completion.diagnostics(body.code)
    if items is None:  # the worker failed, ran past its limit, or is not up yet
        raise Busy("diagnostics are not available right now", retry_after_ms=1000)
    return JSONResponse({"items": dump_diagnostics(items)})


async def _code_at_cursor(request: Request, model: type[SignatureRequest]
                          ) -> tuple[Hub, str, int]:
    """The hub, code and cursor of a `/signature`, `/hover` or `/definition` request, the cursor
    checked as for `/autocomplete`."""
    hub = hub_of(request)
    body = await parse_json(request, model, hub.settings.max_request_bytes)
    check_code_size(body.code, hub.settings.max_code_length)
    return hub, body.code, check_cursor(body.code, body.cursor_position)


async def signature(request: Request) -> Response:
    hub, code, position = await _code_at_cursor(request, SignatureRequest)
    found = await hub.services.completion.signatures(code, position)
    return JSONResponse({"signatures": dump_signatures(found)})


async def hover(request: Request) -> Response:
    hub, code, position = await _code_at_cursor(request, HoverRequest)
    return JSONResponse(dump_hover(await hub.services.completion.hover(code, position)))


async def definition(request: Request) -> Response:
    hub, code, position = await _code_at_cursor(request, DefinitionRequest)
    return JSONResponse(dump_definition(await hub.services.completion.definition(code, position)))


async def execute(request: Request) -> Response:
    hub = hub_of(request)
    body = await parse_json(request, ExecuteRequest, hub.settings.max_request_bytes)
    check_code_size(body.code, hub.settings.max_code_length)
    result = await hub.services.execution.run(body.code, body.stdin)
    hub.services.metrics.runs.labels(result.status).inc()
    return JSONResponse(dump_execution_result(result))


async def health(request: Request) -> Response:
    hub = hub_of(request)
    execution = hub.services.execution
    return JSONResponse(models.Health(
        status="ok", rooms_loaded=len(hub.rooms), connections=hub.connection_count(),
        runs_running=execution.running, runs_queued=execution.queued,
        completion="ready" if completion_ready(hub) else "warming",
        process=hub.cluster.id if hub.cluster is not None else None,
    ).model_dump(by_alias=True))


def completion_ready(hub: Hub) -> bool:
    return getattr(hub.services.completion, "ready", True) is not False


async def ready(request: Request) -> Response:
    """Readiness, beside /health's liveness: 503 until completions are warm, so a balancer
    or a test waits for Jedi answers (docs/protocol.md "REST")."""
    warm = completion_ready(hub_of(request))
    return JSONResponse(models.Readiness(status="ready" if warm else "not_ready")
                        .model_dump(by_alias=True), 200 if warm else 503)


async def metrics(request: Request) -> Response:
    registry = hub_of(request).services.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
