// The history panel (docs/editor.md "History"; the routes: docs/protocol.md "History"): a
// slider over every version the server keeps, a read-only preview of the version chosen
// (the room's editor stays live: others keep typing), Play to watch the session back,
// "Restore this version", and, while the panel is open, who last changed each line in a
// gutter of the room's editor (the author's colour, the name on hover).
import { Compartment, EditorState, RangeSet, StateEffect, StateField } from "@codemirror/state";
import { EditorView, GutterMarker, gutter, lineNumbers } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { getBlame, getHistory, getVersion, restoreVersion } from "./api.js";
import { h } from "./dom.js";
import { editorLook } from "./editor.js";
import { clockTime } from "./run_summary.js";

/** @typedef {import("./wire.js").BlameLine} BlameLine */
/** @typedef {import("./wire.js").HistoryEntry} HistoryEntry */

// Authors who are not in the room any more get a colour from their clientId.
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#8c564b"];
const PLAY_STEP_MS = 60; // one frame of Play; it moves on once the previous version is shown
const PLAY_FRAMES = 150; // Play crosses the whole history in about this many frames
const BLAME_DELAY_MS = 700; // blame again once edits pause this long

/**
 * @param {string} clientId
 * @returns {string}
 */
function paletteColor(clientId) {
  let hash = 0;
  for (const ch of clientId) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return PALETTE[Math.abs(hash) % PALETTE.length];
}

class AuthorMark extends GutterMarker {
  /**
   * @param {string} color
   * @param {string} title
   */
  constructor(color, title) {
    super();
    this.color = color;
    this.title = title;
  }

  /** @param {GutterMarker} other */
  eq(other) {
    return other instanceof AuthorMark && other.color === this.color && other.title === this.title;
  }

  toDOM() {
    return h("span", { class: "cm-author-mark", title: this.title, "aria-label": this.title, style: `background: ${this.color}` });
  }
}

/** @type {import("@codemirror/state").StateEffectType<RangeSet<GutterMarker>>} */
const setAuthors = StateEffect.define();

// The marks follow the text as it changes until the next blame replaces them.
const authorsField = StateField.define({
  create: () => /** @type {RangeSet<GutterMarker>} */ (RangeSet.empty),
  update(marks, tr) {
    let next = marks.map(tr.changes);
    for (const effect of tr.effects) if (effect.is(setAuthors)) next = effect.value;
    return next;
  },
});

const authorsGutter = [
  authorsField,
  gutter({ class: "cm-author-gutter", markers: (view) => view.state.field(authorsField) }),
];

const authorsSlot = new Compartment();

export class HistoryPanel {
  /**
   * @param {{roomId: string, view: () => EditorView | null, version: () => number | null,
   *          colorOf: (clientId: string) => string | undefined, author: () => string,
   *          onToggle: (open: boolean) => void}} options
   */
  constructor(options) {
    this.options = options;
    this.open = false;
    /** @type {number[]} the versions the slider stops at, oldest first */
    this.stops = [];
    this.shown = -1; // the version in the preview
    this.wanted = -1; // the version the slider asks for
    this.seeking = false;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.playTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.blameTimer = null;
    this.blameRunning = false;

    /** @type {HTMLInputElement} */
    this.slider = h("input", { type: "range", class: "history-slider", min: "0", max: "0", value: "0", step: "1",
      "aria-label": "Version", oninput: () => this.seek(this.stops[Number(this.slider.value)]) });
    /** @type {HTMLButtonElement} */
    this.playButton = h("button", { type: "button", onclick: () => this.togglePlay() }, "▶ Play");
    /** @type {HTMLButtonElement} */
    this.restoreButton = h("button", { type: "button", class: "primary", onclick: () => this.restore() }, "Restore this version");
    /** @type {HTMLParagraphElement} */
    this.label = h("p", { class: "history-label small", role: "status", "aria-live": "polite" }, "Loading the history…");
    /** @type {HTMLParagraphElement} */
    this.message = h("p", { class: "history-message small muted", role: "status", "aria-live": "polite" });
    this.previewHost = h("div", { class: "history-preview", "aria-label": "This version, read-only" });
    /** @type {EditorView | null} built while the panel is open, so the page has one editor else */
    this.preview = null;
    /** @type {HTMLElement} */
    this.element = h("section", { class: "history-panel", "aria-label": "History", hidden: true },
      h("div", { class: "history-head" },
        h("h2", {}, "History"),
        this.playButton,
        this.slider,
        this.restoreButton,
        h("button", { type: "button", class: "ghost", "aria-label": "Close the history", onclick: () => this.toggle() }, "×")),
      this.label,
      this.message,
      this.previewHost);
  }

  toggle() {
    this.open = !this.open;
    this.element.hidden = !this.open;
    this.options.onToggle(this.open);
    if (this.open) {
      this.preview = new EditorView({ parent: this.previewHost, state: previewState() });
      this.shown = -1;
      this.load();
      this.blame();
    } else {
      this.stopPlay();
      this.showAuthors(null);
      this.preview?.destroy();
      this.preview = null;
      delete this.previewHost.dataset.version;
    }
  }

  // ---- the slider -------------------------------------------------------------------------

  // The stops: every keyframe older than the history kept in full, then every version since.
  async load() {
    this.message.textContent = "";
    try {
      const newest = await getHistory(this.options.roomId, { limit: 1 });
      const oldest = newest.oldestVersion;
      /** @type {number[]} */
      let older = [];
      if (oldest > 0) {
        const page = await getHistory(this.options.roomId, { before: oldest + 1, limit: 500 });
        older = page.entries.map((e) => e.version).filter((v) => v <= oldest).reverse();
      }
      const stops = [0, ...older.filter((v) => v > 0 && v < oldest)];
      for (let v = oldest; v <= newest.version; v++) stops.push(v);
      this.stops = [...new Set(stops)];
      this.slider.max = String(this.stops.length - 1);
      this.slider.value = String(this.stops.length - 1);
      this.seek(newest.version);
    } catch (err) {
      this.label.textContent = `Could not load the history: ${/** @type {Error} */ (err).message}`;
    }
  }

  // The room moved on: the slider grows, and follows the newest version if it was there.
  documentChanged() {
    if (!this.open) return;
    const version = this.options.version();
    if (version !== null && this.stops.length) {
      const atEnd = Number(this.slider.value) === this.stops.length - 1 && !this.playTimer;
      for (let v = this.stops[this.stops.length - 1] + 1; v <= version; v++) this.stops.push(v);
      this.slider.max = String(this.stops.length - 1);
      if (atEnd) {
        this.slider.value = String(this.stops.length - 1);
        this.seek(this.stops[this.stops.length - 1]);
      }
    }
    if (this.blameTimer !== null) clearTimeout(this.blameTimer);
    this.blameTimer = setTimeout(() => this.blame(), BLAME_DELAY_MS);
  }

  /** @param {number | undefined} version */
  seek(version) {
    if (version === undefined) return;
    this.wanted = version;
    if (!this.seeking) this.pump();
  }

  // One request at a time; the newest wish wins (dragging asks for many versions).
  async pump() {
    this.seeking = true;
    try {
      while (this.wanted !== this.shown) {
        const version = this.wanted;
        try {
          const [at, page] = await Promise.all([
            getVersion(this.options.roomId, version),
            getHistory(this.options.roomId, { before: version + 1, limit: 1 }),
          ]);
          const preview = this.preview;
          if (!preview) return; // closed meanwhile
          preview.dispatch({ changes: { from: 0, to: preview.state.doc.length, insert: at.code } });
          this.shown = version;
          this.previewHost.dataset.version = String(version);
          const entry = page.entries[0];
          this.label.textContent = describe(version, page.version, entry && entry.version === version ? entry : null, at.time);
        } catch (err) {
          this.shown = version;
          this.label.textContent = `Version ${version}: ${/** @type {Error} */ (err).message}`;
        }
      }
    } finally {
      this.seeking = false;
    }
  }

  togglePlay() {
    if (this.playTimer) {
      this.stopPlay();
      return;
    }
    if (Number(this.slider.value) >= this.stops.length - 1) this.slider.value = "0";
    const step = Math.max(1, Math.ceil(this.stops.length / PLAY_FRAMES));
    this.playButton.textContent = "❚❚ Pause";
    this.playTimer = setInterval(() => {
      if (this.seeking) return; // show each frame before the next
      const next = Math.min(this.stops.length - 1, Number(this.slider.value) + step);
      this.slider.value = String(next);
      this.seek(this.stops[next]);
      if (next >= this.stops.length - 1) this.stopPlay();
    }, PLAY_STEP_MS);
    this.seek(this.stops[Number(this.slider.value)]);
  }

  stopPlay() {
    if (this.playTimer) clearInterval(this.playTimer);
    this.playTimer = null;
    this.playButton.textContent = "▶ Play";
  }

  async restore() {
    const version = this.stops[Number(this.slider.value)];
    if (version === undefined) return;
    this.stopPlay();
    this.restoreButton.disabled = true;
    try {
      const answer = await restoreVersion(this.options.roomId, version, this.options.author());
      this.message.textContent = answer.changed
        ? `Restored version ${version}: the room is at version ${answer.version} now (restore the version before to undo).`
        : `The document already is version ${version}'s: nothing changed.`;
    } catch (err) {
      this.message.textContent = `Could not restore version ${version}: ${/** @type {Error} */ (err).message}`;
    } finally {
      this.restoreButton.disabled = false;
    }
  }

  // ---- authorship -------------------------------------------------------------------------

  // Blame is valid for one version of the document: applied only if the editor is there.
  async blame() {
    this.blameTimer = null;
    if (!this.open || this.blameRunning) return;
    this.blameRunning = true;
    try {
      const blame = await getBlame(this.options.roomId);
      if (this.open && blame.version === this.options.version()) this.showAuthors(blame.lines);
    } catch (err) {
      console.warn("pairpad: blame unavailable", /** @type {Error} */ (err).message);
    } finally {
      this.blameRunning = false;
    }
  }

  /** @param {BlameLine[] | null} lines null: no gutter */
  showAuthors(lines) {
    const view = this.options.view();
    if (!view) return;
    /** @type {import("@codemirror/state").StateEffect<unknown>[]} */
    const effects = [];
    const installed = authorsSlot.get(view.state) !== undefined;
    const wanted = lines ? authorsGutter : [];
    effects.push(installed ? authorsSlot.reconfigure(wanted) : StateEffect.appendConfig.of(authorsSlot.of(wanted)));
    if (lines && lines.length === view.state.doc.lines) {
      const marks = lines.map((line) => {
        const color = line.clientId ? this.options.colorOf(line.clientId) || paletteColor(line.clientId) : "var(--border)";
        const title = line.author
          ? `${line.author} · version ${line.version}${line.time ? ` · ${clockTime(line.time)}` : ""}`
          : line.version === 0 ? "Unchanged since the room was created" : `Unchanged since version ${line.version}`;
        return new AuthorMark(color, title).range(view.state.doc.line(line.line).from);
      });
      effects.push(setAuthors.of(RangeSet.of(marks)));
    }
    view.dispatch({ effects });
  }
}

/** @returns {EditorState} */
function previewState() {
  return EditorState.create({
    doc: "",
    // The room editor's look, so that the preview reads the same in light and dark.
    extensions: [lineNumbers(), python(), editorLook, EditorState.readOnly.of(true), EditorView.editable.of(false)],
  });
}

/**
 * @param {number} version
 * @param {number} newest
 * @param {HistoryEntry | null} entry
 * @param {string | null} time
 * @returns {string}
 */
function describe(version, newest, entry, time) {
  const when = time ? ` · ${clockTime(time)}` : "";
  if (version === 0) return `Version 0 of ${newest}: the room as it was created${when}`;
  if (!entry) return `Version ${version} of ${newest}${when}`;
  const by = entry.author || "someone";
  const what = entry.updates > 1 ? `${entry.updates} edits up to here, the last by ${by}` : `by ${by}`;
  return `Version ${version} of ${newest}: ${what} (+${entry.inserted} −${entry.deleted})${when}`;
}
