// The sync half of @codemirror/collab against the Pairpad authority (docs/protocol.md
// "Editing", "Errors and closing"). One push in flight at a time; a reconnect pulls from the
// synced version before pushing the unconfirmed updates again; refused pushes resync from REST.
import { ChangeSet, Transaction } from "@codemirror/state";
import { getSyncedVersion, receiveUpdates, sendableUpdates } from "@codemirror/collab";

// How many of the latest accepted changes we keep, to map positions (cursors, completions)
// that the server gives at an older version onto our document.
const RECENT_KEEP = 1000;
// Updates per push: bounded so that a long offline burst goes out in pieces.
const PUSH_MAX_UPDATES = 200;
// A push the server neither confirms nor refuses is sent again (it skips what it has).
const PUSH_RESEND_MS = 8000;
const CURSOR_DELAY_MS = 40;

const PUSH_REFUSED = new Set(["invalid_update", "invalid_version", "too_large"]);

/** @typedef {import("@codemirror/view").EditorView} EditorView */
/** @typedef {import("@codemirror/view").ViewUpdate} ViewUpdate */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./wire.js").CodeUpdateMessage} CodeUpdateMessage */
/** @typedef {import("./wire.js").ErrorMessage} ErrorMessage */
/** @typedef {import("./wire.js").RoomState} RoomState */

export class CollabSync {
  /**
   * @param {{send: (msg: ClientMessage) => boolean,
   *          fetchRoom: () => Promise<Omit<RoomState, "roomId">>,
   *          reset: (room: Omit<RoomState, "roomId">) => void,
   *          onEditsDropped: (text: string, reason: string) => void,
   *          onResyncFailed: (err: Error) => void,
   *          onChange: () => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    /** @type {EditorView | null} */
    this.view = null;
    this.online = false;
    this.inFlight = 0; // updates of the push in flight
    /** @type {number | null} */
    this.pushTimer = null;
    this.pullPending = false;
    this.resyncing = false;
    /** @type {Map<number, ChangeSet>} */
    this.recent = new Map(); // version v -> ChangeSet taking v to v + 1
    /** @type {{resolve: (settled: boolean) => void}[]} */
    this.waiters = [];
    /** @type {((version: number) => void)[]} */
    this.advanceListeners = [];
    this.cursorDirty = false;
    /** @type {number | null} */
    this.cursorTimer = null;
    /** @type {{version: number, anchor: number, head: number} | null} the last cursor sent */
    this.lastCursor = null;
    // From init.limits: a push larger than this would close the socket with
    // CloseCode.MESSAGE_TOO_BIG.
    this.maxMessageBytes = 1024 * 1024;
  }

  /** @param {EditorView} view */
  attach(view) {
    this.view = view;
  }

  // The attached editor: room.js attaches it on the first `init`, before any step below.
  /** @returns {EditorView} */
  get editor() {
    if (!this.view) throw new Error("CollabSync used before attach()");
    return this.view;
  }

  /** @returns {number} */
  get synced() {
    return getSyncedVersion(this.editor.state);
  }

  /** @returns {number} */
  get unconfirmedCount() {
    return sendableUpdates(this.editor.state).length;
  }

  // No own change waiting for the server, connected and in step: a `run`, `complete` or
  // `cursor` sent now refers to a document the server has.
  get settled() {
    return this.online && !this.resyncing && !this.pullPending && this.unconfirmedCount === 0;
  }

  // Resolves true once settled, false if `signal` aborts first.
  /**
   * @param {AbortSignal} [signal]
   * @returns {Promise<boolean>}
   */
  whenSettled(signal) {
    if (this.settled) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { resolve };
      this.waiters.push(waiter);
      if (signal) {
        signal.addEventListener("abort", () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        });
      }
    });
  }

  /** @param {(version: number) => void} listener called when the synced version moved */
  onAdvance(listener) {
    this.advanceListeners.push(listener);
  }

  // The socket greeted us with `init`. On the first one the editor was built from it; on a
  // reconnect we keep our document and pull what we missed (docs/protocol.md "Editing").
  /** @param {boolean} isFirst */
  connected(isFirst) {
    this.online = true;
    this.inFlight = 0;
    this.pullPending = false;
    if (!isFirst && !this.resyncing) this.pull();
    this.cursorDirty = true;
    this.afterChange();
  }

  disconnected() {
    this.online = false;
    this.inFlight = 0;
    this.pullPending = false;
    clearTimeout(this.pushTimer);
    this.hooks.onChange();
  }

  pull() {
    if (this.hooks.send({ type: "pull", version: this.synced })) this.pullPending = true;
  }

  // An editor update: a local change means something to push, a local selection change a
  // cursor to announce.
  /** @param {ViewUpdate} update */
  localUpdate(update) {
    const local = update.transactions.some((tr) => !tr.annotation(Transaction.remote));
    if (!local) return;
    if (update.docChanged) this.schedulePush();
    if (update.docChanged || update.selectionSet) {
      this.cursorDirty = true;
      this.scheduleCursor();
    }
    this.hooks.onChange();
  }

  schedulePush() {
    if (!this.online || this.resyncing || this.pullPending || this.inFlight > 0) return;
    const updates = sendableUpdates(this.editor.state);
    if (!updates.length) return;
    // Fewer updates per push until the frame fits the server's message limit.
    let count = Math.min(updates.length, PUSH_MAX_UPDATES);
    /** @type {ClientMessage} */
    let message;
    for (;;) {
      message = {
        type: "code_update",
        version: this.synced,
        updates: updates.slice(0, count).map((u) => ({ changes: u.changes.toJSON() })),
      };
      if (utf8Length(JSON.stringify(message)) <= this.maxMessageBytes || count === 1) break;
      count = Math.ceil(count / 2);
    }
    if (utf8Length(JSON.stringify(message)) > this.maxMessageBytes) {
      // One edit too big to send at all (a huge paste): it cannot reach the room.
      this.dropEditsAndResync("too_large");
      return;
    }
    if (!this.hooks.send(message)) return;
    this.inFlight = count;
    clearTimeout(this.pushTimer);
    this.pushTimer = setTimeout(() => {
      this.inFlight = 0;
      this.schedulePush();
    }, PUSH_RESEND_MS);
  }

  // A `code_update` from the server: apply only the part above our synced version.
  /** @param {CodeUpdateMessage} message */
  receive(message) {
    if (!this.view || this.resyncing) return;
    const synced = this.synced;
    if (message.version > synced) {
      // A gap: something was missed (or a pull is already on its way to fill it).
      if (!this.pullPending) this.pull();
      return;
    }
    this.pullPending = false;
    const fresh = message.updates.slice(synced - message.version);
    if (fresh.length) {
      const before = this.unconfirmedCount;
      try {
        // One update per receiveUpdates call: the server rebases stale pushes over one
        // accepted update at a time, and mapping our unconfirmed changes over a batch's
        // composition can order a tie differently (editor_core/authority.py explains).
        fresh.forEach((u, i) => {
          const update = { changes: ChangeSet.fromJSON(u.changes), clientID: u.clientId };
          this.editor.dispatch(receiveUpdates(this.editor.state, [update]));
          this.recent.set(synced + i, update.changes);
        });
      } catch (err) {
        console.error("pairpad: an update from the server does not fit our document", err);
        this.resync("an update did not fit");
        return;
      }
      const confirmed = before - this.unconfirmedCount;
      if (this.inFlight > 0 && confirmed > 0) {
        this.inFlight = Math.max(0, this.inFlight - confirmed);
        if (this.inFlight === 0) clearTimeout(this.pushTimer);
      }
      this.trimRecent();
      for (const listener of this.advanceListeners) listener(this.synced);
    }
    this.afterChange();
  }

  afterChange() {
    this.schedulePush();
    if (this.settled) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve(true);
      this.scheduleCursor();
    }
    this.hooks.onChange();
  }

  scheduleCursor() {
    if (!this.cursorDirty || this.cursorTimer !== null) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null;
      if (!this.settled || !this.cursorDirty) return;
      const { anchor, head } = this.editor.state.selection.main;
      const version = this.synced;
      const last = this.lastCursor;
      this.cursorDirty = false;
      if (last && last.version === version && last.anchor === anchor && last.head === head) return;
      if (this.hooks.send({ type: "cursor", version, anchor, head })) {
        this.lastCursor = { version, anchor, head };
      }
    }, CURSOR_DELAY_MS);
  }

  trimRecent() {
    const oldest = this.synced - RECENT_KEEP;
    for (const v of this.recent.keys()) {
      if (v < oldest) this.recent.delete(v);
      else break; // Map keeps insertion order, which is version order
    }
  }

  // A position valid at `version` of the server's document, in our current document; null
  // when we cannot know it yet (version ahead of us) or any more (older than what we keep).
  /**
   * @param {number} pos
   * @param {number} version
   * @param {number} [assoc] as ChangeSet.mapPos's
   * @returns {number | null}
   */
  mapFromVersion(pos, version, assoc = -1) {
    if (!this.view || version > this.synced) return null;
    let mapped = pos;
    for (let v = version; v < this.synced; v++) {
      const changes = this.recent.get(v);
      if (!changes) return null;
      mapped = changes.mapPos(Math.min(mapped, changes.length), assoc);
    }
    for (const u of sendableUpdates(this.view.state)) {
      mapped = u.changes.mapPos(Math.min(mapped, u.changes.length), assoc);
    }
    return Math.max(0, Math.min(mapped, this.view.state.doc.length));
  }

  // A position at server version `from` moved forward to version `to` (both at or below our
  // synced version); null when the changes in between are not kept.
  /**
   * @param {number} pos
   * @param {number} from
   * @param {number} to
   * @param {number} [assoc] as ChangeSet.mapPos's
   * @returns {number | null}
   */
  mapBetween(pos, from, to, assoc = -1) {
    let mapped = pos;
    for (let v = from; v < to; v++) {
      const changes = this.recent.get(v);
      if (!changes) return null;
      mapped = changes.mapPos(Math.min(mapped, changes.length), assoc);
    }
    return mapped;
  }

  // An `error` message. Returns true when it was about syncing (and was handled here).
  /**
   * @param {ErrorMessage} error
   * @returns {boolean}
   */
  handleError(error) {
    if (error.code === "history_gone") {
      // Our edits cannot be rebased any more: keep them for the person to copy, then reload.
      this.dropEditsAndResync("history_gone");
      return true;
    }
    if (PUSH_REFUSED.has(error.code) && (this.inFlight > 0 || this.pullPending)) {
      // Never re-send a refused push: drop it and start again from the server's text.
      this.dropEditsAndResync(error.code);
      return true;
    }
    if (error.code === "rate_limited" && (this.inFlight > 0 || this.pullPending)) {
      const wasPull = this.pullPending;
      this.inFlight = 0;
      this.pullPending = false;
      clearTimeout(this.pushTimer);
      setTimeout(() => {
        if (!this.online) return;
        if (wasPull) this.pull();
        else this.schedulePush();
      }, Math.max(100, Number(error.retryAfterMs) || 1000));
      return true;
    }
    return false;
  }

  // Unconfirmed edits that will never reach the room are handed to the person (to copy)
  // before the editor is reloaded from the server: nothing typed vanishes unseen.
  /** @param {string} reason the error code, shown to the person */
  dropEditsAndResync(reason) {
    if (this.resyncing) return;
    if (this.unconfirmedCount > 0) this.hooks.onEditsDropped(this.editor.state.doc.toString(), reason);
    this.resync(reason);
  }

  // Drop unconfirmed updates and start again from GET /rooms/{roomId}.
  /**
   * @param {string} reason for the console
   * @returns {Promise<void>}
   */
  async resync(reason) {
    if (this.resyncing) return;
    console.info(`pairpad: resyncing from the server (${reason})`);
    this.resyncing = true;
    this.inFlight = 0;
    this.pullPending = false;
    clearTimeout(this.pushTimer);
    this.hooks.onChange();
    for (let attempt = 0; ; attempt++) {
      try {
        const room = await this.hooks.fetchRoom();
        this.recent.clear();
        this.lastCursor = null;
        this.hooks.reset(room);
        break;
      } catch (err) {
        // getRoom throws ApiError; a failing reset() may throw anything else.
        if (/** @type {{status?: number}} */ (err).status === 404 || attempt >= 6) {
          this.resyncing = false;
          this.hooks.onResyncFailed(/** @type {Error} */ (err));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 500 * 2 ** attempt)));
      }
    }
    this.resyncing = false;
    // Whatever was accepted between the REST answer and now comes with this pull.
    if (this.online) this.pull();
    for (const listener of this.advanceListeners) listener(this.synced);
    this.afterChange();
  }
}

/**
 * @param {string} text
 * @returns {number}
 */
function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}
