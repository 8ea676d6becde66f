"""`python -m server` and the `pairpad` console script.

Every setting is a flag (`--max-participants`) and an environment variable
(`PAIRPAD_MAX_PARTICIPANTS`); see server/config.py. SIGTERM or SIGINT: stop accepting, close
WebSockets with 1001, flush the store, exit 0."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
from collections.abc import Sequence
from dataclasses import fields
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.config import (
    Settings,
    env_name,
    field_types,
    from_sources,
    is_postgres,
    mask_url,
    parse_value,
)
from server.logs import configure
from server.ws_protocol import LeanWebSocketProtocol


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pairpad", description="Pairpad: a real-time collaborative Python editor server.",
        epilog="Every option can also be set as the environment variable shown; a flag wins "
               "over the environment, and an empty variable counts as unset.",
    )
    types = field_types()
    defaults = Settings()
    for f in fields(Settings):
        kind = types[f.name]
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (default: {default!r}; env {env_name(f.name)})"

        def convert(raw: str, kind: type = kind) -> Any:
            return parse_value(kind, raw)

        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None,
                       type=convert, metavar=kind.__name__.upper(), help=help_text)
    return p


class Server(uvicorn.Server):
    """uvicorn closes WebSockets with 1012 on shutdown; the contract says 1001. Close ours
    first (the hub releases run locks and flushes the store), then let uvicorn finish."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises a captured SIGTERM after a graceful shutdown, so the process would
        # die of the signal; a clean shutdown exits 0 (the foundation issue asks for it).
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        hub = getattr(self.app.state, "hub", None)
        if hub is not None:
            await hub.shutdown()
        await super().shutdown(sockets)


def check_database(settings: Settings) -> None:
    """Refuse to start, in one line, when the PostgreSQL of `--db` or the Redis of `--redis`
    cannot be reached: before uvicorn runs, so no port is opened for a server that cannot serve
    (a lifespan failure would exit non-zero too, after a traceback)."""
    if is_postgres(settings.db):
        from server.pgstore import reachable  # asyncpg only where PostgreSQL is used

        reason = asyncio.run(reachable(settings.db))
        if reason is not None:
            raise SystemExit(f"cannot reach PostgreSQL at {mask_url(settings.db)}: {reason}")
    if settings.redis:
        from server.bus import reachable as redis_reachable

        reason = asyncio.run(redis_reachable(settings.redis))
        if reason is not None:
            raise SystemExit(f"cannot reach Redis at {mask_url(settings.redis)}: {reason}")


def uvicorn_config(app: Starlette, settings: Settings) -> uvicorn.Config:
    """How the server runs `app` (the live tests run it the same way)."""
    # ws: uvicorn's websockets-sansio protocol, minus what only the handshake needs
    # (docs/performance-collab.md "Idle connections").
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, ws=LeanWebSocketProtocol,
        # uvicorn's "standard" extras when installed: libuv's loop and transports make every
        # frame written to every peer cheaper (docs/performance-collab.md, "Fan-out levers").
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        ws_max_size=settings.max_message_bytes,
        ws_per_message_deflate=settings.per_message_deflate, log_config=None,
        access_log=False, lifespan="on", timeout_graceful_shutdown=10,
        log_level=settings.log_level,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = from_sources(os.environ, vars(args))
    configure(settings.log_level)
    check_database(settings)
    app = create_app(settings)
    config = uvicorn_config(app, settings)
    Server(config, app).run()  # runs serve() on the loop chosen above


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
