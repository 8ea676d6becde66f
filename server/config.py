"""Settings: every option has a default, an environment variable `PAIRPAD_<NAME>` and a
command-line flag `--<name>`; a flag wins over the environment, and an empty variable counts as
unset. `server/cli.py` builds the flags from the fields below, so `--help` documents them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MiB = 2**20


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    host: str = _opt("127.0.0.1", "address to listen on")
    port: int = _opt(8000, "port to listen on")
    db: str = _opt("./pairpad.db", "SQLite database file, or a postgresql://USER[:PASS]@HOST:PORT/DB"
                   " URL (docs/storage.md)")
    redis: str = _opt("", "Redis URL of a multi-process deployment (with a PostgreSQL --db)")
    admin_token: str = _opt("", "bearer token of the admin endpoints (generated when empty)")
    cors_origins: str = _opt("", "comma-separated origins allowed by CORS")
    log_level: str = _opt("info", "log level: debug, info, warning, error")
    max_document_length: int = _opt(1_000_000, "largest room document, in UTF-16 code units")
    max_code_length: int = _opt(200_000, "largest code of /execute, /autocomplete (UTF-16 units)")
    max_request_bytes: int = _opt(2 * MiB, "largest HTTP request body, in bytes")
    max_message_bytes: int = _opt(2 * MiB, "largest WebSocket message, in bytes (close 1009)")
    max_participants: int = _opt(100, "connections per room (close 4429 beyond)")
    max_rooms: int = _opt(100_000, "rooms stored at once (POST /rooms answers 429 beyond)")
    messages_per_second: float = _opt(100.0, "WebSocket messages per second per connection")
    message_burst: int = _opt(200, "burst of WebSocket messages allowed above the rate")
    send_queue: int = _opt(2048, "frames queued per connection before it is dropped as too slow")
    history_updates: int = _opt(10_000, "updates kept per room in full (history, rebasing)")
    keyframe_interval: int = _opt(200, "versions between full-text keyframes in the store")
    room_idle_days: float = _opt(30.0, "delete rooms idle this long (0 keeps them for ever)")
    unload_after_seconds: float = _opt(60.0, "unload rooms without connections after this long")
    run_timeout_seconds: float = _opt(10.0, "wall-clock limit of one run")
    run_memory_mb: int = _opt(256, "address-space limit of one run, in MiB")
    run_output_bytes: int = _opt(64 * 1024, "output kept of one run before it is cut")
    run_stdin_bytes: int = _opt(MiB, "largest stdin of one run, in UTF-8 bytes")
    run_concurrency: int = _opt(1, "runs executing at once, server-wide")
    run_queue: int = _opt(16, "runs waiting for a slot before 429 busy")
    completion_deadline_ms: int = _opt(300, "after this, AST symbols answer instead of Jedi")
    diagnostics_quiet_ms: int = _opt(
        200, "analyse a room's document this long after the last edit of a burst")
    diagnostics_max_wait_ms: int = _opt(
        1000, "but no later than this after the first unanalysed edit")
    publish_window_ms: float = _opt(
        10.0, "a busy room broadcasts its commits at most once per this many ms (0: each at once)")
    publish_fanout: float = _opt(
        120_000.0, "but only while publishing each commit at once would send more frames a "
        "second than this (the room's update rate times its peers; 0: always)")
    busy_authors: int = _opt(
        16, "a room is busy when more authors than this made its last 64 updates")
    per_message_deflate: bool = _opt(False, "negotiate permessage-deflate on WebSockets")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def limits(self) -> dict[str, Any]:
        """The sizes and rates this server enforces, as sent in `init.limits`."""
        return {
            "maxDocumentLength": self.max_document_length,
            "maxMessageBytes": self.max_message_bytes,
            "maxParticipants": self.max_participants,
            "messagesPerSecond": self.messages_per_second,
            "messageBurst": self.message_burst,
            "historyUpdates": self.history_updates,
            "runTimeoutMs": int(self.run_timeout_seconds * 1000),
            "runOutputBytes": self.run_output_bytes,
            "runStdinBytes": self.run_stdin_bytes,
        }


def env_name(name: str) -> str:
    return "PAIRPAD_" + name.upper()


def parse_value(kind: type, raw: str) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    return kind(raw)


def field_types() -> dict[str, type]:
    types = {"str": str, "int": int, "float": float, "bool": bool}
    return {f.name: types[str(f.type)] for f in fields(Settings)}


def from_sources(env: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
    """Defaults, overridden by non-empty environment variables, overridden by given flags."""
    values: dict[str, Any] = {}
    for name, kind in field_types().items():
        raw = env.get(env_name(name), "")
        if raw.strip():
            try:
                values[name] = parse_value(kind, raw)
            except ValueError as exc:
                raise SystemExit(f"{env_name(name)}: {exc}") from exc
        if flags.get(name) is not None:
            values[name] = flags[name]
    settings = replace(Settings(), **values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise SystemExit(f"--{f.name.replace('_', '-')} must not be negative")
    db_scheme = url_scheme(settings.db)
    if db_scheme is not None and db_scheme not in POSTGRES_SCHEMES:
        raise SystemExit(f"--db takes a SQLite file or a postgresql:// URL, not a {db_scheme}://"
                         f" URL: {mask_url(settings.db)}")
    if settings.redis:
        if url_scheme(settings.redis) not in REDIS_SCHEMES:
            raise SystemExit(f"--redis takes a redis:// or rediss:// URL: "
                             f"{mask_url(settings.redis)}")
        if db_scheme is None:
            raise SystemExit(f"--redis needs a PostgreSQL --db: {settings.db} is a SQLite file,"
                             " which only one process can use")


POSTGRES_SCHEMES = ("postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss")


def url_scheme(value: str) -> str | None:
    """The scheme of a `scheme://…` URL in lower case; None for anything else (a file path)."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", value)
    return match.group(1).lower() if match else None


def is_postgres(db: str) -> bool:
    return url_scheme(db) in POSTGRES_SCHEMES


def mask_url(url: str) -> str:
    """`url` fit for a log or an error: its password (in the user part or a `password=` query
    parameter) as `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query, flags=re.IGNORECASE)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def from_environment() -> Settings:
    return from_sources(os.environ, {})
