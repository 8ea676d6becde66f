"""Just enough of the Yjs update format (v1) and the Hocuspocus message framing for lean clients.

The peer benchmark (`--peer hocuspocus`) drives `@hocuspocus/server` with the same lean sockets
as Pairpad, so neither side pays for a full client library. An author does not keep a Y.Doc:
it inserts each token after a random character of one of its own earlier tokens (or at the
start), which names only items it made itself, so the update is valid without knowing anyone
else's. Observers parse the updates they receive just far enough to find the inserted strings.

Formats followed (yjs 13, lib0 encoding; @hocuspocus/server 4.7 `MessageType`):
- message: varString(documentName) varUint(type) …; Sync = 0 (then varUint(step): 0 step 1,
  1 step 2, 2 update; then varUint8Array(payload)), Auth = 2 (then varUint(0 = Token)
  varString(token)).
- update v1: varUint(#clients), per client varUint(#structs) varUint(client) varUint(clock),
  per struct an info byte (low 5 bits: content ref; 0x80 origin, 0x40 right origin, 0x20 parent
  sub) and its fields; then the delete set (varUint(0) when empty).
"""

from __future__ import annotations

from collections.abc import Iterator

SYNC, AUTH = 0, 2
STEP1, STEP2, UPDATE = 0, 1, 2
REF_GC, REF_DELETED, REF_STRING, REF_SKIP = 0, 1, 4, 10
TEXT_NAME = "codemirror"  # the root Y.Text the tokens go into


def var_uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def var_string(s: str) -> bytes:
    data = s.encode()
    return var_uint(len(data)) + data


def read_var_uint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


def auth_message(document: str) -> bytes:
    """The provider's first message; the server has no onAuthenticate hook, so any token."""
    return var_string(document) + var_uint(AUTH) + var_uint(0) + var_string("bench")


def sync_step1_message(document: str) -> bytes:
    """Sync step 1 with an empty state vector: 'send me everything'."""
    return var_string(document) + var_uint(SYNC) + var_uint(STEP1) + var_uint(1) + var_uint(0)


def insert_update(client: int, clock: int, origin: tuple[int, int] | None, text: str) -> bytes:
    """One string item inserted after `origin` (an (client, clock) of the doc), or at the start."""
    if origin is not None:
        head = bytes((0x80 | REF_STRING,)) + var_uint(origin[0]) + var_uint(origin[1])
    else:  # no origins: name the parent, the root type
        head = bytes((REF_STRING,)) + var_uint(1) + var_string(TEXT_NAME)
    return (var_uint(1) + var_uint(1) + var_uint(client) + var_uint(clock) + head
            + var_string(text) + var_uint(0))


def update_message(document: str, update: bytes) -> bytes:
    return (var_string(document) + var_uint(SYNC) + var_uint(UPDATE) + var_uint(len(update))
            + update)


def message_kind(buf: bytes) -> tuple[int, int, int]:
    """(type, sync step or -1, position after them) of a Hocuspocus message."""
    length, pos = read_var_uint(buf, 0)
    kind, pos = read_var_uint(buf, pos + length)
    step = -1
    if kind == SYNC:
        step, pos = read_var_uint(buf, pos)
    return kind, step, pos


def inserted_strings(buf: bytes, pos: int) -> Iterator[bytes]:
    """The UTF-8 strings inserted by the v1 update at `buf[pos:]` (a varUint8Array)."""
    _, pos = read_var_uint(buf, pos)  # the array's length
    clients, pos = read_var_uint(buf, pos)
    for _ in range(clients):
        structs, pos = read_var_uint(buf, pos)
        _, pos = read_var_uint(buf, pos)  # client
        _, pos = read_var_uint(buf, pos)  # clock
        for _ in range(structs):
            info = buf[pos]
            pos += 1
            ref = info & 0x1F
            if ref in (REF_GC, REF_SKIP):
                _, pos = read_var_uint(buf, pos)
                continue
            if info & 0x80:
                pos = read_var_uint(buf, read_var_uint(buf, pos)[1])[1]
            if info & 0x40:
                pos = read_var_uint(buf, read_var_uint(buf, pos)[1])[1]
            if not info & 0xC0:
                is_key, pos = read_var_uint(buf, pos)
                if is_key:
                    length, pos = read_var_uint(buf, pos)
                    pos += length
                else:
                    pos = read_var_uint(buf, read_var_uint(buf, pos)[1])[1]
                if info & 0x20:
                    length, pos = read_var_uint(buf, pos)
                    pos += length
            if ref == REF_STRING:
                length, pos = read_var_uint(buf, pos)
                yield buf[pos : pos + length]
                pos += length
            elif ref == REF_DELETED:
                _, pos = read_var_uint(buf, pos)
            else:
                raise ValueError(f"content ref {ref} is not made by this benchmark")
