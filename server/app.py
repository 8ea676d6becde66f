"""The app factory: routes, middleware, and the lifespan that opens the store and starts the
execution and completion services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from editor_core.completion import CompletionEngine
from editor_core.execution import ExecutionLimits, ExecutionService
from server import admin, history, models, openapi, routes
from server.admin_token import admin_digest
from server.asgi import PairpadApp, SocketRoute
from server.config import Settings, is_postgres, mask_url
from server.errors import EXCEPTION_HANDLERS, error_body
from server.hub import Hub
from server.logs import RequestLog
from server.metrics import Metrics
from server.openapi import ApiRoute, Operation
from server.services import Completer, Runner, Services
from server.store import SqlStore, Store
from server.warming import WarmingCompleter
from server.ws import viewer_endpoint, websocket_endpoint

log = logging.getLogger("pairpad")

DIST = Path(__file__).resolve().parent.parent / "static" / "dist"


def package_version() -> str:
    try:
        return version("pairpad")
    except PackageNotFoundError:
        return "0.0.0"


async def editor_page(request: Request) -> Response:
    index = DIST / "index.html"
    if not index.is_file():
        return JSONResponse(error_body("editor_not_built",
                                       "the web editor is not built; run scripts/build_editor"),
                            503)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})


class EditorAssets(StaticFiles):
    """The built editor under `/assets/`; 404 (not 500) while it is not built yet."""

    async def check_config(self) -> None:
        if DIST.is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not DIST.is_dir():
            raise HTTPException(404, "the web editor is not built")
        return await super().get_response(path, scope)


def execution_limits(settings: Settings) -> ExecutionLimits:
    return ExecutionLimits(
        wall_time_s=settings.run_timeout_seconds,
        cpu_time_s=max(1, int(settings.run_timeout_seconds + 0.999)),
        memory_bytes=settings.run_memory_mb * 2**20,
        output_bytes=settings.run_output_bytes,
        max_stdin_bytes=settings.run_stdin_bytes,
        max_code_bytes=settings.max_code_length * 4,
    )


async def open_store(settings: Settings) -> SqlStore:
    """PostgreSQL for a `postgresql://` --db (several processes), else a SQLite file."""
    options = {"keyframe_interval": settings.keyframe_interval,
               "history": settings.history_updates}
    if is_postgres(settings.db):
        from server.pgstore import PostgresStore  # asyncpg only where PostgreSQL is used

        return await PostgresStore.open(settings.db, **options)
    return await Store.open(settings.db, **options)


def create_app(settings: Settings, *, execution: Runner | None = None,
               completion: Completer | None = None) -> Starlette:
    """The app. `execution` and `completion` replace the real services (tests use fakes)."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings)
        app.state.admin_digest = await admin_digest(settings, store)
        runner: Runner = execution or ExecutionService(
            execution_limits(settings), max_concurrent=settings.run_concurrency,
            max_queue=settings.run_queue)
        completer: Completer = completion or WarmingCompleter(CompletionEngine(
            deadline_s=settings.completion_deadline_ms / 1000))
        await asyncio.gather(runner.start(), completer.start())
        hub = Hub(Services(settings, store, runner, completer, metrics))
        app.state.hub = hub
        if settings.redis:
            # redis only where a cluster is configured (docs/performance-collab.md "Idle
            # connections": ~8 MiB of every process otherwise)
            from server.bus import Bus
            from server.cluster import Cluster
            hub.cluster = Cluster(await Bus.open(settings.redis), hub)
            hub.cluster.start()
            log.info("event=cluster.joined process=%s", hub.cluster.id)
        interval = max(1.0, min(settings.unload_after_seconds / 2 or 60.0, 300.0))
        sweeper = asyncio.create_task(hub.run_sweeper(interval), name="sweeper")
        log.info("event=server.ready db=%s", mask_url(settings.db))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await hub.shutdown()
            if hub.cluster is not None:
                await hub.cluster.close()
            await asyncio.gather(runner.close(), completer.close())
            await store.close()
            log.info("event=server.stopped")

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    # The REST contract (docs/protocol.md "REST"): each ApiRoute carries what /openapi.json says
    # about it, so the document is built from this list and nothing else.
    app_routes = [
        Route("/", editor_page),
        Route("/r/{room_id}", editor_page),
        Route("/v/{link_id}", editor_page),
        ApiRoute("/rooms", {"POST": (routes.create_room, Operation(
            "Create a room", status=201, request=models.CreateRoomRequest,
            response=models.Room, errors=(400, 413, 422, 429)))}),
        ApiRoute("/rooms/{room_id}", {"GET": (routes.get_room, Operation(
            "A room's state", response=models.RoomState, errors=(404, 503)))}),
        ApiRoute("/rooms/{room_id}/links", {
            "POST": (routes.create_link, Operation(
                "Make a read-only link to the room", status=201,
                request=models.CreateLinkRequest, response=models.Link,
                errors=(400, 404, 413, 422, 429, 503))),
            "GET": (routes.list_links, Operation(
                "The room's read-only links that are not revoked", response=models.LinkList,
                errors=(404, 503))),
        }),
        ApiRoute("/rooms/{room_id}/links/{link_id}", {"DELETE": (routes.revoke_link, Operation(
            "Revoke a read-only link and close its viewers with 4403", status=204,
            errors=(404, 503)))}),
        ApiRoute("/links/{link_id}", {"GET": (routes.get_link, Operation(
            "The room as a read-only link shows it (without its id)",
            response=models.SharedRoom, errors=(403, 404, 503)))}),
        ApiRoute("/rooms/{room_id}/history", {"GET": (history.history, Operation(
            "A room's updates with their authors, newest first", response=models.HistoryPage,
            errors=(404, 422), query=models.HistoryQuery))}),
        ApiRoute("/rooms/{room_id}/versions/{version:int}", {"GET": (history.version, Operation(
            "The document at a version of the history", response=models.VersionResponse,
            errors=(404, 410)))}),
        ApiRoute("/rooms/{room_id}/blame", {"GET": (history.blame, Operation(
            "Who last changed each line of the document", response=models.Blame,
            errors=(404,)))}),
        ApiRoute("/rooms/{room_id}/restore", {"POST": (history.restore, Operation(
            "Make the document a version's again, as one new update",
            request=models.RestoreRequest, response=models.RestoreResponse,
            errors=(400, 404, 410, 413, 422, 503)))}),
        ApiRoute("/autocomplete", {"POST": (routes.autocomplete, Operation(
            "Completions and symbols at a cursor", request=models.AutocompleteRequest,
            response=models.AutocompleteResponse, errors=(400, 413, 422)))}),
        ApiRoute("/diagnostics", {"POST": (routes.diagnostics, Operation(
            "Syntax errors and pyflakes' findings", request=models.DiagnosticsRequest,
            response=models.DiagnosticsResponse, errors=(400, 413, 422, 429)))}),
        ApiRoute("/signature", {"POST": (routes.signature, Operation(
            "The calls around a cursor", request=models.SignatureRequest,
            response=models.SignatureResponse, errors=(400, 413, 422)))}),
        ApiRoute("/hover", {"POST": (routes.hover, Operation(
            "What the name at a cursor is", request=models.HoverRequest,
            response=models.HoverResponse, errors=(400, 413, 422)))}),
        ApiRoute("/definition", {"POST": (routes.definition, Operation(
            "Where the name at a cursor is defined", request=models.DefinitionRequest,
            response=models.DefinitionResponse, errors=(400, 413, 422)))}),
        ApiRoute("/execute", {"POST": (routes.execute, Operation(
            "Run code in the sandbox", request=models.ExecuteRequest,
            response=models.ExecutionResult, errors=(400, 413, 422, 429)))}),
        ApiRoute("/admin/rooms", {"GET": (admin.list_rooms, Operation(
            "List rooms, most recently active first", response=models.AdminRoomList,
            errors=(401, 422), admin=True, query=models.RoomListQuery))}),
        ApiRoute("/admin/rooms/{room_id}", {
            "GET": (admin.get_room, Operation(
                "Inspect a room", response=models.AdminRoomDetail, errors=(401, 404, 503),
                admin=True)),
            "DELETE": (admin.delete_room, Operation(
                "Delete a room and close its connections with 4410", status=204,
                errors=(401, 404), admin=True)),
        }),
        ApiRoute("/health", {"GET": (routes.health, Operation(
            "Liveness and load", response=models.Health))}),
        ApiRoute("/ready", {"GET": (routes.ready, Operation(
            "Readiness: 200 once completions are warm, 503 before", response=models.Readiness,
            also=(503,)))}),
        ApiRoute("/metrics", {"GET": (routes.metrics, Operation(
            "Prometheus metrics (text format)", text="Prometheus text exposition"))}),
        Route("/openapi.json", openapi_json),
        SocketRoute("/ws/view/{link_id}/{client_id}", viewer_endpoint),
        SocketRoute("/ws/{room_id}/{client_id}", websocket_endpoint),
        Mount("/assets", EditorAssets(directory=DIST, check_dir=False)),
    ]
    middleware = [Middleware(RequestLog, metrics=metrics)]
    if settings.cors_origin_list:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"],
        ))
    app = PairpadApp(routes=app_routes, middleware=middleware,
                     exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    spec = openapi.build(package_version(), app.routes)
    app.state.settings = settings
    return app
