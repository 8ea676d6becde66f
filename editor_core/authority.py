"""The room authority: one document, its log of updates, and the rule that orders them.

The rule, in short: version = number of accepted updates; a stale push is rebased over what
came since, one update at a time; the pusher's resent updates are skipped; a push applies
whole or not at all. Why, and the one departure from collab: docs/architecture.md "The room
authority" and "Rebasing: one deliberate departure".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from editor_core.changeset import ChangeDesc, ChangeSet
from editor_core.errors import HistoryGone, InvalidMessage, InvalidUpdate, InvalidVersion, TooLarge
from editor_core.positions import utf16_length
from editor_core.stepwise import map_stepwise


@dataclass(frozen=True)
class Update:
    """One accepted change, stamped with the `clientId` of the connection that pushed it."""

    client_id: str
    changes: ChangeSet

    def to_wire(self) -> dict[str, Any]:
        """`{"clientId", "changes"}`: an element of `code_update.updates`."""
        return {"clientId": self.client_id, "changes": self.changes.to_json()}


@dataclass(frozen=True)
class PushOutcome:
    """What a push did.

    `accepted` are the new updates, now at versions `base_version + 1 ..`; the server
    broadcasts them as one `code_update` with `version = base_version`. When `accepted` is
    empty the push added nothing new (all of it was already in the log): answer the pusher
    alone with `pull(version of the push)` (docs/protocol.md "Editing").
    """

    accepted: list[Update]
    base_version: int


def rebase_updates(updates: Sequence[Update], over: Sequence[Update]) -> list[Update]:
    """`rebaseUpdates` of `@codemirror/collab`: drop `updates` already in `over`, map the rest.

    `updates` were made on top of the version before `over`, all by one client; `over` are the
    updates accepted since. The leading updates of `updates` whose client id matches updates of
    `over` (in order) are taken as already accepted; the others are mapped over everything in
    `over` that is not theirs, so they apply to the document after `over`.

    Law: applying `over`, then the result, gives the document that collab's `rebaseUpdates`
    gives, and the resulting changes are byte-identical to its as JSON (cross-checked). It
    mirrors CodeMirror's types too, as they decide shortcuts: `changes` is a `ChangeSet` (whose
    `map_desc` always maps) until `compose_desc` makes it a `ChangeDesc` (whose `map_desc`
    returns itself over an empty change). Its texts are never used, so they are not kept.
    """
    if not over or not updates:
        return list(updates)
    changes: ChangeDesc | None = None
    skip = 0
    for update in over:
        other = updates[skip] if skip < len(updates) else None
        if other is not None and other.client_id == update.client_id:
            if changes is not None:
                changes = changes.map_desc(other.changes, before=True)
            skip += 1
        else:
            changes = update.changes if changes is None else changes.compose_desc(update.changes)
    rest = updates[skip:]
    if changes is None:
        return list(rest)
    rebased = []
    for index, update in enumerate(rest):
        rebased.append(Update(update.client_id, update.changes.map(changes)))
        if index + 1 < len(rest):  # (collab also maps after the last one, to no use)
            changes = changes.map_desc(update.changes, before=True)
    return rebased


def rebase_stepwise(updates: Sequence[Update], over: Sequence[Update]) -> list[Update]:
    """`rebase_updates` over each update of `over` in turn: what a client that receives `over`
    one update at a time computes for its unconfirmed `updates` (collab's `receiveUpdates`).

    Law: `rebase_stepwise(u, over) == rebase_updates(u, over)` when `len(over) <= 1`; and
    `rebase_stepwise(rebase_stepwise(u, a), b) == rebase_stepwise(u, [*a, *b])`, so it does not
    matter where the updates since a push were cut into messages.
    """
    # `rebase_updates(pending, [update])` for each update, unrolled: the update is the
    # pusher's next one (drop it, `None`) or it maps all that remain (`map_stepwise`, which
    # keeps one-range changes as integers between steps instead of building a ChangeSet each).
    client_ids = [update.client_id for update in updates]
    steps: list[ChangeSet | None] = []
    first = 0
    for update in over:
        if first == len(client_ids):
            break
        if client_ids[first] == update.client_id:
            steps.append(None)
            first += 1
        else:
            steps.append(update.changes)
    rebased = map_stepwise([update.changes for update in updates], steps)
    return [
        update if update.changes is changes else Update(update.client_id, changes)
        for update, changes in zip(updates[first:], rebased, strict=True)
    ]


class Authority:
    """The central authority of one room (docs/architecture.md "The room authority").

    `text` is the current document (a Python `str`), `version` the number of updates accepted
    since the room was created, `oldest_version` the earliest version a push, pull or position
    may start from: the log holds the updates `oldest_version + 1 .. version`, at least the
    last `keep_updates` of them once there are that many.
    """

    def __init__(
        self,
        text: str,
        version: int,
        history: Sequence[Update] = (),
        *,
        keep_updates: int = 10_000,
        max_length: int | None = None,
    ) -> None:
        """`history`: the most recent updates, ending at `version` (a store's tail of the log).

        `max_length` is in UTF-16 units, like every length of the contract.
        """
        if version < 0 or len(history) > version:
            raise ValueError(f"{len(history)} updates of history cannot end at version {version}")
        if keep_updates < 0:
            raise ValueError("keep_updates must not be negative")
        self.text = text
        self.version = version
        self.keep_updates = keep_updates
        self.max_length = max_length
        self._length = utf16_length(text)
        self._log: list[Update] = list(history)
        for before, after in zip(self._log, self._log[1:], strict=False):
            if before.changes.new_length != after.changes.length:
                raise ValueError("history updates do not follow one another")
        if self._log and self._log[-1].changes.new_length != self._length:
            raise ValueError("history does not end at the given text")
        self._trim()

    @property
    def oldest_version(self) -> int:
        """Earliest version a push, pull or `map_pos` may start from."""
        return self.version - len(self._log)

    @property
    def length(self) -> int:
        """UTF-16 length of `text`."""
        return self._length

    def push(self, client_id: str, version: int, changes: Sequence[ChangeSet]) -> PushOutcome:
        """Accept `changes`, made by `client_id` on top of `version` (docs/protocol.md "Editing").

        Each change must apply to the document at `version` after the push's earlier changes.
        Raises `InvalidVersion` (above the room's version), `HistoryGone` (older than the log),
        `InvalidUpdate` (a change does not fit) or `TooLarge` (the document would grow past
        `max_length`); then nothing is applied.
        """
        self._check_version(version)
        length = self._length_at(version)
        for index, change in enumerate(changes):
            if change.length != length:
                raise InvalidUpdate(
                    f"change {index} applies to a document of {change.length} units; "
                    f"the document has {length} at that point"
                )
            length = change.new_length
        pushed = [Update(client_id, change) for change in changes]
        accepted = rebase_stepwise(pushed, self._log[version - self.oldest_version :])
        text = self.text
        for update in accepted:
            text = update.changes.apply(text)  # InvalidUpdate if it splits a surrogate pair
        new_length = accepted[-1].changes.new_length if accepted else self._length
        # A push that does not grow the document is always allowed, so a room over a lowered
        # limit can still be trimmed.
        if self.max_length is not None and new_length > max(self.max_length, self._length):
            raise TooLarge(
                f"the document would have {new_length} units; at most {self.max_length} allowed"
            )
        base_version = self.version
        self._log.extend(accepted)
        self.version += len(accepted)
        self.text = text
        self._length = new_length
        self._trim()
        return PushOutcome(accepted, base_version)

    def pull(self, version: int) -> list[Update]:
        """The updates after `version`, oldest first (docs/protocol.md "Editing", `pull`)."""
        self._check_version(version)
        return self._log[version - self.oldest_version :]

    def map_pos(
        self, pos: int, from_version: int, assoc: int = -1, *, to_version: int | None = None
    ) -> int:
        """Map UTF-16 position `pos` of the document at `from_version` to the one at
        `to_version` (default: the current one).

        `assoc` as in `ChangeSet.map_pos`. Raises `InvalidVersion` / `HistoryGone` for a version
        outside the log, `InvalidMessage` for a position outside that document or a
        `to_version` before `from_version`.
        """
        self._check_version(from_version)
        end = self.version if to_version is None else to_version
        if not from_version <= end <= self.version:
            raise InvalidMessage(f"cannot map from version {from_version} to {end}")
        length = self._length_at(from_version)
        if not 0 <= pos <= length:
            raise InvalidMessage(
                f"position {pos} is outside the document at version {from_version} (0..{length})"
            )
        oldest = self.oldest_version
        for update in self._log[from_version - oldest : end - oldest]:
            pos = update.changes.map_pos(pos, assoc)
        return pos

    def _check_version(self, version: int) -> None:
        if version > self.version:
            raise InvalidVersion(f"version {version} is above the room's ({self.version})")
        if version < self.oldest_version:
            raise HistoryGone(
                f"version {version} is older than the history kept (from {self.oldest_version})"
            )

    def _length_at(self, version: int) -> int:
        if version == self.version:
            return self._length
        return self._log[version - self.oldest_version].changes.length

    def _trim(self) -> None:
        excess = len(self._log) - self.keep_updates
        if excess > 0:
            del self._log[:excess]
