"""The app class: Starlette, with each WebSocket session sent around the layers that only pass
it on (docs/performance-collab.md "Idle connections").

A WebSocket session lives as long as its socket, and so does the suspended coroutine of every
layer between uvicorn and the endpoint. Starlette's ServerErrorMiddleware, our RequestLog and
Starlette's CORSMiddleware act on HTTP only and hand a WebSocket scope straight on; the router
only matches it; a route's `websocket_session` wraps the endpoint in the same exception
handlers as the ExceptionMiddleware. So a WebSocket scope that a `SocketRoute` matches goes to
its endpoint through the ExceptionMiddleware alone (the app's exception handlers, once), with
the scope keys the router sets. Any other scope takes the whole stack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from server.logs import RequestLog

Endpoint = Callable[[WebSocket], Awaitable[None]]

# User middleware known to hand a WebSocket scope on untouched; with any other, every
# WebSocket takes the whole stack.
PASS_WEBSOCKETS_ON: tuple[object, ...] = (RequestLog, CORSMiddleware)


class SocketRoute(WebSocketRoute):
    """A WebSocket route to an async function and nothing else (no route middleware), so the
    app may call the function itself."""

    def __init__(self, path: str, endpoint: Endpoint, *, name: str | None = None) -> None:
        super().__init__(path, endpoint, name=name)
        self.session_endpoint = endpoint


def _session(endpoint: Endpoint) -> ASGIApp:
    """Starlette's `websocket_session` without its exception wrapper (the caller's is the
    same)."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await endpoint(WebSocket(scope, receive=receive, send=send))
    return app


class PairpadApp(Starlette):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shortcut: dict[int, ASGIApp] | None = None  # by id(): routes define __eq__

    def websocket_shortcut(self) -> dict[int, ASGIApp]:
        """Each `SocketRoute`'s endpoint behind its own ExceptionMiddleware, built as Starlette
        builds the app's (the 500/Exception handler belongs to ServerErrorMiddleware, which
        passes WebSockets on); empty when another layer might act on WebSockets."""
        if self._shortcut is None:
            handlers = {key: value for key, value in self.exception_handlers.items()
                        if key not in (500, Exception)}
            passing = (self.max_body_size is None  # its limit middleware also passes them on
                       and self.router.middleware_stack == self.router.app
                       and all(m.cls in PASS_WEBSOCKETS_ON for m in self.user_middleware))
            self._shortcut = {
                id(route): ExceptionMiddleware(_session(route.session_endpoint),
                                               handlers=handlers, debug=self.debug)
                for route in self.router.routes if isinstance(route, SocketRoute)
            } if passing else {}
        return self._shortcut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (shortcut := self.websocket_shortcut()):
            for route in self.router.routes:  # in the router's order: the first match wins
                match, child_scope = route.matches(scope)
                if match is Match.NONE:
                    continue
                app = shortcut.get(id(route)) if match is Match.FULL else None
                if app is None:
                    break  # not a SocketRoute: the whole stack, as for any other scope
                scope["app"] = self
                scope.setdefault("router", self.router)
                scope["route"] = route
                scope.update(child_scope)
                await app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
