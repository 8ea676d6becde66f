// The REST half of the contract (docs/protocol.md "REST", "Errors"). Errors come back as
// ApiError with the server's `{"error": {"code", "message"}}` body, or a network/unknown code
// when there was none.
/** @typedef {import("./wire.js").Room} Room */
/** @typedef {import("./wire.js").RoomState} RoomState */

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, 0 when the server could not be reached
   * @param {string} code the error body's `code`, or "network" / "http_error"
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {object} [body]
 * @returns {Promise<any>} the parsed JSON answer, its shape the caller's to state
 */
async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `Could not reach the Pairpad server (${/** @type {Error} */ (err).message}).`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload && payload.error;
    throw new ApiError(
      response.status,
      (error && error.code) || "http_error",
      (error && error.message) || `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return payload;
}

/**
 * @param {string} name
 * @returns {Promise<Room>}
 */
export function createRoom(name) {
  return request("POST", "/rooms", name ? { name, language: "python" } : { language: "python" });
}

/**
 * @param {string} roomId
 * @returns {Promise<RoomState>}
 */
export function getRoom(roomId) {
  return request("GET", `/rooms/${encodeURIComponent(roomId)}`);
}
