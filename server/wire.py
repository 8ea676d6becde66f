"""Encoding frames once: a broadcast is encoded one time for all receivers, as JSON text and,
for the sockets written directly (`server/ws_protocol.py`), as the bytes of its WebSocket frame
(docs/performance-collab.md "Lever 3")."""

from __future__ import annotations

import json
from typing import Any

from websockets.frames import Frame, Opcode


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def text_frame(text: str) -> bytes | None:
    """The text frame a server writes (RFC 6455: unmasked, one fragment, no extension), built
    by websockets; None if the text cannot be UTF-8 (a lone surrogate)."""
    try:
        payload = text.encode()
    except UnicodeEncodeError:
        return None
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class SharedFrame(str):
    """A frame's text that goes to many peers: its wire bytes are built at the first need and
    kept for the others."""

    _wire: bytes | None = None

    def wire(self) -> bytes | None:
        if self._wire is None:
            self._wire = text_frame(self)
        return self._wire
