// The WebSocket to a room, kept alive with backoff (close codes: docs/protocol.md "Errors and
// closing"). It knows nothing of documents: it delivers parsed messages and reports its state.
// The clientId stays the same across reconnects; a reconnect is never a page reload.

import { CloseCode } from "./close_codes.js";

/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/**
 * What the connection is doing: `waiting` carries the retry's delay and the close that
 * caused it (none after a failed `new WebSocket`), `closed` the final close code.
 * @typedef {{status: "connecting" | "reconnecting", attempt: number}
 *   | {status: "online"}
 *   | {status: "failed", reason: string}
 *   | {status: "waiting", attempt: number, retryInMs: number, code?: number, reason?: string}
 *   | {status: "closed", code: number, reason: string}} ConnectionState
 */

// Close codes after which a client must not reconnect.
/** @type {ReadonlySet<number>} */
export const FINAL_CLOSE_CODES = new Set([
  CloseCode.BAD_REQUEST, CloseCode.NOT_FOUND, CloseCode.REPLACED, CloseCode.DELETED,
  CloseCode.REVOKED,
]);
// Codes this client closes with; they are not the server's, so not in CloseCode: a normal
// closure (RFC 6455, 7.4.1) and a private-use one for a server that went silent.
const CLOSE_NORMAL = 1000;
const CLOSE_SILENT = 4000;

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_EVERY_MS = 15_000;
// Without any message (pongs included) for this long, the socket is presumed dead.
const SILENCE_LIMIT_MS = 40_000;

/**
 * @param {string} roomId
 * @param {string} clientId
 * @param {string} name
 * @returns {string}
 */
export function socketUrl(roomId, clientId, name) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `/ws/${encodeURIComponent(roomId)}/${encodeURIComponent(clientId)}`;
  return `${scheme}//${location.host}${path}?name=${encodeURIComponent(name)}`;
}

// A viewer's socket (docs/protocol.md "Read-only links"): the link id stands for the room.
/**
 * @param {string} linkId
 * @param {string} clientId
 * @param {string} name
 * @returns {string}
 */
export function viewerSocketUrl(linkId, clientId, name) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `/ws/view/${encodeURIComponent(linkId)}/${encodeURIComponent(clientId)}`;
  return `${scheme}//${location.host}${path}?name=${encodeURIComponent(name)}`;
}

export class Connection {
  /**
   * @param {string} url
   * @param {{onMessage: (msg: ServerMessage) => void,
   *          onState: (state: ConnectionState) => void,
   *          onOpen?: () => void, onClose?: (code: number) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    /** @type {number | null} set while a reconnect waits */
    this.retryTimer = null;
    /** @type {number | null} */
    this.pingTimer = null;
    this.lastHeard = 0; // Date.now() of the last frame
    this.stopped = false;
    this.onBrowserOnline = () => {
      if (this.retryTimer !== null) this.connectNow();
    };
    window.addEventListener("online", this.onBrowserOnline);
  }

  start() {
    this.connectNow();
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * @param {ClientMessage} message
   * @returns {boolean} false when not connected (the message was not sent)
   */
  send(message) {
    if (!this.isOpen) return false;
    /** @type {WebSocket} */ (this.socket).send(JSON.stringify(message));
    return true;
  }

  // Ends the connection for good (leaving the page, or a final close code).
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    clearInterval(this.pingTimer);
    window.removeEventListener("online", this.onBrowserOnline);
    if (this.socket) this.socket.close(CLOSE_NORMAL, "bye");
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped) return;
    this.handlers.onState({ status: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this.handlers.onState({ status: "failed", reason: /** @type {Error} */ (err).message });
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.lastHeard = Date.now();
      this.startPinging();
      if (this.handlers.onOpen) this.handlers.onOpen();
    });
    socket.addEventListener("message", (event) => {
      this.lastHeard = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("pairpad: ignored a frame that is not JSON", event.data);
        return;
      }
      if (message && message.type === "init") {
        // Only a room that greeted us counts as a success: a server that accepts and closes
        // at once (room full) keeps the backoff growing.
        this.attempt = 0;
        this.handlers.onState({ status: "online" });
      }
      this.handlers.onMessage(/** @type {ServerMessage} */ (message));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      if (this.handlers.onClose) this.handlers.onClose(event.code);
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.handlers.onState({ status: "closed", code: event.code, reason: event.reason });
        return;
      }
      this.scheduleRetry(event.code, event.reason);
    });
    // An "error" event is always followed by "close", which does the work.
  }

  /**
   * @param {number} [code] the close code that ended the last socket
   * @param {string} [reason]
   */
  scheduleRetry(code, reason) {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    // Jitter spreads the reconnects of a whole room after a server restart.
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.handlers.onState({ status: "waiting", attempt: this.attempt, retryInMs: delay, code, reason });
    this.retryTimer = setTimeout(() => this.connectNow(), delay);
  }

  startPinging() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (!this.isOpen) return;
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        // A half-open TCP connection may take minutes to report its close: let it go now.
        const dead = /** @type {WebSocket} */ (this.socket); // isOpen: not null
        this.socket = null;
        clearInterval(this.pingTimer);
        dead.close(CLOSE_SILENT, "no answer from server");
        if (this.handlers.onClose) this.handlers.onClose(CLOSE_SILENT);
        this.scheduleRetry(CLOSE_SILENT, "no answer from server");
        return;
      }
      this.send({ type: "ping" });
    }, PING_EVERY_MS);
  }
}
