// Language intelligence in the editor (docs/protocol.md "Language"): the room's shared
// diagnostics as @codemirror/lint underlines, gutter marks and panel; a signature tooltip when
// `(` or `,` is typed; a hover tooltip; Ctrl/Cmd-click and F12 go to a definition.
// Every answer is at a server version; positions are mapped onto our document (through our
// unconfirmed changes too) the way remote cursors are.
import { Prec, StateEffect, StateField } from "@codemirror/state";
import { EditorView, hoverTooltip, keymap, showTooltip } from "@codemirror/view";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { h } from "./dom.js";

/** @typedef {import("@codemirror/state").Extension} Extension */
/** @typedef {import("@codemirror/view").Tooltip} Tooltip */
/** @typedef {import("./wire.js").DiagnosticsMessage} DiagnosticsMessage */
/** @typedef {import("./wire.js").SignaturesMessage} SignaturesMessage */
/** @typedef {import("./wire.js").HoverMessage} HoverMessage */
/** @typedef {import("./wire.js").DefinitionMessage} DefinitionMessage */
/** @typedef {import("./wire.js").Signature} Signature */

/**
 * @typedef {{
 *   signature: (version: number, position: number, signal: AbortSignal) => Promise<SignaturesMessage | null>,
 *   hover: (version: number, position: number, signal: AbortSignal) => Promise<HoverMessage | null>,
 *   definition: (version: number, position: number, signal: AbortSignal) => Promise<DefinitionMessage | null>,
 *   notice: (text: string) => void,
 * }} LanguageRequests
 *   each resolves null when there is no answer (not connected, aborted, or an error)
 */

// How long an answer may wait for our own changes to be confirmed (the server answers on
// its document, which must be ours for the positions to mean the same).
const SETTLE_LIMIT_MS = 3000;

/**
 * Wait until our changes are confirmed, then ask at `position` (a position of our current
 * document, which is then the server's at `sync.synced`).
 * @template T
 * @param {import("./collab.js").CollabSync} sync
 * @param {EditorView} view
 * @param {(version: number, position: number, signal: AbortSignal) => Promise<T | null>} ask
 * @param {() => number} where the position, read once settled
 * @returns {Promise<{reply: T, version: number, position: number} | null>}
 */
async function askSettled(sync, view, ask, where) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SETTLE_LIMIT_MS);
  try {
    if (!(await sync.whenSettled(controller.signal))) return null;
    const version = sync.synced;
    const position = Math.min(where(), view.state.doc.length);
    const reply = await ask(version, position, controller.signal);
    return reply ? { reply, version, position } : null;
  } finally {
    clearTimeout(timer);
  }
}

// ---- diagnostics -----------------------------------------------------------------------------

/**
 * Show a `diagnostics` frame: its items are at `msg.version`; @codemirror/lint then maps them
 * through every later change until the next frame replaces them. Returns false when the
 * frame is ahead of our synced version (the caller keeps it until we catch up).
 * @param {import("./collab.js").CollabSync} sync
 * @param {EditorView} view
 * @param {DiagnosticsMessage} msg
 * @returns {boolean}
 */
export function showDiagnostics(sync, view, msg) {
  if (msg.version > sync.synced) return false;
  /** @type {import("@codemirror/lint").Diagnostic[]} */
  const diagnostics = [];
  for (const item of msg.items) {
    const from = sync.mapFromVersion(item.from, msg.version, 1);
    const to = sync.mapFromVersion(item.to, msg.version, -1);
    if (from === null || to === null) continue; // too old to place
    diagnostics.push({
      from, to: Math.max(from, to), severity: item.severity, message: item.message,
      source: item.source === "syntax" ? "syntax" : "pyflakes",
    });
  }
  view.dispatch(setDiagnostics(view.state, diagnostics));
  return true;
}

// ---- signatures --------------------------------------------------------------------------------

/** @type {import("@codemirror/state").StateEffectType<{pos: number, signature: Signature} | null>} */
const setSignature = StateEffect.define({
  map: (value, changes) => value && { pos: changes.mapPos(value.pos), signature: value.signature },
});

/** The signature tooltip: shown by `setSignature`, closed by it with null, by Escape, or a
 * caret that leaves the call (past its `)`, before where it was asked, or onto another line). */
const signatureField = StateField.define({
  /** @returns {{pos: number, signature: Signature} | null} */
  create: () => null,
  update(value, tr) {
    for (const effect of tr.effects) if (effect.is(setSignature)) return effect.value;
    if (!value) return value;
    const pos = tr.changes.mapPos(value.pos);
    const head = tr.state.selection.main.head;
    const line = tr.state.doc.lineAt(pos);
    if (head < pos || head > line.to) return null;
    // Closed once the caret is past a `)` that closes the call (typed, or stepped over).
    let depth = 0;
    for (const ch of tr.state.doc.sliceString(pos, head)) {
      if (ch === "(") depth++;
      else if (ch === ")" && --depth < 0) return null;
    }
    return { pos, signature: value.signature };
  },
  provide: (field) => showTooltip.compute([field], (state) => {
    const value = state.field(field);
    if (!value) return null;
    return {
      pos: value.pos,
      above: true,
      arrow: false,
      create: () => ({ dom: signatureDom(value.signature) }),
    };
  }),
});

/**
 * @param {Signature} signature
 * @returns {HTMLElement}
 */
function signatureDom(signature) {
  const active = signature.activeParameter;
  const params = signature.parameters.map((p, i) => h("span", { class: i === active ? "cm-signature-active" : "" }, p.label));
  /** @type {(HTMLElement | string)[]} */
  const label = [];
  const open = signature.label.indexOf("(");
  label.push(open >= 0 ? signature.label.slice(0, open + 1) : `${signature.label}(`);
  params.forEach((p, i) => { if (i) label.push(", "); label.push(p); });
  const close = signature.label.lastIndexOf(")");
  label.push(close >= 0 ? signature.label.slice(close) : ")");
  const children = [h("code", { class: "cm-signature-label" }, label)];
  if (signature.documentation) children.push(h("div", { class: "cm-signature-doc" }, firstParagraph(signature.documentation)));
  return h("div", { class: "cm-signature", role: "tooltip" }, children);
}

/**
 * @param {string} text
 * @returns {string}
 */
function firstParagraph(text) {
  const para = text.split(/\n\s*\n/)[0].trim();
  return para.length > 400 ? `${para.slice(0, 400)}…` : para;
}

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {LanguageRequests} requests
 * @returns {Extension}
 */
function signatureHelp(sync, requests) {
  let asked = 0; // the latest request; older answers are dropped
  return [
    signatureField,
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      const typed = update.transactions.some((tr) => {
        if (!tr.isUserEvent("input.type") && !tr.isUserEvent("input.complete")) return false;
        let hit = false;
        tr.changes.iterChanges((_a, _b, _c, _d, inserted) => { if (/[(,]/.test(inserted.toString())) hit = true; });
        return hit;
      });
      if (!typed) return;
      const view = update.view;
      const ticket = ++asked;
      askSettled(sync, view, requests.signature, () => view.state.selection.main.head).then((answer) => {
        if (ticket !== asked) return;
        const signature = answer?.reply.signatures[0];
        const head = view.state.selection.main.head;
        if (!answer || !signature || view.state.doc.length < head) {
          if (view.state.field(signatureField)) view.dispatch({ effects: setSignature.of(null) });
          return;
        }
        view.dispatch({ effects: setSignature.of({ pos: head, signature }) });
      });
    }),
    // Ahead of the completion popup's Escape, and not consuming it: one Escape closes both.
    Prec.highest(keymap.of([{
      key: "Escape",
      run: (view) => {
        if (view.state.field(signatureField)) view.dispatch({ effects: setSignature.of(null) });
        return false;
      },
    }])),
  ];
}

// ---- hover -----------------------------------------------------------------------------------

/**
 * Markdown as the server writes it (a fenced code block, then paragraphs) as DOM, text only:
 * nothing of it is parsed as HTML.
 * @param {string} markdown
 * @returns {HTMLElement}
 */
export function markdownDom(markdown) {
  /** @type {HTMLElement[]} */
  const parts = [];
  const fence = /```[a-z]*\n([\s\S]*?)\n```/g;
  let last = 0;
  for (const match of markdown.matchAll(fence)) {
    pushParagraphs(parts, markdown.slice(last, match.index));
    parts.push(h("pre", { class: "cm-hover-code" }, match[1]));
    last = (match.index || 0) + match[0].length;
  }
  pushParagraphs(parts, markdown.slice(last));
  return h("div", { class: "cm-hover", role: "tooltip" }, parts);
}

/**
 * @param {HTMLElement[]} parts
 * @param {string} text
 */
function pushParagraphs(parts, text) {
  for (const para of text.split(/\n\s*\n/)) {
    if (para.trim()) parts.push(h("p", { class: "cm-hover-doc" }, para.trim()));
  }
}

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {LanguageRequests} requests
 * @returns {Extension}
 */
function hover(sync, requests) {
  return hoverTooltip(async (view, pos) => {
    const answer = await askSettled(sync, view, requests.hover, () => pos);
    if (!answer) return null;
    const { reply } = answer;
    const contents = reply.contents;
    if (typeof contents !== "string") return null;
    const from = sync.mapFromVersion(reply.from ?? answer.position, reply.version, 1);
    const to = sync.mapFromVersion(reply.to ?? answer.position, reply.version, -1);
    if (from === null || to === null) return null;
    return { pos: from, end: Math.max(from, to), above: true, create: () => ({ dom: markdownDom(contents) }) };
  }, { hoverTime: 350 });
}

// ---- definition --------------------------------------------------------------------------------

/**
 * Go to the definition of the name at `pos`: select it when it is in the document, else say
 * which library module defines it.
 * @param {import("./collab.js").CollabSync} sync
 * @param {LanguageRequests} requests
 * @param {EditorView} view
 * @param {number} pos
 */
async function goToDefinition(sync, requests, view, pos) {
  const answer = await askSettled(sync, view, requests.definition, () => pos);
  const place = answer?.reply.definition;
  if (!answer || !place) {
    requests.notice("No definition found for that name.");
    return;
  }
  if ("module" in place) {
    requests.notice(`${place.name} is defined in the module ${place.module}.`);
    return;
  }
  const from = sync.mapFromVersion(place.from, answer.reply.version, 1);
  const to = sync.mapFromVersion(place.to, answer.reply.version, -1);
  if (from === null || to === null) return;
  view.dispatch({ selection: { anchor: from, head: Math.max(from, to) }, scrollIntoView: true, userEvent: "select.definition" });
  view.focus();
}

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {LanguageRequests} requests
 * @returns {Extension}
 */
function definition(sync, requests) {
  return [
    keymap.of([{
      key: "F12",
      run: (view) => { goToDefinition(sync, requests, view, view.state.selection.main.head); return true; },
      preventDefault: true,
    }]),
    EditorView.domEventHandlers({
      mousedown(event, view) {
        if (!(event.ctrlKey || event.metaKey) || event.button !== 0) return false;
        const pos = view.posAtCoords({ x: event.clientX, y: event.clientY });
        if (pos === null) return false;
        event.preventDefault();
        goToDefinition(sync, requests, view, pos);
        return true;
      },
    }),
  ];
}

// ---- together ----------------------------------------------------------------------------------

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {LanguageRequests} requests
 * @returns {Extension}
 */
export function languageExtensions(sync, requests) {
  return [
    lintGutter(),
    keymap.of(lintKeymap),
    signatureHelp(sync, requests),
    hover(sync, requests),
    definition(sync, requests),
    languageTheme,
  ];
}

const languageTheme = EditorView.theme({
  ".cm-signature": { padding: "4px 8px", maxWidth: "min(560px, 90vw)", fontSize: "0.85rem" },
  ".cm-signature-label": { fontFamily: "var(--mono)", whiteSpace: "pre-wrap" },
  ".cm-signature-active": { fontWeight: "bold", textDecoration: "underline" },
  ".cm-signature-doc": { color: "var(--muted)", marginTop: "4px", fontFamily: "var(--sans)", whiteSpace: "pre-wrap" },
  ".cm-hover": { padding: "4px 8px", maxWidth: "min(600px, 90vw)", maxHeight: "40vh", overflow: "auto", fontSize: "0.85rem" },
  ".cm-hover-code": { fontFamily: "var(--mono)", margin: "2px 0", whiteSpace: "pre-wrap" },
  ".cm-hover-doc": { fontFamily: "var(--sans)", margin: "6px 0 2px", whiteSpace: "pre-wrap" },
  ".cm-diagnostic": { fontFamily: "var(--sans)" },
});
