// Client ids: made once per page load and kept across that page's reconnects
// (docs/protocol.md "WebSocket: …": 1–64 of [A-Za-z0-9_-]; @codemirror/collab's clientID).
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/**
 * @param {number} [length]
 * @returns {string}
 */
export function newClientId(length = 16) {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  // 64 symbols: the low 6 bits of each byte are uniform, so 16 chars carry 96 bits.
  return Array.from(bytes, (b) => ALPHABET[b & 63]).join("");
}

// Room ids are URL-safe tokens; accept the same alphabet when a person pastes one.
const ROOM_ID = /^[A-Za-z0-9_-]{1,128}$/;

// A room id from what a person pasted: a bare id, a `/r/{id}` path or a full link.
/**
 * @param {string} text
 * @returns {string | null}
 */
export function roomIdFromInput(text) {
  const value = text.trim();
  if (!value) return null;
  if (ROOM_ID.test(value)) return value;
  let path = value;
  try {
    path = new URL(value, location.origin).pathname;
  } catch {
    return null;
  }
  const match = /\/r\/([^/?#]+)\/?$/.exec(path);
  if (!match) return null;
  const id = decodeURIComponent(match[1]);
  return ROOM_ID.test(id) ? id : null;
}

// The read-only link id of a viewer's page (`/v/{linkId}`, docs/protocol.md "Read-only
// links"), or null elsewhere.
/**
 * @param {string} pathname
 * @returns {string | null}
 */
export function linkIdFromPath(pathname) {
  const match = /^\/v\/([^/]+)\/?$/.exec(pathname);
  return match ? decodeURIComponent(match[1]) : null;
}

// The room id of the current page, or null on the landing page.
/**
 * @param {string} pathname
 * @returns {string | null}
 */
export function roomIdFromPath(pathname) {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  return match ? decodeURIComponent(match[1]) : null;
}
