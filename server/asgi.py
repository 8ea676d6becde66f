"""The app class: Starlette, with each WebSocket session sent around the layers that only pass
it on (docs/performance-collab.md "Idle connections").

A WebSocket session lives as long as its socket, and so does the suspended coroutine of every
layer between uvicorn and the endpoint. Starlette's ServerErrorMiddleware, our RequestLog and
Starlette's CORSMiddleware act on HTTP only and hand a WebSocket scope straight on; the router
only matches it; a route's `websocket_session` wraps the endpoint in the same exception
handlers as the ExceptionMiddleware. So a WebSocket scope that a `SocketRoute` matches goes to
its endpoint through one frame that applies the app's exception handlers as the
ExceptionMiddleware would (`_session`), with the scope keys the router sets. Any other scope
takes the whole stack."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException, WebSocketException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send
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


class Handlers:
    """An app's exception handlers as Starlette's ExceptionMiddleware holds them: its own for
    `HTTPException` and `WebSocketException`, then the app's, by class or by status code.
    All coroutine functions (`all_async`): Starlette would run any other in a thread."""

    def __init__(self, handlers: Mapping[Any, ExceptionHandler], debug: bool) -> None:
        defaults = ExceptionMiddleware(_unused, debug=debug)
        self.by_class: dict[type[Exception], ExceptionHandler] = {
            HTTPException: defaults.http_exception,
            WebSocketException: defaults.websocket_exception,
        }
        self.by_status: dict[int, ExceptionHandler] = {}
        for key, handler in handlers.items():
            if isinstance(key, int):
                self.by_status[key] = handler
            else:
                self.by_class[key] = handler
        self.all_async = all(inspect.iscoroutinefunction(h) for h in
                             (*self.by_class.values(), *self.by_status.values()))

    def find(self, exc: Exception) -> ExceptionHandler | None:
        """The handler the ExceptionMiddleware would pick: by status code for an
        HTTPException, else the nearest class in the exception's MRO."""
        if isinstance(exc, HTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        return next((self.by_class[c] for c in type(exc).__mro__ if c in self.by_class), None)


async def _unused(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("only the middleware's handlers are used")


def _session(endpoint: Endpoint, handlers: Handlers) -> ASGIApp:
    """Starlette's `websocket_session` inside its ExceptionMiddleware, as one coroutine frame
    and one `WebSocket` for the socket's life instead of four frames and two: an exception
    with a handler goes to it, and a response it returns is sent (an HTTP answer before the
    accept); any other propagates."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        try:
            await endpoint(websocket)
        except Exception as exc:
            handler = handlers.find(exc)
            if handler is None:
                raise
            response = await handler(websocket, exc)  # type: ignore[arg-type,misc]
            if response is not None:
                await response(scope, receive, send)
            exc.__traceback__ = None  # a reused exception would gather tracebacks
    return app


class PairpadApp(Starlette):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shortcut: dict[int, ASGIApp] | None = None  # by id(): routes define __eq__

    def websocket_shortcut(self) -> dict[int, ASGIApp]:
        """Each `SocketRoute`'s endpoint with the handlers of the app's ExceptionMiddleware, taken
        as Starlette builds it (the 500/Exception handler belongs to ServerErrorMiddleware,
        which passes WebSockets on); empty when another layer might act on WebSockets."""
        if self._shortcut is None:
            handlers = {key: value for key, value in self.exception_handlers.items()
                        if key not in (500, Exception)}
            table = Handlers(handlers, self.debug)
            passing = (self.max_body_size is None  # its limit middleware also passes them on
                       and self.router.middleware_stack == self.router.app
                       and all(m.cls in PASS_WEBSOCKETS_ON for m in self.user_middleware)
                       and table.all_async)
            self._shortcut = {
                id(route): _session(route.session_endpoint, table)
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
