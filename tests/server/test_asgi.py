"""WebSockets go around the layers that only pass them on (server/asgi.py) and still behave as
through Starlette's whole stack: counted, closed with their codes, errors handled alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException, WebSocketException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from editor_core.errors import InvalidMessage
from server.asgi import PairpadApp, SocketRoute
from server.errors import EXCEPTION_HANDLERS
from server.logs import RequestLog
from server.metrics import Metrics
from tests.server.conftest import new_room
from tests.server.wsclient import recv_type


def test_the_app_takes_the_shortcut_and_counts_the_connection(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, PairpadApp)
    assert len(app.websocket_shortcut()) == 2  # the editor's and the viewer's routes
    room_id = new_room(client)
    with client.websocket_connect(f"/ws/{room_id}/alice?name=Alice") as ws:
        recv_type(ws, "init")
        assert "pairpad_connections 1.0" in client.get("/metrics").text
        assert client.get("/health").json()["connections"] == 1
    assert "pairpad_connections 0.0" in client.get("/metrics").text


async def accepts_then_fails(websocket: WebSocket) -> None:
    await websocket.accept()
    raise ValueError("boom")


async def refuses_typed(websocket: WebSocket) -> None:
    raise InvalidMessage("not now")


async def refuses_with_code(websocket: WebSocket) -> None:
    raise WebSocketException(4404, "gone")


async def refuses_http(websocket: WebSocket) -> None:
    raise HTTPException(418, "a teapot")


async def echoes(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(f"{websocket.path_params['x']}:{text}")
    await websocket.close(4410, "bye")


def both_apps(middleware: list[Middleware]) -> list[Starlette]:
    routes = [SocketRoute("/fails/{x}", accepts_then_fails),
              SocketRoute("/typed/{x}", refuses_typed),
              SocketRoute("/code/{x}", refuses_with_code), SocketRoute("/echo/{x}", echoes),
              SocketRoute("/http/{x}", refuses_http)]
    return [cls(routes=list(routes), middleware=middleware, exception_handlers=EXCEPTION_HANDLERS)
            for cls in (Starlette, PairpadApp)]


def outcome(app: Starlette, path: str) -> tuple[str, Any]:
    """What a client sees: the echo and close, or the error the connection ends with."""
    with TestClient(app, raise_server_exceptions=False) as client:
        try:
            with client.websocket_connect(path) as ws:
                ws.send_text("hi")
                echoed = ws.receive_text()
                message = ws.receive()
                return "echo", (echoed, message.get("code"), message.get("reason"))
        except WebSocketDenialResponse as exc:  # an HTTP answer instead of the upgrade
            return "denied", (exc.status_code, exc.text)
        except WebSocketDisconnect as exc:
            return "disconnect", (exc.code, exc.reason)
        except Exception as exc:  # the very class is what is compared
            return "error", type(exc).__name__


STANDARD = [Middleware(RequestLog, metrics=Metrics()),
            Middleware(CORSMiddleware, allow_origins=["http://example.test"])]


@pytest.mark.parametrize("path", ["/echo/7", "/fails/1", "/typed/1", "/code/1", "/http/1",
                                  "/nowhere"])
def test_every_outcome_is_the_whole_stacks(path: str) -> None:
    starlette, pairpad = both_apps(STANDARD)
    assert isinstance(pairpad, PairpadApp)
    assert pairpad.websocket_shortcut()
    assert outcome(pairpad, path) == outcome(starlette, path)
    if path == "/echo/7":
        assert outcome(pairpad, path) == ("echo", ("7:hi", 4410, "bye"))
    if path == "/http/1":  # the app's HTTPException handler answers over HTTP
        kind, (status, _) = outcome(pairpad, path)
        assert (kind, status) == ("denied", 418)


def test_handlers_by_status_code_and_class_are_picked_as_starlette_picks_them() -> None:
    async def teapot(websocket: WebSocket, exc: Exception) -> Response:
        return PlainTextResponse("by status", status_code=418)

    async def value_error(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(4500, "by class")

    handlers: dict[Any, Any] = {418: teapot, LookupError: value_error}
    routes = [SocketRoute("/http/{x}", refuses_http), SocketRoute("/key/{x}", raises_key_error)]
    apps = [cls(routes=list(routes), exception_handlers=handlers)
            for cls in (Starlette, PairpadApp)]
    assert isinstance(apps[1], PairpadApp)
    assert apps[1].websocket_shortcut()
    for path, expected in (("/http/1", ("denied", (418, "by status"))),
                           ("/key/1", ("disconnect", (4500, "by class")))):
        assert outcome(apps[1], path) == outcome(apps[0], path) == expected


async def raises_key_error(websocket: WebSocket) -> None:
    await websocket.accept()
    raise KeyError("nothing")  # a LookupError: its handler is found through the MRO


def test_a_handler_that_is_not_a_coroutine_function_turns_the_shortcut_off() -> None:
    def sync_handler(websocket: WebSocket, exc: Exception) -> None:
        return None

    app = PairpadApp(routes=[SocketRoute("/echo/{x}", echoes)],
                     exception_handlers={ValueError: sync_handler})
    assert app.websocket_shortcut() == {}


def recording(seen: list[str]) -> Callable[[ASGIApp], ASGIApp]:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])
            await app(scope, receive, send)
        return middleware
    return factory


def test_a_middleware_that_may_act_on_websockets_turns_the_shortcut_off() -> None:
    seen: list[str] = []
    _, pairpad = both_apps([*STANDARD, Middleware(recording(seen))])
    assert isinstance(pairpad, PairpadApp)
    assert pairpad.websocket_shortcut() == {}
    assert outcome(pairpad, "/echo/3") == ("echo", ("3:hi", 4410, "bye"))
    assert "websocket" in seen


def test_http_still_takes_the_whole_stack() -> None:
    metrics = Metrics()
    app = PairpadApp(routes=[SocketRoute("/echo/{x}", echoes)],
                     middleware=[Middleware(RequestLog, metrics=metrics)])
    with TestClient(app) as client:
        assert client.get("/echo/1").status_code == 404
    assert metrics.registry.get_sample_value(
        "pairpad_http_request_duration_seconds_count",
        {"method": "GET", "route": "unmatched", "status": "404"}) == 1
