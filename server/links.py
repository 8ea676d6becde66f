"""Read-only links (docs/protocol.md "Read-only links"): make, list and revoke a room's links,
resolve a link to its room, and close the viewers of a revoked link at once on every process.

A revocation is written to the store first, then announced: in one process by closing the
link's viewers here; with several, by a `revoked` bus message to every process
(server/cluster.py), which also checks its viewers' links against the store every second in
case that message was lost (Redis pub/sub is at most once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from editor_core.close_codes import CloseCode
from editor_core.errors import Busy
from server import models
from server.clock import now_iso
from server.connection import Connection
from server.errors import LinkNotFound, LinkRevoked, RoomNotFound
from server.room import Room
from server.store import LinkRecord

if TYPE_CHECKING:
    from server.hub import Hub

log = logging.getLogger("pairpad.links")

MAX_LINKS = 100  # active links per room


def wire(link: LinkRecord) -> models.Link:
    return models.Link(link_id=link.link_id, role="viewer", url=f"/v/{link.link_id}",
                       created_at=link.created_at)


class Links:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # This process's viewer sockets by link, registered before the link is resolved, so
        # that a revocation racing a new connection still finds it.
        self.viewers: dict[str, set[Connection]] = {}
        self._check: asyncio.Task[None] | None = None

    async def create(self, room_id: str, role: str) -> models.Link:
        store = self.hub.services.store
        await self._room(room_id)
        if len(await store.room_links(room_id)) >= MAX_LINKS:
            raise Busy(f"the room has {MAX_LINKS} links; revoke one first",
                       retry_after_ms=60_000)
        # 128 random bits, unrelated to the room id (a viewer must not learn it).
        link = LinkRecord(secrets.token_urlsafe(16), room_id, role, now_iso())
        await store.create_link(link)
        log.info("event=link.created room=%s link=%s", room_id, link.link_id)
        return wire(link)

    async def list(self, room_id: str) -> models.LinkList:
        await self._room(room_id)
        links = await self.hub.services.store.room_links(room_id)
        return models.LinkList(links=[wire(link) for link in links])

    async def revoke(self, room_id: str, link_id: str) -> None:
        """Revoke a link of `room_id` (again: nothing more happens) and close its viewers."""
        store = self.hub.services.store
        link = await store.get_link(link_id)
        if link is None or link.room_id != room_id:
            raise LinkNotFound("no such link in this room")
        if link.revoked_at is None:
            await store.revoke_link(link_id, now_iso())
            log.info("event=link.revoked room=%s link=%s", room_id, link_id)
        self.close_viewers(room_id, link_id)
        cluster = self.hub.cluster
        if cluster is not None:
            cluster.revoked(room_id, link_id)

    async def resolve(self, link_id: str) -> LinkRecord:
        """The link's record; `LinkNotFound`, or `LinkRevoked` once revoked."""
        link = await self.hub.services.store.get_link(link_id)
        if link is None:
            raise LinkNotFound("no such link")
        if link.revoked_at is not None:
            raise LinkRevoked("this link was revoked")
        return link

    async def shared_state(self, link_id: str) -> dict[str, Any]:
        """`GET /links/{linkId}`: the room's state without its id."""
        link = await self.resolve(link_id)
        try:
            state = await self.hub.state(link.room_id)
        except RoomNotFound:
            raise LinkNotFound("no such link") from None  # the room went with its links
        state.pop("roomId", None)
        return {"role": link.role, **state}

    # -- this process's viewers ------------------------------------------------------------------

    def watch(self, link_id: str, conn: Connection) -> None:
        self.viewers.setdefault(link_id, set()).add(conn)

    def unwatch(self, link_id: str, conn: Connection) -> None:
        conns = self.viewers.get(link_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.viewers[link_id]

    def close_viewers(self, room_id: str, link_id: str) -> None:
        """Close the link's viewers known here: its sockets on this process, and, if this
        process owns the room, its viewers on the others."""
        for conn in list(self.viewers.get(link_id, ())):
            conn.close(CloseCode.REVOKED, "the link was revoked")
        room = self.hub.rooms.get(room_id)
        if isinstance(room, Room):
            room.revoke(link_id)

    def start_check(self) -> None:
        """Start `check_revoked` unless the last one is still running: off the cluster's
        check loop, so a slow or restarting store never delays the renewal of its leases."""
        if self.viewers and (self._check is None or self._check.done()):
            self._check = asyncio.get_running_loop().create_task(self.check_revoked(),
                                                                 name="links-check")

    async def stop_check(self) -> None:
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check

    async def check_revoked(self) -> None:
        """The fallback of a lost `revoked` message: close viewers of links the store says are
        revoked (or gone). One query per 100 links in use here."""
        if not self.viewers:
            return
        try:
            revoked = await self.hub.services.store.revoked_links(list(self.viewers))
        except Exception as exc:  # the store may be restarting: the next check retries
            log.warning("event=links.check_failed error=%s", type(exc).__name__)
            return
        for link_id in revoked:
            for conn in list(self.viewers.get(link_id, ())):
                log.info("event=link.revoked_found room=%s link=%s", conn.room_id, link_id)
                conn.close(CloseCode.REVOKED, "the link was revoked")

    async def _room(self, room_id: str) -> None:
        await self.hub.peek(room_id)  # RoomNotFound
