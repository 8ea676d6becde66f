// What the browser remembers between visits: the display name and the recently opened rooms.
// localStorage can be unavailable (private modes, blocked storage): then nothing is remembered.
const NAME_KEY = "pairpad.name";
const RECENT_KEY = "pairpad.recentRooms";
const RECENT_MAX = 8;
// How long a remote cursor's name label stays after it moves (docs/editor.md); tests shorten it.
const LABEL_FADE_KEY = "pairpad.labelFadeMs";
const LABEL_FADE_MS = 2000;

/** @typedef {{roomId: string, name: string, visitedAt: string}} RecentRoom */

/**
 * @param {string} key
 * @returns {string | null}
 */
function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/**
 * @param {string} key
 * @param {string} value
 */
function write(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage refused (quota or policy): the app works without remembering.
  }
}

/** @returns {string} */
export function storedName() {
  return (read(NAME_KEY) || "").trim();
}

/** @param {string} name */
export function storeName(name) {
  write(NAME_KEY, name.trim());
}

// [{roomId, name, visitedAt}] most recent first.
/** @returns {RecentRoom[]} */
export function recentRooms() {
  try {
    const list = JSON.parse(read(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((r) => r && typeof r.roomId === "string") : [];
  } catch {
    return [];
  }
}

/**
 * @param {string} roomId
 * @param {string} name
 */
export function rememberRoom(roomId, name) {
  const rest = recentRooms().filter((r) => r.roomId !== roomId);
  const entry = { roomId, name: name || "", visitedAt: new Date().toISOString() };
  write(RECENT_KEY, JSON.stringify([entry, ...rest].slice(0, RECENT_MAX)));
}

/** @param {string} roomId */
export function forgetRoom(roomId) {
  write(RECENT_KEY, JSON.stringify(recentRooms().filter((r) => r.roomId !== roomId)));
}

/** @returns {number} milliseconds, the stored override when it is a number >= 0 */
export function labelFadeMs() {
  const stored = (read(LABEL_FADE_KEY) || "").trim();
  const ms = stored ? Number(stored) : NaN;
  return Number.isFinite(ms) && ms >= 0 ? ms : LABEL_FADE_MS;
}
