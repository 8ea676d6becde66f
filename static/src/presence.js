// The other participants' cursors and selections, drawn in their colors with a name label.
// Positions arrive valid at some server version (docs/protocol.md
// "Presence, runs, completions": `cursor`); room.js maps them to
// our document before handing them here, and this field maps them through every later change.
// A label shows when its cursor arrives or moves, fades after labelFadeMs() (hovering the caret
// shows it again), the labels of cursors at one place sit side by side in one row, and rows
// at nearby places are moved apart (docs/editor.md "Remote cursors").
import { StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin, WidgetType } from "@codemirror/view";
import { labelFadeMs } from "./storage.js";

/**
 * A participant's caret and selection in the current document; `shownAt` (Date.now()) is when
 * it last arrived or moved, which starts its label's fade.
 * @typedef {{clientId: string, name: string, color: string, anchor: number, head: number, shownAt?: number}} RemoteCursor
 */

/** @type {import("@codemirror/state").StateEffectType<RemoteCursor>} */
export const setRemoteCursor = StateEffect.define();
// clientId
/** @type {import("@codemirror/state").StateEffectType<string>} */
export const removeRemoteCursor = StateEffect.define();

// Read once per page load: tests shorten it through localStorage before the page starts.
const FADE_MS = labelFadeMs();
// How far (px) on either side of a caret the pointer counts as hovering it.
const HOVER_SLOP = 6;

// One place in the text and every remote caret there: one caret line each, one row of labels.
class CaretGroupWidget extends WidgetType {
  /**
   * @param {RemoteCursor[]} cursors in a stable order (by clientId)
   * @param {boolean} labelBelow on the first line, where a label above would be cut off
   */
  constructor(cursors, labelBelow) {
    super();
    this.cursors = cursors;
    this.labelBelow = labelBelow;
  }

  /** @param {CaretGroupWidget} other */
  eq(other) {
    return other.labelBelow === this.labelBelow && other.cursors.length === this.cursors.length &&
      other.cursors.every((c, i) => {
        const mine = this.cursors[i];
        return c.clientId === mine.clientId && c.name === mine.name && c.color === mine.color && c.shownAt === mine.shownAt;
      });
  }

  toDOM() {
    const group = document.createElement("span");
    group.className = "cm-remote-carets";
    group.setAttribute("aria-hidden", "true");
    const labels = document.createElement("span");
    labels.className = this.labelBelow ? "cm-remote-labels cm-remote-labels-below" : "cm-remote-labels";
    const now = Date.now();
    for (const c of this.cursors) {
      const caret = document.createElement("span");
      caret.className = "cm-remote-caret";
      caret.style.setProperty("--peer-color", c.color);
      group.append(caret);
      const label = document.createElement("span");
      label.className = "cm-remote-label";
      label.style.setProperty("--peer-color", c.color);
      label.dataset.clientId = c.clientId;
      label.textContent = c.name;
      // A redrawn line redraws its widgets: the fade goes on from where it was.
      const left = FADE_MS - (now - (c.shownAt ?? now));
      label.style.animationDelay = `${Math.max(0, left)}ms`;
      if (left <= 0) label.style.animationDuration = "0s";
      labels.append(label);
    }
    group.append(labels);
    return group;
  }

  ignoreEvent() {
    return true;
  }
}

// Hovering a caret shows its labels again; leaving it lets them linger FADE_MS, then fade.
const hoverLabels = ViewPlugin.fromClass(class {
  /** @param {EditorView} view */
  constructor(view) {
    this.view = view;
    /** @type {HTMLElement | null} */
    this.hovered = null;
  }

  /** @param {HTMLElement | null} group */
  setHovered(group) {
    if (group === this.hovered) return;
    const left = this.hovered;
    if (left) {
      left.classList.remove("cm-remote-hover");
      for (const label of left.querySelectorAll(".cm-remote-label")) {
        const style = /** @type {HTMLElement} */ (label).style;
        style.animationDelay = `${FADE_MS}ms`;
        style.animationDuration = "";
      }
    }
    this.hovered = group;
    if (group) group.classList.add("cm-remote-hover");
  }
}, {
  eventHandlers: {
    mousemove(event) {
      /** @type {HTMLElement | null} */
      let found = null;
      for (const group of this.view.contentDOM.querySelectorAll(".cm-remote-carets")) {
        const box = group.getBoundingClientRect();
        if (event.clientX >= box.left - HOVER_SLOP && event.clientX <= box.right + HOVER_SLOP &&
            event.clientY >= box.top && event.clientY <= box.bottom) {
          found = /** @type {HTMLElement} */ (group);
          break;
        }
      }
      this.setHovered(found);
    },
    mouseleave() {
      this.setHovered(null);
    },
  },
});

// Label rows of carets at nearby places on one line would overlap: after each redraw, move
// each row right of the one before it (measured, as CodeMirror's requestMeasure reads then
// writes, so the nudge is painted with the redraw).
const nudgeLabels = ViewPlugin.fromClass(class {
  /** @param {EditorView} view */
  constructor(view) {
    /** @type {{key: unknown, read: () => {row: HTMLElement, shift: number}[], write: (rows: {row: HTMLElement, shift: number}[]) => void}} */
    this.measure = {
      key: this,
      read: () => {
        const rows = [...view.contentDOM.querySelectorAll(".cm-remote-labels")].map((el) => {
          const row = /** @type {HTMLElement} */ (el);
          const box = row.getBoundingClientRect();
          const left = box.left - Number(row.dataset.shift || 0); // where it stands unmoved
          return { row, top: box.top, left, width: box.width, shift: 0 };
        });
        rows.sort((a, b) => a.top - b.top || a.left - b.left);
        for (let i = 1; i < rows.length; i++) {
          const before = rows[i - 1];
          const row = rows[i];
          if (Math.abs(row.top - before.top) > 1) continue; // another line
          row.shift = Math.max(0, before.left + before.shift + before.width + 2 - row.left);
        }
        return rows;
      },
      write: (rows) => {
        for (const { row, shift } of rows) {
          row.style.transform = shift ? `translateX(${shift}px)` : "";
          row.dataset.shift = String(shift);
        }
      },
    };
    view.requestMeasure(this.measure);
  }

  /** @param {import("@codemirror/view").ViewUpdate} update */
  update(update) {
    const moved = update.transactions.some((tr) => tr.effects.some((e) => e.is(setRemoteCursor) || e.is(removeRemoteCursor)));
    if (moved || update.docChanged || update.viewportChanged || update.geometryChanged) {
      update.view.requestMeasure(this.measure);
    }
  }
});

/**
 * @param {number} pos
 * @param {number} length
 */
function clamp(pos, length) {
  return Math.max(0, Math.min(pos, length));
}

/** @type {StateField<Map<string, RemoteCursor>>} clientId -> cursor */
export const presenceField = StateField.define({
  create() {
    return new Map();
  },
  update(cursors, tr) {
    let next = cursors;
    if (tr.docChanged && cursors.size) {
      next = new Map();
      for (const [id, c] of cursors) {
        next.set(id, { ...c, anchor: tr.changes.mapPos(c.anchor, -1), head: tr.changes.mapPos(c.head, -1) });
      }
    }
    for (const effect of tr.effects) {
      if (effect.is(setRemoteCursor)) {
        if (next === cursors) next = new Map(cursors);
        const length = tr.state.doc.length;
        const c = effect.value;
        const anchor = clamp(c.anchor, length);
        const head = clamp(c.head, length);
        const before = next.get(c.clientId);
        const moved = !before || before.anchor !== anchor || before.head !== head || before.name !== c.name;
        const shownAt = moved ? Date.now() : before.shownAt;
        next.set(c.clientId, { ...c, anchor, head, shownAt });
      } else if (effect.is(removeRemoteCursor) && next.has(effect.value)) {
        if (next === cursors) next = new Map(cursors);
        next.delete(effect.value);
      }
    }
    return next;
  },
  provide: (field) => [
    hoverLabels,
    nudgeLabels,
    EditorView.decorations.compute([field], (state) => {
      /** @type {{from: number, to: number, deco: Decoration}[]} */
      const ranges = [];
      /** @type {Map<number, RemoteCursor[]>} head -> the cursors there */
      const carets = new Map();
      for (const c of state.field(field).values()) {
        const from = Math.min(c.anchor, c.head);
        const to = Math.max(c.anchor, c.head);
        if (from < to) {
          ranges.push({
            from,
            to,
            deco: Decoration.mark({
              class: "cm-remote-selection",
              attributes: { style: `--peer-color: ${c.color}` },
            }),
          });
        }
        const here = carets.get(c.head);
        if (here) here.push(c);
        else carets.set(c.head, [c]);
      }
      for (const [head, cursors] of carets) {
        cursors.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
        const labelBelow = state.doc.lineAt(head).number === 1;
        ranges.push({
          from: head,
          to: head,
          deco: Decoration.widget({ widget: new CaretGroupWidget(cursors, labelBelow), side: 1 }),
        });
      }
      ranges.sort((a, b) => a.from - b.from || a.deco.startSide - b.deco.startSide);
      /** @type {RangeSetBuilder<Decoration>} */
      const builder = new RangeSetBuilder();
      for (const r of ranges) builder.add(r.from, r.to, r.deco);
      return builder.finish();
    }),
  ],
});

/**
 * @param {import("@codemirror/state").EditorState} state
 * @returns {Map<string, RemoteCursor>}
 */
export function remoteCursors(state) {
  return state.field(presenceField);
}
