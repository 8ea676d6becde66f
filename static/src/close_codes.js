// WebSocket close codes of the contract (docs/protocol.md, "Errors and closing"): the editor's
// one definition, mirroring editor_core/close_codes.py; tests/core/test_close_codes.py keeps
// the two equal.
export const CloseCode = Object.freeze({
  GOING_AWAY: 1001, // server shutting down
  MESSAGE_TOO_BIG: 1009, // a message over maxMessageBytes
  INTERNAL_ERROR: 1011, // the room failed (e.g. the store refused a write)
  SERVICE_RESTART: 1012, // the room moved to another process of the deployment: reconnect
  TRY_AGAIN_LATER: 1013, // the peer stopped reading and its send queue overflowed
  BAD_REQUEST: 4400, // bad clientId or name, or a viewer taking an editor's clientId
  REVOKED: 4403, // the read-only link this viewer came through was revoked
  NOT_FOUND: 4404, // room not found
  REPLACED: 4409, // replaced by a newer connection with the same clientId
  DELETED: 4410, // room deleted
  FULL: 4429, // room full (maxParticipants)
});
