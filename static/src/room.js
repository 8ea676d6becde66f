// The room page: wires the socket, the collab sync, the editor, presence, output and the
// participant list together. Each of those lives in its own module; this one only routes.
// The same page serves a viewer of a read-only link (`/v/{linkId}`, docs/protocol.md
// "Read-only links"): read-only editor, a "viewer" badge, no Run, and no room id anywhere.
import { EditorView } from "@codemirror/view";
import { ApiError, getRoom, getSharedRoom } from "./api.js";
import { Connection, socketUrl, viewerSocketUrl } from "./connection.js";
import { CloseCode } from "./close_codes.js";
import { CollabSync } from "./collab.js";
import { serverCompletionSource } from "./completion.js";
import { copyText, h } from "./dom.js";
import { askName, cleanName, fatalCard, showKeptText } from "./dialogs.js";
import { createEditorState } from "./editor.js";
import { languageExtensions, showDiagnostics } from "./language.js";
import { newClientId } from "./ids.js";
import { HistoryPanel } from "./history.js";
import { OutputPanel } from "./output.js";
import { ParticipantList } from "./participants.js";
import { remoteCursors, removeRemoteCursor, setRemoteCursor } from "./presence.js";
import { clockTime } from "./run_summary.js";
import { StdinBox } from "./stdin_box.js";
import { openShareDialog } from "./share.js";
import { rememberRoom, storeName, storedName } from "./storage.js";

/** @typedef {import("@codemirror/state").EditorState} EditorState */
/** @typedef {import("./connection.js").ConnectionState} ConnectionState */
/** @typedef {import("./wire.js").CompletionsMessage} CompletionsMessage */
/** @typedef {import("./wire.js").DiagnosticsMessage} DiagnosticsMessage */
/** @typedef {import("./wire.js").RequestReply} RequestReply */
/** @typedef {import("./wire.js").ErrorMessage} ErrorMessage */
/** @typedef {import("./wire.js").InitMessage} InitMessage */
/** @typedef {import("./wire.js").Limits} Limits */
/** @typedef {import("./wire.js").Lock} Lock */
/** @typedef {import("./wire.js").Participant} Participant */
/** @typedef {import("./wire.js").RoomState} RoomState */
/** @typedef {import("./wire.js").RunResult} RunResult */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */

/**
 * @param {HTMLElement} root
 * @param {string} roomId "" for a viewer
 * @param {string | null} [linkId] a viewer's read-only link
 */
export async function startRoom(root, roomId, linkId = null) {
  // Ask REST first: an unknown room (or link) says so before anyone types a name, and the
  // name prompt shows the room's name. Any other failure leaves it to the socket (it retries
  // with backoff).
  root.replaceChildren(h("main", { class: "center" }, h("p", { class: "loading muted" }, "Loading the room…")));
  let roomName = null;
  try {
    roomName = (await (linkId !== null ? getSharedRoom(linkId) : getRoom(roomId))).name || "";
  } catch (err) {
    const gone = !(err instanceof ApiError) ? null
      : err.code === "link_revoked" ? CloseCode.REVOKED
        : err.status === 404 ? CloseCode.NOT_FOUND : null;
    if (gone !== null) {
      const { heading, card } = fatalCard(gone, null);
      document.title = `${heading} · Pairpad`;
      root.replaceChildren(h("main", { class: "center" }, card));
      return;
    }
    console.warn("pairpad: room details unavailable", /** @type {Error} */ (err).message);
  }
  const name = cleanName(new URLSearchParams(location.search).get("name") || "") || cleanName(storedName());
  if (name) {
    new Room(root, roomId, name, roomName, linkId).start();
  } else {
    askName(root, roomName, (chosen) => {
      storeName(chosen);
      new Room(root, roomId, chosen, roomName, linkId).start();
    });
  }
}

class Room {
  /**
   * @param {HTMLElement} root
   * @param {string} roomId
   * @param {string} name our display name
   * @param {string | null} roomName from `GET /rooms/{roomId}`, null when that failed
   * @param {string | null} linkId set for a viewer, whose `roomId` is ""
   */
  constructor(root, roomId, name, roomName, linkId) {
    this.root = root;
    this.roomId = roomId;
    this.linkId = linkId;
    this.viewer = linkId !== null;
    this.name = name;
    this.clientId = newClientId();
    this.roomName = "";
    /** @type {EditorView | null} built on the first `init` */
    this.view = null;
    /** @type {Lock | null} */
    this.lock = null;
    this.runQueued = false;
    /** @type {Map<string, {version: number, anchor: number, head: number}>} */
    this.pendingCursors = new Map(); // clientId -> {version, anchor, head}
    /** @type {Map<string, (reply: RequestReply | null) => void>} */
    this.completionRequests = new Map(); // id -> resolve: complete, signature, hover, definition
    /** @type {DiagnosticsMessage | null} the room's latest, until our document reaches its version */
    this.pendingDiagnostics = null;
    this.nextRequestId = 1;
    /** @type {Partial<Limits>} */
    this.limits = {};
    this.fatal = false;
    // The notice shown says a run holds the lock: it goes away when that run ends.
    this.lockNotice = false;

    this.sync = new CollabSync({
      send: (msg) => this.connection.send(msg),
      fetchRoom: () => (linkId !== null ? getSharedRoom(linkId) : getRoom(this.roomId)),
      reset: (room) => this.resetFromRoom(room),
      onEditsDropped: (text, reason) => showKeptText(text, reason),
      onResyncFailed: (err) => this.resyncFailed(err),
      onChange: () => this.renderSyncState(),
    });
    this.sync.onAdvance(() => { this.flushPendingCursors(); this.flushDiagnostics(); });
    this.sync.onAdvance(() => this.history.documentChanged());
    const url = linkId !== null ? viewerSocketUrl(linkId, this.clientId, name) : socketUrl(roomId, this.clientId, name);
    this.connection = new Connection(url, {
      onMessage: (msg) => this.onMessage(msg),
      onState: (state) => this.onConnectionState(state),
      onClose: () => this.onSocketClosed(),
    });
    this.output = new OutputPanel();
    this.people = new ParticipantList(this.clientId);
    this.stdin = new StdinBox({ onRun: () => this.requestRun() });
    this.history = new HistoryPanel({
      roomId,
      view: () => this.view,
      version: () => (this.view && this.sync.settled ? this.sync.synced : null),
      colorOf: (clientId) => this.people.get(clientId)?.color,
      author: () => this.name,
      onToggle: (open) => this.historyToggled(open),
    });
    this.buildPage();
    this.roomNameKnown = roomName !== null;
    if (roomName !== null) this.setRoomName(roomName);
    // A read-only handle for the browser tests and for anyone curious in the console.
    window.pairpad = Object.freeze({
      roomId: this.viewer ? null : roomId,
      role: this.viewer ? "viewer" : "editor",
      clientId: this.clientId,
      doc: () => (this.view ? this.view.state.doc.toString() : null),
      version: () => (this.view ? this.sync.synced : null),
      pending: () => (this.view ? this.sync.unconfirmedCount : null),
      settled: () => this.view !== null && this.sync.settled,
      selection: () => (this.view ? /** @type {[number, number]} */ ([this.view.state.selection.main.from, this.view.state.selection.main.to]) : null),
    });
  }

  start() {
    this.connection.start();
    // Edits the server has not confirmed yet would be lost with the page: ask first.
    window.addEventListener("beforeunload", (event) => {
      if (this.view && !this.fatal && this.sync.unconfirmedCount > 0) event.preventDefault();
    });
  }

  // The room's name is not in `init`: when startRoom could not learn it, ask REST once the
  // room is known to exist, for the title and the download's file name.
  fetchRoomName() {
    (this.linkId !== null ? getSharedRoom(this.linkId) : getRoom(this.roomId)).then(
      (room) => this.setRoomName(room.name),
      (err) => console.warn("pairpad: room details unavailable", err.message),
    );
  }

  // ---- page -------------------------------------------------------------------------------

  buildPage() {
    /** @type {HTMLHeadingElement} */
    this.title = h("h1", { class: "room-title" }, "Room");
    /** @type {HTMLSpanElement} */
    this.connBadge = h("span", { class: "conn", role: "status", "aria-live": "polite", dataset: { state: "connecting" } }, "Connecting…");
    /** @type {HTMLSpanElement} */
    this.pendingNote = h("span", { class: "pending-note muted small", hidden: true });
    /** @type {HTMLButtonElement} */
    this.runButton = h("button", { type: "button", class: "primary", onclick: () => this.requestRun(), title: "Run (Ctrl/Cmd+Enter)", "aria-keyshortcuts": "Control+Enter Meta+Enter" },
      h("span", { "aria-hidden": "true" }, "▶ "), "Run");
    /** @type {HTMLButtonElement} */
    this.stopButton = h("button", { type: "button", class: "danger", disabled: true, onclick: () => this.requestStop() },
      h("span", { "aria-hidden": "true" }, "■ "), "Stop");
    /** @type {HTMLButtonElement} */
    this.copyButton = h("button", { type: "button", onclick: () => this.copyLink() }, "Copy link");
    /** @type {HTMLButtonElement} */
    this.historyButton = h("button", { type: "button", "aria-pressed": "false", onclick: () => this.history.toggle() }, "History");
    /** @type {HTMLButtonElement} */
    this.downloadButton = h("button", { type: "button", "aria-label": "Download .py", onclick: () => this.download() },
      h("span", { class: "wide-only" }, "Download .py"), h("span", { class: "narrow-only" }, "Download"));
    /** @type {HTMLButtonElement} */
    this.shareButton = h("button", { type: "button", "aria-label": "Share read-only link", onclick: () => openShareDialog(this.roomId), title: "A link to watch this room without editing it" },
      h("span", { class: "wide-only" }, "Share read-only link"), h("span", { class: "narrow-only" }, "Share"));
    /** @type {HTMLSpanElement} */
    this.viewerBadge = h("span", { class: "viewer-badge", title: "You are watching through a read-only link: you cannot edit or run." }, "Viewer · read-only");
    const actions = this.viewer
      ? [this.copyButton, this.downloadButton]
      : [this.runButton, this.stopButton, this.copyButton, this.shareButton, this.historyButton, this.downloadButton];
    /** @type {HTMLDivElement} */
    this.banner = h("div", { class: "lock-banner", role: "status", "aria-live": "polite", hidden: true });
    /** @type {HTMLDivElement} */
    this.notice = h("div", { class: "notice", role: "alert", hidden: true });
    /** @type {HTMLDivElement} */
    this.editorHost = h("div", { class: "editor-host" }, h("p", { class: "loading muted" }, "Loading the room…"));
    /** @type {HTMLDivElement} */
    this.page = h(
      "div",
      { class: "room-page", dataset: { conn: "connecting", pending: "0", version: "" } },
      h("header", { class: "topbar" },
        h("a", { class: "brand", href: "/", "aria-label": "Pairpad home" }, h("span", { class: "logo", "aria-hidden": "true" }, "⟨⟩"), "Pairpad"),
        this.title,
        this.viewer ? this.viewerBadge : null,
        this.connBadge,
        this.pendingNote,
        h("div", { class: "actions" }, ...actions)),
      this.banner,
      this.notice,
      h("main", { class: "room-main" },
        h("section", { class: "editor-pane", "aria-label": "Code editor" }, this.editorHost),
        h("aside", { class: "side" }, this.people.element, this.viewer ? null : this.stdin.element, this.roomInfo()),
        this.output.element,
        this.viewer ? null : this.history.element),
    );
    this.root.replaceChildren(this.page);
  }

  /** @param {boolean} open */
  historyToggled(open) {
    this.historyButton.setAttribute("aria-pressed", String(open));
    this.page.querySelector(".room-main")?.classList.toggle("history-open", open);
  }

  roomInfo() {
    /** @type {HTMLParagraphElement} */
    this.info = h("p", { class: "muted small room-info" });
    return h("section", { class: "info-panel", "aria-label": "Room details" }, this.info,
      h("p", { class: "muted small" }, this.viewer
        ? "Tip: Ctrl/Cmd+F searches. You are watching: edits and runs are the editors'."
        : "Tip: Ctrl/Cmd+Enter runs, Ctrl/Cmd+F searches, Ctrl+Space completes, Ctrl/Cmd-click or F12 goes to a definition."));
  }

  /** @param {string | null | undefined} name */
  setRoomName(name) {
    this.roomName = name || "";
    this.title.textContent = this.roomName || "Untitled room";
    document.title = `${this.roomName || "Room"}${this.viewer ? " (read-only)" : ""} · Pairpad`;
    if (!this.viewer) rememberRoom(this.roomId, this.roomName);
  }

  /**
   * @param {string} text "" hides the notice
   * @param {{lock?: boolean}} [options] lock: it says a run holds the lock (hidden at its end)
   */
  showNotice(text, { lock = false } = {}) {
    this.lockNotice = lock && Boolean(text);
    this.notice.hidden = !text;
    this.notice.replaceChildren(text ? h("span", {}, text) : "", text ? h("button", { type: "button", class: "ghost small", "aria-label": "Dismiss", onclick: () => this.showNotice("") }, "×") : "");
  }

  renderSyncState() {
    if (!this.view) return;
    const pending = this.sync.unconfirmedCount;
    this.page.dataset.pending = String(pending);
    this.page.dataset.version = String(this.sync.synced);
    if (this.fatal) return;
    if (this.sync.resyncing) this.setBadge("syncing", "Reloading the room…");
    else if (this.sync.online) this.setBadge("online", pending ? "Saving…" : "Connected");
    // Offline typing is kept: say how much waits to be sent (not a live region: it changes
    // with every key).
    const waiting = !this.sync.online && pending > 0;
    this.pendingNote.hidden = !waiting;
    this.pendingNote.textContent = waiting ? `${pending} ${pending === 1 ? "edit" : "edits"} kept, sent on reconnect` : "";
    this.renderRunState();
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  setBadge(state, text) {
    this.connBadge.dataset.state = state;
    this.connBadge.textContent = text;
    this.page.dataset.conn = state;
  }

  renderRunState() {
    const locked = this.lock !== null;
    this.runButton.disabled = locked || this.runQueued || this.fatal;
    /** @type {ChildNode} */ (this.runButton.lastChild).textContent = this.runQueued ? "Run (waiting to sync)" : "Run";
    this.stopButton.disabled = !locked || this.fatal;
    this.banner.hidden = !locked;
    if (this.lock) {
      const who = this.lock.clientId === this.clientId ? "You are" : `${this.lock.name || "Someone"} is`;
      this.banner.textContent = `${who} running the code as of ${clockTime(this.lock.since)}. Run is locked until it finishes.`;
    } else if (this.lockNotice) {
      this.showNotice(""); // "… is already running the code" no longer holds
    }
  }

  // ---- connection -------------------------------------------------------------------------

  /** @param {ConnectionState} state */
  onConnectionState(state) {
    if (state.status === "online") return; // the badge follows the sync state from `init` on
    if (state.status === "closed") {
      this.showFatal(state.code);
      return;
    }
    if (state.status === "waiting") {
      const seconds = Math.max(1, Math.round(state.retryInMs / 1000));
      const full = state.code === CloseCode.FULL ? "Room is full. " : "";
      this.setBadge("offline", `${full}Offline — retrying in ${seconds} s`);
    } else {
      this.setBadge("connecting", state.status === "reconnecting" ? "Reconnecting…" : "Connecting…");
    }
  }

  onSocketClosed() {
    this.sync.disconnected();
    for (const resolve of this.completionRequests.values()) resolve(null);
    this.completionRequests.clear();
  }

  /** @param {ServerMessage} msg */
  onMessage(msg) {
    switch (msg.type) {
      case "init": return this.onInit(msg);
      case "code_update": return this.sync.receive(msg);
      case "participant_joined": return this.people.join(msg.participant);
      case "participant_left":
        this.people.leave(msg.clientId);
        this.pendingCursors.delete(msg.clientId);
        if (this.view) this.view.dispatch({ effects: removeRemoteCursor.of(msg.clientId) });
        return undefined;
      case "cursor": return this.queueCursor(msg.clientId, msg.version, msg.anchor, msg.head);
      case "execution_lock": return this.onLock(msg);
      case "execution_output": return this.output.output(msg);
      case "execution_result": return this.onResult(msg);
      case "completions":
      case "signatures":
      case "hover_info":
      case "definition_location":
        return this.resolveCompletion(msg.id, msg);
      case "diagnostics":
        this.pendingDiagnostics = msg;
        return this.flushDiagnostics();
      case "pong": return undefined;
      case "error": return this.onError(msg);
      default:
        console.warn("pairpad: unknown message type", /** @type {{type: unknown}} */ (msg).type);
        return undefined;
    }
  }

  /** @param {InitMessage} msg */
  onInit(msg) {
    const first = this.view === null;
    this.limits = msg.limits || {};
    this.output.limits = this.limits;
    const maxMessageBytes = this.limits.maxMessageBytes;
    if (maxMessageBytes !== undefined && maxMessageBytes > 1024) this.sync.maxMessageBytes = maxMessageBytes - 512;
    if (first) {
      this.view = new EditorView({ state: this.makeState(msg.code, msg.version), parent: this.editorHost });
      this.editorHost.querySelector(".loading")?.remove();
      this.sync.attach(this.view);
      if (!this.viewer) this.view.focus();
      if (!this.roomNameKnown) this.fetchRoomName();
    }
    /** @type {string} */
    this.selfColor = msg.color;
    this.people.reset(msg.participants, { clientId: this.clientId, name: this.name, color: msg.color, cursor: null });
    this.info.textContent = this.viewer ? "Read-only link · Python" : `Room ${this.roomId} · Python`;
    if (!this.roomName && !this.viewer) rememberRoom(this.roomId, "");
    this.sync.connected(first);
    this.dropCursorsOfAbsent();
    this.setParticipantCursors(msg.participants, msg.version);
    if (msg.lastRun && !msg.lock) this.output.finished(msg.lastRun, { fresh: false });
    this.lock = null;
    if (msg.lock) this.onLock(msg.lock);
    this.renderSyncState();
  }

  /**
   * @param {string} code
   * @param {number} version
   * @returns {EditorState}
   */
  makeState(code, version) {
    return createEditorState({
      doc: code,
      version,
      clientId: this.clientId,
      onRun: () => this.requestRun(),
      completionSource: serverCompletionSource(this.sync, (req, signal) => this.requestCompletion(req, signal)),
      language: languageExtensions(this.sync, {
        signature: (version, position, signal) => /** @type {Promise<import("./wire.js").SignaturesMessage | null>} */ (
          this.request({ type: "signature", id: `s${this.nextRequestId++}`, version, position }, signal)),
        hover: (version, position, signal) => /** @type {Promise<import("./wire.js").HoverMessage | null>} */ (
          this.request({ type: "hover", id: `h${this.nextRequestId++}`, version, position }, signal)),
        definition: (version, position, signal) => /** @type {Promise<import("./wire.js").DefinitionMessage | null>} */ (
          this.request({ type: "definition", id: `d${this.nextRequestId++}`, version, position }, signal)),
        notice: (text) => this.showNotice(text),
      }),
      onUpdate: (update) => this.sync.localUpdate(update),
      readOnly: this.viewer,
    });
  }

  // After history_gone or a refused push: the room as the server has it, fresh history.
  /** @param {Omit<RoomState, "roomId">} room */
  resetFromRoom(room) {
    // The sync resyncs only an attached editor, which is this.view.
    /** @type {EditorView} */ (this.view).setState(this.makeState(room.code, room.version));
    this.setRoomName(room.name);
    this.pendingCursors.clear();
    this.setParticipantCursors(room.participants, room.version);
    this.showNotice("Your editor was reloaded from the server's copy of the room.");
  }

  /** @param {Error} err */
  resyncFailed(err) {
    if (err instanceof ApiError && err.code === "link_revoked") {
      this.showFatal(CloseCode.REVOKED);
    } else if (err instanceof ApiError && err.status === 404) {
      this.showFatal(CloseCode.NOT_FOUND);
    } else {
      this.showNotice(`Could not reload the room: ${err.message}`);
    }
  }

  /** @param {ErrorMessage} msg */
  onError(msg) {
    if (msg.id !== undefined && this.completionRequests.has(msg.id)) {
      this.resolveCompletion(msg.id, null);
      return;
    }
    if (this.sync.handleError(msg)) {
      if (msg.code === "rate_limited") this.showNotice("Slow down a little: the server is rate-limiting this editor.");
      return;
    }
    switch (msg.code) {
      case "room_locked":
        if (msg.lock) this.onLock(msg.lock);
        this.showNotice(`${msg.lock?.name || "Someone"} is already running the code; wait for it to finish or stop it.`, { lock: true });
        break;
      case "busy":
        this.showNotice(`The server is busy running other code. Try again in ${Math.ceil((msg.retryAfterMs || 1000) / 1000)} s.`);
        break;
      case "read_only":
        this.showNotice("This is a read-only link: you can watch, not edit or run.");
        break;
      case "unknown_run":
        this.lock = null;
        this.renderRunState();
        this.showNotice("That run had already finished.");
        break;
      case "invalid_message":
        if (isStdinRefusal(msg)) {
          this.showNotice(`Your input was refused: ${msg.message}.`);
          break;
        }
        console.warn("pairpad: server error", msg);
        this.showNotice(`Server error (${msg.code}): ${msg.message}`);
        break;
      default:
        console.warn("pairpad: server error", msg);
        this.showNotice(`Server error (${msg.code}): ${msg.message}`);
    }
  }

  // ---- presence ---------------------------------------------------------------------------

  // After a reconnect, people who left meanwhile must not leave a cursor behind.
  dropCursorsOfAbsent() {
    const view = /** @type {EditorView} */ (this.view); // called from onInit, once it is built
    const gone = [...remoteCursors(view.state).keys()].filter((id) => !this.people.get(id));
    if (gone.length) view.dispatch({ effects: gone.map((id) => removeRemoteCursor.of(id)) });
  }

  /**
   * @param {Participant[] | null | undefined} participants
   * @param {number} version the version their cursors are valid at
   */
  setParticipantCursors(participants, version) {
    for (const p of participants || []) {
      if (p.cursor) this.queueCursor(p.clientId, version, p.cursor.anchor, p.cursor.head);
    }
  }

  /**
   * @param {string} clientId
   * @param {number} version
   * @param {number} anchor
   * @param {number} head
   */
  queueCursor(clientId, version, anchor, head) {
    if (clientId === this.clientId) return;
    this.pendingCursors.set(clientId, { version, anchor, head });
    this.flushPendingCursors();
  }

  // Cursors are valid at their message's version: map them to our document once we have it.
  flushPendingCursors() {
    if (!this.view || !this.pendingCursors.size) return;
    /** @type {import("@codemirror/state").StateEffect<unknown>[]} */
    const effects = [];
    for (const [clientId, c] of this.pendingCursors) {
      if (c.version > this.sync.synced) continue; // not there yet: wait for the updates
      this.pendingCursors.delete(clientId);
      const anchor = this.sync.mapFromVersion(c.anchor, c.version);
      const head = this.sync.mapFromVersion(c.head, c.version);
      if (anchor === null || head === null) continue; // too old to place
      const person = this.people.get(clientId) || /** @type {Partial<Participant>} */ ({});
      effects.push(setRemoteCursor.of({ clientId, name: person.name || "Anonymous", color: person.color || "#888", anchor, head }));
    }
    if (effects.length) this.view.dispatch({ effects });
  }

  // ---- completions ------------------------------------------------------------------------

  /**
   * @param {{version: number, position: number}} request
   * @param {AbortSignal} signal
   * @returns {Promise<CompletionsMessage | null>}
   */
  requestCompletion({ version, position }, signal) {
    const id = `c${this.nextRequestId++}`;
    return /** @type {Promise<CompletionsMessage | null>} */ (this.request({ type: "complete", id, version, position }, signal));
  }

  /**
   * Send a request that is answered with its `id`; null when unsent, aborted or refused.
   * @param {{type: "complete" | "signature" | "hover" | "definition", id: string, version: number, position: number}} message
   * @param {AbortSignal} signal
   * @returns {Promise<RequestReply | null>}
   */
  request(message, signal) {
    return new Promise((resolve) => {
      if (signal.aborted || !this.connection.send(message)) {
        resolve(null);
        return;
      }
      this.completionRequests.set(message.id, resolve);
      signal.addEventListener("abort", () => this.resolveCompletion(message.id, null));
    });
  }

  // The room's diagnostics, once our document has reached their version (language.js).
  flushDiagnostics() {
    const msg = this.pendingDiagnostics;
    if (this.view && msg && showDiagnostics(this.sync, this.view, msg)) this.pendingDiagnostics = null;
  }

  /**
   * @param {string} id
   * @param {RequestReply | null} reply
   */
  resolveCompletion(id, reply) {
    const resolve = this.completionRequests.get(id);
    if (!resolve) return;
    this.completionRequests.delete(id);
    resolve(reply);
  }

  // ---- runs -------------------------------------------------------------------------------

  // `run` runs the server's document: send it only once our own edits are confirmed.
  async requestRun() {
    if (!this.view || this.runQueued || this.fatal || this.viewer) return;
    if (this.lock) {
      this.showNotice(`${this.lock.name || "Someone"} is already running the code.`, { lock: true });
      return;
    }
    const refused = this.stdin.refusal(this.limits);
    if (refused) {
      this.showNotice(refused);
      return;
    }
    if (!this.sync.online) {
      this.showNotice("Not connected: Run needs the server. Your edits are kept and will sync when it is back.");
      return;
    }
    this.runQueued = true;
    this.renderRunState();
    await this.sync.whenSettled();
    this.runQueued = false;
    if (!this.connection.send({ type: "run", stdin: this.stdin.value })) this.showNotice("Not connected: the run was not sent.");
    this.renderRunState();
  }

  requestStop() {
    if (this.lock) this.connection.send({ type: "stop", runId: this.lock.runId });
  }

  /** @param {Lock} lock */
  onLock(lock) {
    this.lock = lock;
    this.output.started(lock);
    this.renderRunState();
  }

  /** @param {RunResult} result */
  onResult(result) {
    this.output.finished(result);
    if (this.lock && this.lock.runId === result.runId) this.lock = null;
    this.renderRunState();
  }

  // ---- actions ----------------------------------------------------------------------------

  async copyLink() {
    // A viewer passes on its own read-only link, never the room's.
    const link = this.linkId !== null
      ? `${location.origin}/v/${encodeURIComponent(this.linkId)}`
      : `${location.origin}/r/${encodeURIComponent(this.roomId)}`;
    const ok = await copyText(link);
    this.copyButton.textContent = ok ? "Link copied" : "Copy failed";
    setTimeout(() => { this.copyButton.textContent = "Copy link"; }, 2000);
  }

  download() {
    if (!this.view) return;
    const base = (this.roomName || this.roomId || "pairpad").replace(/[^\w.-]+/g, "_").replace(/^_+|_+$/g, "") || "pairpad";
    const blob = new Blob([this.view.state.doc.toString()], { type: "text/x-python" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: base.endsWith(".py") ? base : `${base}.py` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  /** @param {number} closeCode */
  showFatal(closeCode) {
    this.fatal = true;
    this.renderRunState();
    const { heading, card } = fatalCard(closeCode, this.view ? this.view.state.doc.toString() : null);
    this.setBadge("closed", heading);
    /** @type {HTMLElement} */ (this.page.querySelector(".room-main")).replaceChildren(h("div", { class: "center" }, card));
  }
}

/**
 * An `invalid_message` about a `run`'s `stdin` (over `runStdinBytes`).
 * @param {ErrorMessage} msg
 * @returns {boolean}
 */
function isStdinRefusal(msg) {
  const details = Array.isArray(msg.details) ? msg.details : [];
  return details.some((d) => Array.isArray(d?.loc) && d.loc[0] === "stdin");
}
