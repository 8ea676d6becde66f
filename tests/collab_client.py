"""A transport-free model of a `@codemirror/collab` client, built on our `ChangeSet`.

It does what `collab()` + `receiveUpdates` + `sendableUpdates` do in the browser (collab.ts),
minus effects and the editor: it keeps the synced version and the unconfirmed local changes,
and rebases them when updates arrive, **one update at a time** (`receiveUpdates` called with
one update each), the order the authority rebases in (editor_core/authority.py).
`tests/core/test_crosscheck.py` checks it against the real `receiveUpdates`.

Tests drive it directly; a load test wraps it with a WebSocket: send `pending_push()` as a
`code_update` push (when it has changes), feed every `code_update` received to `receive`, send
`pull` from `version` when `receive` returns False, and `reset` after a refused push.

Wire shapes are those of docs/protocol.md "Editing": `updates` are `[{"clientId", "changes"}]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from editor_core.changeset import ChangeSet


class CollabClient:
    """One editor's view of a room: `doc`, synced `version`, `unconfirmed` local changes."""

    def __init__(self, client_id: str, doc: str = "", version: int = 0) -> None:
        self.client_id = client_id
        self.doc = doc
        self.version = version
        self.unconfirmed: list[ChangeSet] = []

    def local_change(self, changes: ChangeSet) -> None:
        """The user edited: apply locally, remember it until the server confirms it."""
        self.doc = changes.apply(self.doc)
        if not changes.empty:
            self.unconfirmed.append(changes)

    def pending_push(self) -> tuple[int, list[list[Any]]]:
        """`(version, [changes JSON])` to send as a `code_update` push: every unconfirmed
        change, resent whole each time (the server skips what it already has)."""
        return self.version, [changes.to_json() for changes in self.unconfirmed]

    def receive(self, version: int, updates: Sequence[Mapping[str, Any]]) -> bool:
        """Take a server `code_update` (docs/protocol.md "Editing").

        Applies only the part above the synced version. Returns False, changing nothing, when
        the message starts above it: the caller should `pull` from `self.version`.
        """
        if version > self.version:
            return False
        # One update at a time, as the authority rebases (editor_core/authority.py): composing a
        # batch first can order a tie differently from the server.
        for update in updates[self.version - version :]:
            self._receive([(update["clientId"], ChangeSet.from_json(update["changes"]))])
        return True

    def reset(self, doc: str, version: int) -> None:
        """Resync from a fresh room state, dropping unconfirmed changes (after a refused push)."""
        self.doc = doc
        self.version = version
        self.unconfirmed = []

    def _receive(self, updates: list[tuple[str, ChangeSet]]) -> None:
        # collab.ts `receiveUpdates`: our own updates (the next unconfirmed ones, in order) are
        # confirmed; the others are composed into `changes`, which our remaining unconfirmed
        # changes are then mapped over (and it over them) before it is applied to our doc.
        changes: ChangeSet | None = None
        own = 0
        for client_id, update_changes in updates:
            ours = self.unconfirmed[own] if own < len(self.unconfirmed) else None
            if ours is not None and client_id == self.client_id:
                if changes is not None:
                    changes = changes.map(ours, before=True)
                own += 1
            else:
                changes = update_changes if changes is None else changes.compose(update_changes)
        self.version += len(updates)
        unconfirmed = self.unconfirmed[own:]
        if changes is not None and unconfirmed:
            rebased = []
            for local in unconfirmed:
                rebased.append(local.map(changes))
                changes = changes.map(local, before=True)
            unconfirmed = rebased
        self.unconfirmed = unconfirmed
        if changes is not None:
            self.doc = changes.apply(self.doc)
