"""WebSocket client → server messages (docs/protocol.md "Editing" and "Presence, runs,
completions"), one pydantic union on `type`. A frame that does not parse, or that has a field
its message does not declare (docs/protocol.md "Unknown fields"), ends here as an
`invalid_message` error."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from editor_core.errors import InvalidMessage
from server.errors import validation_details

Version = Annotated[StrictInt, Field(ge=0)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PushedUpdate(Message):
    changes: Any


class PushMessage(Message):
    type: Literal["code_update"]
    version: Version
    updates: list[PushedUpdate] = Field(max_length=1000)


class PullMessage(Message):
    type: Literal["pull"]
    version: Version


class CursorMessage(Message):
    type: Literal["cursor"]
    version: Version
    anchor: Version
    head: Version


class RunMessage(Message):
    type: Literal["run"]
    stdin: StrictStr = ""


class StopMessage(Message):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: Literal["stop"]
    run_id: StrictStr = Field(alias="runId")


class Request(Message):
    """A question about a place in the room's document, answered with its `id`."""

    id: StrictStr = Field(max_length=200)
    version: Version
    position: Version


class CompleteMessage(Request):
    type: Literal["complete"]


class SignatureMessage(Request):
    type: Literal["signature"]


class HoverMessage(Request):
    type: Literal["hover"]


class DefinitionMessage(Request):
    type: Literal["definition"]


class PingMessage(Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    PushMessage | PullMessage | CursorMessage | RunMessage | StopMessage | CompleteMessage
    | SignatureMessage | HoverMessage | DefinitionMessage | PingMessage,
    Field(discriminator="type"),
]
_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse(text: str) -> ClientMessage:
    """Parse one frame. `InvalidMessage` carries the request `id` when the frame had one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidMessage(f"message is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidMessage("message must be a JSON object")
    request_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        extra = {"id": request_id} if request_id is not None else {}
        raise InvalidMessage(f"invalid {data.get('type')!r} message",
                             details=validation_details(exc), **extra) from None
