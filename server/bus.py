"""The Redis side of a multi-process deployment (docs/deploy.md "The room bus"): who this
process is, who owns which room, and ordered messages between processes.

- **Processes** announce themselves with a heartbeat key that expires (`pp:proc:<id>`).
- **Room owners** hold an expiring lease (`SET pp:owner:<room> <id> NX PX`), renewed every
  second; PostgreSQL fences a paused owner (server/store.py `claim`).
- **Messages** go to a process's own channel (`pp:to:<id>`) through one connection and one
  sender task, so they arrive in the order they were sent; each carries a per-destination
  sequence number, and a receiver that sees a gap (or loses its subscription) reports it, so
  the rooms concerned are reset instead of silently diverging (Redis pub/sub is at most once).
- `pp:all` carries what every process must hear (a room was deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.config import mask_url

log = logging.getLogger("pairpad.bus")

LEASE_MS = 5000
HEARTBEAT_S = 1.0
_ALL = "pp:all"

_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then
    redis.call('pexpire', key, ARGV[2]); out[i] = 1
  else out[i] = 0 end
end
return out
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

Message = dict[str, Any]


async def reachable(url: str) -> str | None:
    """None when Redis at `url` answers a PING, else why not (for the start-up check)."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        await client.aclose()
    return None


class BusUnavailable(Exception):
    """Redis cannot be reached."""


class Bus:
    """This process's link to the others. `start` subscribes and begins the heartbeat;
    `on_message(sender, message)` gets every message for this process, in order per sender;
    `on_reset(sender)` is told that messages from `sender` (or from everyone: None) were lost."""

    def __init__(self, client: aioredis.Redis, url: str) -> None:
        self.id = secrets.token_hex(6)
        self.url = url
        self._redis = client
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._next_seq: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._on_message: Callable[[str, Message], None] = lambda sender, message: None
        self._on_reset: Callable[[str | None], None] = lambda sender: None
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self.connected = asyncio.Event()

    @classmethod
    async def open(cls, url: str) -> Bus:
        # A pooled connection that died with a restarted Redis is retried on a fresh one.
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError])
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise BusUnavailable(f"cannot reach Redis at {mask_url(url)}: {exc}") from None
        return cls(client, url)

    def start(self, on_message: Callable[[str, Message], None],
              on_reset: Callable[[str | None], None]) -> None:
        self._on_message = on_message
        self._on_reset = on_reset
        self._tasks = [asyncio.create_task(self._receive(), name="bus-receive"),
                       asyncio.create_task(self._send_loop(), name="bus-send"),
                       asyncio.create_task(self._heartbeat(), name="bus-heartbeat")]

    async def close(self) -> None:
        """Send what is queued (briefly), then leave."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), 2)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(f"pp:proc:{self.id}")
        await self._redis.aclose()

    # -- messages ------------------------------------------------------------------------------

    def send(self, to: str, message: Message) -> None:
        """Queue `message` for process `to` (never waits; order kept per destination)."""
        seq = self._next_seq.get(to, 0) + 1
        self._next_seq[to] = seq
        body = json.dumps({"from": self.id, "seq": seq, "m": message}, separators=(",", ":"),
                          ensure_ascii=False).encode()
        self._outbox.put_nowait((f"pp:to:{to}", body))

    def broadcast(self, message: Message) -> None:
        body = json.dumps({"from": self.id, "m": message}, separators=(",", ":")).encode()
        self._outbox.put_nowait((_ALL, body))

    async def _send_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 512:
                batch.append(self._outbox.get_nowait())
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, body in batch:
                        pipe.publish(channel, body)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                # Lost messages: the receivers see the gap in their sequence and reset.
                log.warning("event=bus.publish_failed messages=%d error=%s", len(batch),
                            type(exc).__name__)
            for _ in batch:
                self._outbox.task_done()

    async def _receive(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(f"pp:to:{self.id}", _ALL)
                self.connected.set()
                log.info("event=bus.subscribed process=%s", self.id)
                async for raw in pubsub.listen():
                    self._dispatch(raw["data"])
            except (RedisError, OSError) as exc:
                log.warning("event=bus.subscription_lost error=%s", type(exc).__name__)
            self.connected.clear()
            self._last_seen.clear()
            self._on_reset(None)
            await asyncio.sleep(0.5)  # a reconnect's pacing, not a synchronization

    def _dispatch(self, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            sender, message = envelope["from"], envelope["m"]
        except (ValueError, KeyError, TypeError):
            log.error("event=bus.bad_message bytes=%d", len(data))
            return
        seq = envelope.get("seq")
        if isinstance(seq, int):
            last = self._last_seen.get(sender)
            self._last_seen[sender] = seq
            if last is not None and seq != last + 1:
                log.warning("event=bus.gap sender=%s expected=%d got=%d", sender, last + 1, seq)
                self._on_reset(sender)
        try:
            self._on_message(sender, message)
        except Exception:  # one bad message must not stop the bus for every room
            log.exception("event=bus.handler_failed sender=%s type=%s", sender,
                          message.get("t") if isinstance(message, dict) else None)

    # -- liveness and leases -------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.set(f"pp:proc:{self.id}", "1", px=LEASE_MS)
            await asyncio.sleep(HEARTBEAT_S)  # a heartbeat's cadence

    async def alive(self, processes: Iterable[str]) -> dict[str, bool]:
        names = list(processes)
        if not names:
            return {}
        values = await self._redis.mget([f"pp:proc:{p}" for p in names])
        return {p: v is not None for p, v in zip(names, values, strict=True)}

    async def claim(self, room_id: str) -> str:
        """Take the room's lease if nobody holds it; returns the owner's process id."""
        key = f"pp:owner:{room_id}"
        if await self._redis.set(key, self.id, nx=True, px=LEASE_MS):
            return self.id
        owner = await self._redis.get(key)
        if owner is None:  # expired in between: try once more
            return await self.claim(room_id)
        return owner.decode() if isinstance(owner, bytes) else str(owner)

    async def owners(self, room_ids: Iterable[str]) -> dict[str, str | None]:
        ids = list(room_ids)
        if not ids:
            return {}
        values = await self._redis.mget([f"pp:owner:{r}" for r in ids])
        return {r: (v.decode() if isinstance(v, bytes) else v)
                for r, v in zip(ids, values, strict=True)}

    async def renew(self, room_ids: Iterable[str]) -> set[str]:
        """Renew the leases of rooms this process owns; returns the rooms whose lease is lost."""
        ids = list(room_ids)
        if not ids:
            return set()
        kept = await self._renew(keys=[f"pp:owner:{r}" for r in ids], args=[self.id, LEASE_MS])
        return {r for r, ok in zip(ids, kept, strict=True) if not ok}

    async def publish_summaries(self, summaries: dict[str, str]) -> None:
        """Each owned room's admin summary (JSON), readable by every process for a lease."""
        if summaries:
            async with self._redis.pipeline(transaction=False) as pipe:
                for room_id, summary in summaries.items():
                    pipe.set(f"pp:summary:{room_id}", summary, px=LEASE_MS)
                await pipe.execute()

    async def summaries(self, room_ids: Iterable[str]) -> dict[str, str]:
        ids = list(room_ids)
        if not ids:
            return {}
        values = await self._redis.mget([f"pp:summary:{r}" for r in ids])
        return {r: (v.decode() if isinstance(v, bytes) else v)
                for r, v in zip(ids, values, strict=True) if v is not None}

    async def release(self, room_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._release(keys=[f"pp:owner:{room_id}"], args=[self.id])
