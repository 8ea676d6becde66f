"""A loaded room: the adapter around the room authority (editor_core.authority), presence and
the execution lock, with its connections.

Data flow (STYLE.md "One edit's journey"): `push` asks the authority (pure, synchronous) to
accept a push, queues the accepted updates to the store, and returns at once. When the store
commits, `_publish` sends every committed, unsent update as one `code_update` to every
connection (coalescing all pushes committed together). Nothing is sent before it is durable
(PROTOCOL.md guarantee 2). `published_text` is the document at `published_version`, the state
every connection has been sent; `init`, pulls, cursors, runs and completions all speak of it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from editor_core.authority import Authority, Update
from editor_core.changeset import ChangeSet
from editor_core.errors import (
    Busy,
    InvalidMessage,
    InvalidVersion,
    PairpadError,
    RoomFull,
    RoomLocked,
    UnknownRun,
)
from editor_core.positions import utf16_length
from editor_core.presence import Presence
from server.clock import now_iso
from server.connection import Connection
from server.errors import ws_error
from server.models import dump_completion, dump_execution_result
from server.services import Services
from server.store import RoomRecord, StoredUpdate
from server.wire import encode

log = logging.getLogger("pairpad.room")

CLOSE_REPLACED = 4409
CLOSE_DELETED = 4410
CLOSE_FULL = 4429
CLOSE_INTERNAL = 1011


@dataclass
class ActiveRun:
    run_id: str
    client_id: str
    name: str
    version: int
    since: str
    output: list[str] = field(default_factory=list)
    output_size: int = 0
    task: asyncio.Task[None] | None = None

    def lock_wire(self) -> dict[str, Any]:
        return {"runId": self.run_id, "clientId": self.client_id, "name": self.name,
                "version": self.version, "since": self.since, "output": "".join(self.output)}


def _update_wire(update: Update) -> dict[str, Any]:
    return {"clientId": update.client_id, "changes": update.changes.to_json()}


class Room:
    def __init__(self, services: Services, record: RoomRecord, authority: Authority,
                 last_run: dict[str, Any] | None, on_failure: Callable[[Room], None]) -> None:
        self.services = services
        self.room_id = record.room_id
        self.name = record.name
        self.language = record.language
        self.created_at = record.created_at
        self.updated_at = record.updated_at
        self.authority = authority
        self.presence = Presence()
        self.connections: dict[str, Connection] = {}
        self.run: ActiveRun | None = None
        self.last_run = last_run
        self.published_version = authority.version
        self.published_text = authority.text
        self.published_length = utf16_length(authority.text)
        self.idle_since: float | None = None
        self._committed = authority.version
        self._unsent: list[Update] = []
        self._pending: asyncio.Future[None] | None = None
        self._publish_scheduled = False
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task[None]] = set()
        self.failed = False

    # -- edits (PROTOCOL.md "Pushes") --------------------------------------------------------

    def push(self, conn: Connection, version: int, raw_changes: Sequence[Any]) -> None:
        changes = [ChangeSet.from_json(raw) for raw in raw_changes]
        before = self.authority.version
        outcome = self.authority.push(conn.client_id, version, changes)
        if not outcome.accepted:
            # A push that adds nothing new: answer the pusher alone once all is published.
            # The loop keeps only a weak reference to a task: hold it until it is done.
            task = asyncio.get_running_loop().create_task(self._answer_pull(conn, version))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        assert outcome.base_version == before
        self._unsent.extend(outcome.accepted)
        stored = [
            StoredUpdate(before + i + 1, u.client_id, u.changes.to_json())
            for i, u in enumerate(outcome.accepted)
        ]
        self.updated_at = now_iso()
        text = self.authority.text
        future = self.services.store.append(
            self.room_id, stored, text, outcome.accepted[-1].changes.new_length, self.updated_at)
        future.add_done_callback(partial(self._on_commit, self.authority.version))
        self._pending = future
        self.services.metrics.updates.inc(len(outcome.accepted))
        log.debug("event=ws.push room=%s client=%s version=%d accepted=%d", self.room_id,
                  conn.client_id, version, len(outcome.accepted))

    def _on_commit(self, upto: int, future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._fail("store commit failed")
            return
        self._committed = max(self._committed, upto)
        if not self._publish_scheduled:
            # Publish after every callback of this commit ran: one frame for all of them.
            self._publish_scheduled = True
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._publish_scheduled = False
        count = self._committed - self.published_version
        if count <= 0 or self.failed:
            return
        updates, self._unsent = self._unsent[:count], self._unsent[count:]
        text = self.published_text
        for update in updates:
            text = update.changes.apply(text)
        frame = {"type": "code_update", "version": self.published_version,
                 "updates": [_update_wire(u) for u in updates]}
        self.published_text = text
        self.published_length = updates[-1].changes.new_length
        self.published_version = self._committed
        self._broadcast(frame)

    async def settle(self) -> None:
        """Wait until every accepted update is committed and published."""
        while self._pending is not None and not self._pending.done():
            pending = self._pending
            try:
                await asyncio.shield(pending)
            except Exception:  # _on_commit already failed the room
                return
        self._publish()

    async def _answer_pull(self, conn: Connection, version: int) -> None:
        await self.settle()
        try:
            self.pull(conn, version)
        except PairpadError as exc:  # history trimmed meanwhile: tell the pusher
            conn.send(encode(ws_error(exc)))

    def pull(self, conn: Connection, version: int) -> None:
        conn.send(encode({"type": "code_update", "version": version,
                          "updates": [_update_wire(u) for u in self._published_since(version)]}))

    def _published_since(self, version: int) -> list[Update]:
        """Updates after `version` up to `published_version` (validated like a pull)."""
        if version > self.published_version:
            if version > self.authority.version:
                raise InvalidVersion(
                    f"version {version} is above the room's {self.authority.version}")
            return []
        return self.authority.pull(version)[: self.published_version - version]

    # -- presence ----------------------------------------------------------------------------

    def _map_to_published(self, version: int, positions: Sequence[int]) -> list[int]:
        updates = self._published_since(version)
        length = updates[0].changes.length if updates else self.published_length
        if version > self.published_version or any(p > length for p in positions):
            raise InvalidMessage(f"position outside the document at version {version}")
        mapped = list(positions)
        for update in updates:
            mapped = [update.changes.map_pos(p, 1) for p in mapped]
        return mapped

    def cursor(self, conn: Connection, version: int, anchor: int, head: int) -> None:
        anchor, head = self._map_to_published(version, [anchor, head])
        self.presence.set_cursor(conn.client_id, anchor, head, self.published_version)
        frame = encode({"type": "cursor", "clientId": conn.client_id,
                        "version": self.published_version, "anchor": anchor, "head": head})
        self._broadcast_text(frame, exclude=conn.client_id)

    def participants_wire(self) -> list[dict[str, Any]]:
        """Participants with cursors mapped to `published_version`."""
        out = []
        for p in self.presence.participants():
            wire = p.to_wire()
            if p.cursor is not None and p.cursor_version is not None:
                try:
                    anchor, head = self._map_to_published(p.cursor_version, list(p.cursor))
                    wire["cursor"] = {"anchor": anchor, "head": head}
                except PairpadError:
                    wire["cursor"] = None
            out.append(wire)
        return out

    def join(self, conn: Connection) -> None:
        old = self.connections.get(conn.client_id)
        if old is None and len(self.connections) >= self.services.settings.max_participants:
            raise RoomFull("the room is full")
        self.idle_since = None
        if old is not None:
            old.close(CLOSE_REPLACED, "replaced by a newer connection")
        self.connections[conn.client_id] = conn
        participant = self.presence.join(conn.client_id, conn.name)
        conn.send(encode({
            "type": "init", "roomId": self.room_id, "language": self.language,
            "version": self.published_version, "code": self.published_text,
            "clientId": conn.client_id, "color": participant.color,
            "participants": self.participants_wire(),
            "lock": self.run.lock_wire() if self.run else None, "lastRun": self.last_run,
            "limits": self.services.settings.limits(),
        }))
        if old is None:
            self._broadcast({"type": "participant_joined", "participant": participant.to_wire()},
                            exclude=conn.client_id)

    def leave(self, conn: Connection) -> None:
        if self.connections.get(conn.client_id) is not conn:
            return  # replaced: the participant stays
        del self.connections[conn.client_id]
        self.presence.leave(conn.client_id)
        self._broadcast({"type": "participant_left", "clientId": conn.client_id})
        if not self.connections:
            self.idle_since = asyncio.get_running_loop().time()

    # -- runs (PROTOCOL.md `run`, `stop`) ----------------------------------------------------

    def start_run(self, conn: Connection, stdin: str) -> None:
        if self.run is not None:
            raise RoomLocked("a run holds the room's lock", lock=self.run.lock_wire())
        execution = self.services.execution
        if execution.running + execution.queued >= self.services.run_slots:
            raise Busy("the server's run queue is full", retry_after_ms=2000)
        run = ActiveRun(secrets.token_urlsafe(12), conn.client_id, conn.name,
                        self.published_version, now_iso())
        self.run = run
        self._broadcast({"type": "execution_lock", "runId": run.run_id,
                         "clientId": run.client_id, "name": run.name, "version": run.version,
                         "since": run.since})
        log.info("event=run.start room=%s run=%s client=%s version=%d", self.room_id,
                 run.run_id, conn.client_id, run.version)
        run.task = asyncio.get_running_loop().create_task(
            self._execute(run, self.published_text, stdin), name=f"run-{run.run_id}")

    def _on_output(self, run: ActiveRun, stream: str, data: str) -> None:
        cap = self.services.settings.run_output_bytes
        if run.output_size < cap:
            kept = data[: cap - run.output_size]
            run.output.append(kept)
            run.output_size += len(kept)
        self._broadcast({"type": "execution_output", "runId": run.run_id, "stream": stream,
                         "data": data})

    async def _execute(self, run: ActiveRun, code: str, stdin: str) -> None:
        try:
            result = dump_execution_result(await self.services.execution.run(
                code, stdin, on_output=partial(self._on_output, run), run_id=run.run_id
            ))
        except Exception:  # the lock must be released on every ending
            log.exception("event=run.failed room=%s run=%s", self.room_id, run.run_id)
            result = {"status": "killed", "output": "", "stdout": "", "stderr": "",
                      "exitCode": None, "durationMs": 0, "truncated": False}
        finished_at = now_iso()
        finished = {**result, "runId": run.run_id, "version": run.version,
                    "clientId": run.client_id, "name": run.name, "finishedAt": finished_at}
        try:  # stored before anyone is told, like every update (guarantee 2)
            await self.services.store.save_run(self.room_id, run.run_id, finished_at, finished)
        except Exception:
            log.exception("event=run.save_failed room=%s run=%s", self.room_id, run.run_id)
        self.last_run = finished
        self.run = None
        self._broadcast({"type": "execution_result", **finished})
        self.services.metrics.runs.labels(str(result["status"])).inc()
        log.info("event=run.end room=%s run=%s status=%s ms=%s", self.room_id, run.run_id,
                 result["status"], result["durationMs"])

    def stop_run(self, run_id: str) -> None:
        if self.run is None or self.run.run_id != run_id:
            raise UnknownRun(f"run {run_id!r} is not running")
        self.services.execution.stop(run_id)

    async def end_run(self) -> None:
        """Stop the active run and wait until its result went out (shutdown, deletion)."""
        run = self.run
        if run is None or run.task is None:
            return
        self.services.execution.stop(run.run_id)
        await asyncio.wait({run.task}, timeout=5)

    # -- completions -------------------------------------------------------------------------

    async def complete(self, conn: Connection, request_id: str, version: int,
                       position: int) -> None:
        [mapped] = self._map_to_published(version, [position])
        at_version, code = self.published_version, self.published_text
        result = await self.services.completion.complete(
            code, mapped, key=f"{self.room_id}:{conn.client_id}")
        frame: dict[str, Any] = {"type": "completions", "id": request_id, "version": at_version}
        if result is None:  # superseded by a newer request of the same client
            frame.update({"from": mapped, "items": []})
        else:
            wire = dump_completion(result)
            frame.update({"from": wire["from"], "items": wire["suggestions"]})
        conn.send(encode(frame))

    # -- fan-out -----------------------------------------------------------------------------

    def _broadcast(self, frame: dict[str, Any], exclude: str | None = None) -> None:
        self._broadcast_text(encode(frame), exclude)

    def _broadcast_text(self, text: str, exclude: str | None = None) -> None:
        self.services.metrics.frames_out.inc(len(self.connections))
        for client_id, conn in list(self.connections.items()):
            if client_id != exclude:
                conn.send(text)

    def close_all(self, code: int, reason: str = "") -> None:
        for conn in list(self.connections.values()):
            conn.close(code, reason)

    def _fail(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = True
        log.error("event=room.failed room=%s reason=%s", self.room_id, reason)
        self.close_all(CLOSE_INTERNAL, reason)
        self._on_failure(self)

    @property
    def unloadable(self) -> bool:
        return (not self.connections and self.run is None
                and self._committed == self.authority.version
                and (self._pending is None or self._pending.done()))
