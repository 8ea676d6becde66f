// The REST half of the contract (docs/protocol.md "REST", "Errors"). Errors come back as
// ApiError with the server's `{"error": {"code", "message"}}` body, or a network/unknown code
// when there was none.
/** @typedef {import("./wire.js").Room} Room */
/** @typedef {import("./wire.js").RoomState} RoomState */
/** @typedef {import("./wire.js").Link} Link */
/** @typedef {import("./wire.js").SharedRoom} SharedRoom */

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

/** @typedef {import("./wire.js").Blame} Blame */
/** @typedef {import("./wire.js").HistoryPage} HistoryPage */
/** @typedef {import("./wire.js").Restored} Restored */
/** @typedef {import("./wire.js").VersionText} VersionText */

/**
 * @param {string} roomId
 * @param {{before?: number, limit?: number}} [query]
 * @returns {Promise<HistoryPage>}
 */
export function getHistory(roomId, { before, limit } = {}) {
  const params = new URLSearchParams();
  if (before !== undefined) params.set("before", String(before));
  if (limit !== undefined) params.set("limit", String(limit));
  return request("GET", `/rooms/${encodeURIComponent(roomId)}/history?${params}`);
}

/**
 * @param {string} roomId
 * @param {number} version
 * @returns {Promise<VersionText>}
 */
export function getVersion(roomId, version) {
  return request("GET", `/rooms/${encodeURIComponent(roomId)}/versions/${version}`);
}

/**
 * @param {string} roomId
 * @returns {Promise<Blame>}
 */
export function getBlame(roomId) {
  return request("GET", `/rooms/${encodeURIComponent(roomId)}/blame`);
}

/**
 * @param {string} roomId
 * @param {number} version
 * @param {string} author
 * @returns {Promise<Restored>}
 */
export function restoreVersion(roomId, version, author) {
  return request("POST", `/rooms/${encodeURIComponent(roomId)}/restore`, { version, author });
}

// Read-only links (docs/protocol.md "Read-only links").

/**
 * @param {string} roomId
 * @returns {Promise<Link>}
 */
export function createLink(roomId) {
  return request("POST", `/rooms/${encodeURIComponent(roomId)}/links`, { role: "viewer" });
}

/**
 * @param {string} roomId
 * @returns {Promise<{links: Link[]}>}
 */
export function listLinks(roomId) {
  return request("GET", `/rooms/${encodeURIComponent(roomId)}/links`);
}

/**
 * @param {string} roomId
 * @param {string} linkId
 * @returns {Promise<null>}
 */
export function revokeLink(roomId, linkId) {
  return request("DELETE", `/rooms/${encodeURIComponent(roomId)}/links/${encodeURIComponent(linkId)}`);
}

/**
 * The room as a viewer sees it: `GET /rooms/{roomId}` without `roomId`.
 * @param {string} linkId
 * @returns {Promise<SharedRoom>}
 */
export function getSharedRoom(linkId) {
  return request("GET", `/links/${encodeURIComponent(linkId)}`);
}
