"""A loaded room: performs what its session (editor_core/session.py) decides.

Socket → session → store → session → sockets: the WebSocket endpoint hands each message to
`Room`, which asks the session, then does the I/O the session returned (encode a frame once and
queue it on each connection, commit to the store, run code, close connections). When the store
commits, the room asks the session to publish once per event-loop turn, so every push of one
group commit goes out as one `code_update`; in a busy room, once per the session's cadence
window (docs/architecture.md "One edit's journey").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from asyncio import CancelledError
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal, Protocol

from editor_core.authority import Authority
from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from editor_core.errors import InvalidMessage
from editor_core.execution.result import ExecutionResult
from editor_core.history import change_counts
from editor_core.session import (
    Cadence,
    Close,
    Effect,
    Persist,
    Reply,
    RoomInfo,
    RoomSession,
    SaveRun,
    ScheduleDiagnostics,
    Send,
    StartRun,
    StopRun,
)
from server import models
from server.clock import now_iso
from server.diagnosis import DiagnosisTimer
from server.errors import RoomMoved, ws_error
from server.models import (
    dump_completion,
    dump_definition,
    dump_diagnostics,
    dump_execution_result,
    dump_hover,
    dump_signatures,
)
from server.services import Services
from server.store import Fenced, RoomRecord, StoredUpdate
from server.wire import SharedFrame, encode

log = logging.getLogger("pairpad.room")

Inspection = Literal["signature", "hover", "definition"]


class Peer(Protocol):
    """A participant's connection: a local `Connection`, or a `RemotePeer` of another process
    (server/relay.py). `link_id` is the read-only link of a viewer, None for an editor."""

    client_id: str
    link_id: str | None
    name: str
    remote: str
    connected_at: str

    def send(self, frame: str) -> None: ...

    def close(self, code: int, reason: str = "") -> None: ...


class Room:
    def __init__(self, services: Services, record: RoomRecord, authority: Authority,
                 last_run: dict[str, Any] | None, on_failure: Callable[[Room], None]) -> None:
        self.services = services
        self.room_id = record.room_id
        settings = services.settings
        self.session: RoomSession[Peer] = RoomSession(
            RoomInfo(record.room_id, record.name, record.language, record.created_at,
                     record.updated_at),
            authority, max_peers=settings.max_participants,
            output_cap=settings.run_output_bytes, limits=settings.limits(), last_run=last_run,
            max_stdin_bytes=settings.run_stdin_bytes,
            cadence=Cadence(settings.publish_window_ms / 1000, settings.busy_authors,
                            fanout=settings.publish_fanout))
        self.idle_since: float | None = None
        self._pending: asyncio.Future[None] | None = None  # the latest append's commit
        self._publish_timer: asyncio.Handle | None = None
        self._on_failure = on_failure
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._saves: dict[str, asyncio.Task[None]] = {}
        self._diagnosis = DiagnosisTimer(
            self._diagnose, quiet_s=settings.diagnostics_quiet_ms / 1000,
            max_wait_s=settings.diagnostics_max_wait_ms / 1000)
        self._analysed: int | None = None  # the last version sent to analysis

    @property
    def connections(self) -> dict[str, Peer]:
        return self.session.peers

    @property
    def failed(self) -> bool:
        return self.session.failed

    @property
    def unloadable(self) -> bool:
        return self.session.unloadable and (self._pending is None or self._pending.done())

    # -- events from the endpoint -------------------------------------------------------------

    def join(self, conn: Peer) -> None:
        self._perform(self.session.join(conn, conn.client_id, conn.name, conn.link_id))
        self.idle_since = None

    def leave(self, conn: Peer) -> None:
        self._perform(self.session.leave(conn, conn.client_id))
        if not self.session.peers:
            self.idle_since = asyncio.get_running_loop().time()

    def push(self, conn: Peer, version: int, raw_changes: Sequence[Any]) -> None:
        self.session.require_editor(conn.client_id)  # read_only before any invalid_update
        changes = [ChangeSet.from_json(raw) for raw in raw_changes]
        self._perform(self.session.push(conn, conn.client_id, version, changes, now_iso()))
        log.debug("event=ws.push room=%s client=%s version=%d", self.room_id, conn.client_id,
                  version)

    async def restore(self, text: str, author: str) -> int | None:
        """Make the document `text` again as one update by `author`, broadcast like any edit
        once committed; the version it made, or None when the document already was `text`."""
        client_id = f"restore-{secrets.token_urlsafe(9)}"
        effects = self.session.restore(text, client_id, author, now_iso())
        if not effects:
            # Already `text`, maybe only through updates still being committed: answer with a
            # version that has it, once durable and sent, as a restore that made one would.
            await self.settle()
            return None
        version = self.session.authority.version
        self._perform(effects)
        await self.settle()
        if self.failed:
            raise RoomMoved("the room stopped being served here before the restore committed")
        return version

    def pull(self, conn: Peer, version: int) -> None:
        self._perform(self.session.pull(conn, version))

    def cursor(self, conn: Peer, version: int, anchor: int, head: int) -> None:
        self._perform(self.session.cursor(conn.client_id, version, anchor, head))

    def start_run(self, conn: Peer, stdin: str) -> None:
        execution = self.services.execution
        queue_full = execution.running + execution.queued >= self.services.run_slots
        self._perform(self.session.start_run(conn.client_id, conn.name, stdin,
                                             secrets.token_urlsafe(12), now_iso(),
                                             queue_full=queue_full))

    def stop_run(self, conn: Peer, run_id: str) -> None:
        self._perform(self.session.stop_run(run_id, conn.name, conn.client_id))

    def revoke(self, link_id: str) -> None:
        """Close the viewers of a revoked read-only link (4403)."""
        self._perform(self.session.revoke(link_id))

    async def complete(self, conn: Peer, request_id: str, version: int,
                       position: int) -> None:
        session = self.session
        mapped = session.map_to_published(version, position)
        at_version, code = session.version, session.text
        result = await self.services.completion.complete(
            code, mapped, key=f"{self.room_id}:{conn.client_id}")
        frame: dict[str, Any] = {"type": "completions", "id": request_id, "version": at_version}
        if result is None:  # superseded by a newer request of the same client
            frame.update({"from": mapped, "items": [], "incomplete": True})
        else:
            wire = dump_completion(result)
            frame.update({"from": wire["from"], "items": wire["suggestions"],
                          "incomplete": wire["incomplete"]})
        conn.send(encode(frame))

    async def inspect(self, conn: Peer, kind: Inspection, request_id: str, version: int,
                      position: int) -> None:
        """Answer a `signature`, `hover` or `definition` message on the published document
        (docs/protocol.md "Language")."""
        session = self.session
        mapped = session.map_to_published(version, position)
        at_version, code = session.version, session.text
        completion = self.services.completion
        key = f"{self.room_id}:{conn.client_id}"
        frame: dict[str, Any] = {"id": request_id, "version": at_version}
        try:
            if kind == "signature":
                found = await completion.signatures(code, mapped, key=key)
                frame.update(type="signatures", signatures=dump_signatures(found))
            elif kind == "hover":
                frame.update(type="hover_info", **dump_hover(
                    await completion.hover(code, mapped, key=key)))
            else:
                frame.update(type="definition_location", definition=dump_definition(
                    await completion.definition(code, mapped, key=key)))
        except ValueError as exc:  # the position splits a surrogate pair
            raise InvalidMessage(f"position: {exc}") from None
        conn.send(encode(frame))

    async def _diagnose(self) -> None:
        """Analyse the published document, once per version (docs/protocol.md
        `diagnostics`); the frame goes out only if no newer version was published meanwhile."""
        session = self.session
        version, code = session.version, session.text
        if self._analysed == version or session.failed:
            return
        self._analysed = version
        started = asyncio.get_running_loop().time()
        items = await self.services.completion.diagnostics(code)
        if items is None:
            log.info("event=diagnostics.unavailable room=%s version=%d", self.room_id, version)
            return
        # While edits never settle, every analysis ends behind the newest version: one that
        # the longest wait started is sent anyway (docs/protocol.md "Diagnostics").
        self._perform(session.diagnosed(version, dump_diagnostics(items),
                                        overdue=self._diagnosis.forced))
        log.debug("event=diagnostics.done room=%s version=%d items=%d ms=%.1f", self.room_id,
                  version, len(items), (asyncio.get_running_loop().time() - started) * 1000)

    async def stop_diagnostics(self) -> None:
        """No more analyses (the room is unloaded, deleted, or the server stops)."""
        self._diagnosis.cancel()
        task = self._diagnosis.running
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(CancelledError):
                await task

    # -- views ---------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """docs/protocol.md `AdminRoom` of this loaded room."""
        session, info = self.session, self.session.info
        return models.AdminRoom(
            room_id=info.room_id, name=info.name, language=info.language,
            version=session.version, participant_count=len(session.peers),
            code_length=session.length, locked=session.run is not None,
            created_at=info.created_at, updated_at=info.updated_at,
        ).model_dump(by_alias=True)

    def describe(self) -> dict[str, Any]:
        """docs/protocol.md `AdminRoomDetail` but its `recentExecutions` (read from the store)."""
        session = self.session
        participants = {p["clientId"]: p for p in session.participants()}
        connections = [{**participants[client_id], "connectedAt": peer.connected_at,
                        "remote": peer.remote} for client_id, peer in session.peers.items()]
        return {**self.summary(), "code": session.text, "connections": connections}

    # -- the room's lifetime --------------------------------------------------------------------

    def close_all(self, code: CloseCode, reason: str) -> None:
        self._perform(self.session.close_all(code, reason))

    def fail(self, code: CloseCode, reason: str) -> None:
        """Stop serving: close everyone with `code` and let the hub forget this room."""
        if self.session.failed:
            return
        log.error("event=room.failed room=%s code=%d reason=%r", self.room_id, code, reason)
        self._perform(self.session.fail(code, reason))
        self._on_failure(self)

    async def settle(self) -> None:
        """Wait until every accepted update is committed and published."""
        while self._pending is not None and not self._pending.done():
            pending = self._pending
            try:
                await asyncio.shield(pending)
            except Exception:  # _on_commit already failed the room
                return
        self._publish()

    async def end_run(self) -> None:
        """Stop the active run and wait until its result went out (shutdown, deletion)."""
        run = self.session.run
        task = self._runs.get(run.run_id) if run is not None else None
        if run is None or task is None:
            return
        self.services.execution.stop(run.run_id)
        await asyncio.wait({task}, timeout=5)

    # -- performing effects ---------------------------------------------------------------------

    def _perform(self, effects: Sequence[Effect[Peer]]) -> None:
        for effect in effects:
            match effect:
                case Send(to, frame):
                    text = SharedFrame(encode(frame))  # its wire bytes built once for all
                    self.services.metrics.frames_out.inc(len(to))
                    for conn in to:
                        conn.send(text)
                case Reply(to, error):
                    to.send(encode(ws_error(error)))
                case Close(peer, code, reason):
                    peer.close(code, reason)
                case Persist():
                    self._persist(effect)
                case StartRun():
                    self._start(effect)
                case StopRun(run_id):
                    self.services.execution.stop(run_id)
                case SaveRun(run_id):
                    self._saves[run_id] = asyncio.get_running_loop().create_task(
                        self._save_run(effect), name=f"save-{run_id}")
                case ScheduleDiagnostics():
                    if not self.session.failed:
                        self._diagnosis.request()

    def _persist(self, effect: Persist) -> None:
        base = effect.base_version
        stored = [StoredUpdate(base + i + 1, u.client_id, u.changes.to_json(),
                               effect.author or None, effect.updated_at,
                               *change_counts(u.changes))
                  for i, u in enumerate(effect.updates)]
        self._pending = self.services.store.append(
            self.room_id, stored, effect.text, effect.length, effect.updated_at,
            then=partial(self._on_commit, base + len(stored)))
        self.services.metrics.updates.inc(len(stored))

    def _on_commit(self, upto: int, error: BaseException | None) -> None:
        """In the store writer's step, as soon as the commit is known: publishing here rather
        than in a callback of its future saves one event-loop turn, which in a busy room is
        another broadcast's worth of waiting (docs/performance-collab.md "Lever 5")."""
        if error is not None:
            if isinstance(error, Fenced):  # another process owns the room now
                self.fail(CloseCode.SERVICE_RESTART, "the room moved to another process")
            else:
                self.fail(CloseCode.INTERNAL_ERROR, "store commit failed")
            return
        loop = asyncio.get_running_loop()
        self.session.committed(upto, loop.time())
        # Every accepted update is appended at once, so the latest append ends at the
        # authority's version.
        latest = self._pending
        if self._publish_timer is not None or (self.session.authority.version > upto
                                               and latest is not None and latest.done()):
            return  # a publish is due, or a later append of this commit publishes them all
        # Now: one loop turn sooner than a `call_soon`. In a busy room, after the commits of
        # the rest of its window.
        delay = self.session.publish_delay(loop.time())
        if delay > 0:
            self._publish_timer = loop.call_later(delay, self._publish)
        else:
            self._publish()

    def _publish(self) -> None:
        if self._publish_timer is not None:
            self._publish_timer.cancel()  # a no-op when it is the one running
            self._publish_timer = None
        self._perform(self.session.publish(asyncio.get_running_loop().time()))

    def _start(self, start: StartRun) -> None:
        run_id = start.run_id
        log.info("event=run.start room=%s run=%s client=%s version=%d", self.room_id, run_id,
                 start.client_id, start.version)
        task = asyncio.get_running_loop().create_task(
            self._execute(run_id, start.code, start.stdin), name=f"run-{run_id}")
        self._runs[run_id] = task
        task.add_done_callback(lambda _: self._runs.pop(run_id, None))

    async def _execute(self, run_id: str, code: str, stdin: str) -> None:
        on_output = partial(self._on_output, run_id)
        try:
            result = await self.services.execution.run(code, stdin, on_output=on_output,
                                                       run_id=run_id)
        except Exception:  # the lock must be released on every ending
            log.exception("event=run.failed room=%s run=%s", self.room_id, run_id)
            result = ExecutionResult("killed", "", "", "", None, 0, False, "sandbox_failure")
        self.services.metrics.runs.labels(result.status).inc()
        log.info("event=run.end room=%s run=%s status=%s ms=%d", self.room_id, run_id,
                 result.status, result.duration_ms)
        wire = dump_execution_result(result)
        self._perform(self.session.run_finished(run_id, wire, now_iso()))
        saving = self._saves.pop(run_id, None)
        if saving is not None:  # end_run waits for this task: let it cover the save too
            await saving

    def _on_output(self, run_id: str, stream: str, data: str) -> None:
        self._perform(self.session.run_output(run_id, stream, data))

    async def _save_run(self, effect: SaveRun) -> None:
        try:  # stored before anyone is told, like every update (guarantee 2)
            await self.services.store.save_run(self.room_id, effect.run_id, effect.finished_at,
                                               effect.result)
        except Exception:
            log.exception("event=run.save_failed room=%s run=%s", self.room_id, effect.run_id)
        self._perform(self.session.run_saved(effect.run_id))
