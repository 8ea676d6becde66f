"""Who is in a room: participants, their colors and their cursors (docs/protocol.md
"Presence, runs, completions": `participant_joined`, `participant_left`, `cursor`).

Pure state; the server decides whom to tell. A cursor is stored with the version it is valid
at (the `version` of the message that carried it, docs/protocol.md "Presence, runs,
completions") and moved forward with `map_cursors`.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from editor_core.errors import PairpadError

# Twelve colors readable as a caret, a selection tint and a name label on a light or dark
# background; in the order they are handed out.
PALETTE: tuple[str, ...] = (
    "#e03e3e",  # red
    "#2f80ed",  # blue
    "#27ae60",  # green
    "#f2994a",  # orange
    "#9b51e0",  # purple
    "#00a3a3",  # teal
    "#d63384",  # pink
    "#8d6e2f",  # brown
    "#5c6bc0",  # indigo
    "#c9a400",  # mustard
    "#607d8b",  # slate
    "#7cb342",  # lime
)

# How many departed participants' colors are remembered, so that a reconnect keeps its color.
_REMEMBERED = 512


@dataclass(frozen=True)
class Participant:
    """One connected client. `cursor` is `(anchor, head)` in UTF-16 units, valid at
    `cursor_version`, or None before the client sent one. `role` is "editor", or "viewer" for
    a client of a read-only link (docs/protocol.md "Read-only links")."""

    client_id: str
    name: str
    color: str
    cursor: tuple[int, int] | None = None
    cursor_version: int | None = None
    role: str = "editor"

    def to_wire(self) -> dict[str, Any]:
        """A participant on the wire: `{"clientId", "name", "color", "cursor", "role"}`."""
        cursor = None
        if self.cursor is not None:
            cursor = {"anchor": self.cursor[0], "head": self.cursor[1]}
        return {
            "clientId": self.client_id,
            "name": self.name,
            "color": self.color,
            "cursor": cursor,
            "role": self.role,
        }


class PositionMapper(Protocol):
    """What `map_cursors` needs of the room authority (`editor_core.authority.Authority`)."""

    @property
    def version(self) -> int: ...

    def map_pos(self, pos: int, from_version: int, assoc: int = -1) -> int: ...


class Presence:
    """The participants of one room, in the order they joined."""

    def __init__(self, palette: Sequence[str] = PALETTE) -> None:
        if not palette:
            raise ValueError("the palette needs at least one color")
        self._palette = tuple(palette)
        self._participants: dict[str, Participant] = {}
        self._remembered: OrderedDict[str, str] = OrderedDict()

    def join(self, client_id: str, name: str, role: str = "editor") -> Participant:
        """Add a participant, or rename one already here (a replacing connection keeps its
        color and cursor). A new participant gets the least-used color, the first in palette
        order on a tie; a client that was here before gets its old color back if that is
        among the least used."""
        current = self._participants.get(client_id)
        if current is not None:
            participant = replace(current, name=name, role=role)
        else:
            participant = Participant(client_id, name, self._pick_color(client_id), role=role)
        self._participants[client_id] = participant
        return participant

    def leave(self, client_id: str) -> Participant | None:
        """Remove a participant; returns it, or None if it was not here."""
        participant = self._participants.pop(client_id, None)
        if participant is not None:
            self._remembered[client_id] = participant.color
            self._remembered.move_to_end(client_id)
            while len(self._remembered) > _REMEMBERED:
                self._remembered.popitem(last=False)
        return participant

    def set_cursor(self, client_id: str, anchor: int, head: int, version: int) -> Participant:
        """Record a participant's selection, valid at `version`."""
        participant = replace(self._get(client_id), cursor=(anchor, head), cursor_version=version)
        self._participants[client_id] = participant
        return participant

    def clear_cursor(self, client_id: str) -> Participant:
        participant = replace(self._get(client_id), cursor=None, cursor_version=None)
        self._participants[client_id] = participant
        return participant

    def get(self, client_id: str) -> Participant | None:
        return self._participants.get(client_id)

    def participants(self) -> list[Participant]:
        """Everyone here, in join order."""
        return list(self._participants.values())

    def to_wire(self) -> list[dict[str, Any]]:
        """`participants` of `init` / `GET /rooms/{roomId}` (cursors as stored: map first)."""
        return [p.to_wire() for p in self._participants.values()]

    def __len__(self) -> int:
        return len(self._participants)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._participants

    def map_cursors(self, authority: PositionMapper) -> None:
        """Move every cursor forward to `authority.version`.

        The anchor and head follow text inserted at them (`assoc=1`, as a caret after typing
        does). A cursor whose version the authority no longer knows (history gone) or that no
        longer fits is dropped: the client sends a fresh one with its next selection.
        """
        version = authority.version
        for client_id, participant in list(self._participants.items()):
            if participant.cursor is None or participant.cursor_version is None:
                continue
            if participant.cursor_version == version:
                continue
            anchor, head = participant.cursor
            try:
                mapped = (
                    authority.map_pos(anchor, participant.cursor_version, 1),
                    authority.map_pos(head, participant.cursor_version, 1),
                )
            except PairpadError:
                self._participants[client_id] = replace(
                    participant, cursor=None, cursor_version=None
                )
                continue
            self._participants[client_id] = replace(
                participant, cursor=mapped, cursor_version=version
            )

    def _get(self, client_id: str) -> Participant:
        participant = self._participants.get(client_id)
        if participant is None:
            raise KeyError(f"no participant {client_id!r} in this room")
        return participant

    def _pick_color(self, client_id: str) -> str:
        used = Counter(p.color for p in self._participants.values())
        fewest = min(used[color] for color in self._palette)
        remembered = self._remembered.get(client_id)
        if remembered is not None and remembered in self._palette and used[remembered] == fewest:
            return remembered
        return next(color for color in self._palette if used[color] == fewest)
