// The other participants' cursors and selections, drawn in their colors with a name label.
// Positions arrive valid at some server version (docs/protocol.md
// "Presence, runs, completions": `cursor`); room.js maps them to
// our document before handing them here, and this field maps them through every later change.
import { StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { Decoration, EditorView, WidgetType } from "@codemirror/view";

/**
 * A participant's caret and selection in the current document.
 * @typedef {{clientId: string, name: string, color: string, anchor: number, head: number}} RemoteCursor
 */

/** @type {import("@codemirror/state").StateEffectType<RemoteCursor>} */
export const setRemoteCursor = StateEffect.define();
// clientId
/** @type {import("@codemirror/state").StateEffectType<string>} */
export const removeRemoteCursor = StateEffect.define();

class CaretWidget extends WidgetType {
  /**
   * @param {string} name
   * @param {string} color
   * @param {boolean} labelBelow on the first line, where a label above would be cut off
   */
  constructor(name, color, labelBelow) {
    super();
    this.name = name;
    this.color = color;
    this.labelBelow = labelBelow;
  }

  /** @param {CaretWidget} other */
  eq(other) {
    return other.name === this.name && other.color === this.color && other.labelBelow === this.labelBelow;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = "cm-remote-caret";
    caret.style.setProperty("--peer-color", this.color);
    caret.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = this.labelBelow ? "cm-remote-label cm-remote-label-below" : "cm-remote-label";
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

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
        next.set(c.clientId, { ...c, anchor: clamp(c.anchor, length), head: clamp(c.head, length) });
      } else if (effect.is(removeRemoteCursor) && next.has(effect.value)) {
        if (next === cursors) next = new Map(cursors);
        next.delete(effect.value);
      }
    }
    return next;
  },
  provide: (field) =>
    EditorView.decorations.compute([field], (state) => {
      /** @type {{from: number, to: number, deco: Decoration}[]} */
      const ranges = [];
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
        const labelBelow = state.doc.lineAt(c.head).number === 1;
        ranges.push({
          from: c.head,
          to: c.head,
          deco: Decoration.widget({ widget: new CaretWidget(c.name, c.color, labelBelow), side: 1 }),
        });
      }
      ranges.sort((a, b) => a.from - b.from || a.deco.startSide - b.deco.startSide);
      /** @type {RangeSetBuilder<Decoration>} */
      const builder = new RangeSetBuilder();
      for (const r of ranges) builder.add(r.from, r.to, r.deco);
      return builder.finish();
    }),
});

/**
 * @param {import("@codemirror/state").EditorState} state
 * @returns {Map<string, RemoteCursor>}
 */
export function remoteCursors(state) {
  return state.field(presenceField);
}
