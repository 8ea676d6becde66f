// Completions from the server in CodeMirror's popup (docs/protocol.md
// "Presence, runs, completions": `complete` → `completions`).
// The request waits until our own changes are confirmed, so the server completes the text we
// see; `from` comes back valid at the reply's version and is mapped onto our document.
import { completionStatus, startCompletion } from "@codemirror/autocomplete";

/** @typedef {import("@codemirror/autocomplete").CompletionSource} CompletionSource */
/** @typedef {import("@codemirror/view").EditorView} EditorView */
/** @typedef {import("./wire.js").CompletionsMessage} CompletionsMessage */

/** @type {Record<string, string | undefined>} */
const KIND_TO_TYPE = {
  function: "function",
  method: "method",
  class: "class",
  module: "namespace",
  keyword: "keyword",
  statement: "variable",
  variable: "variable",
  instance: "variable",
  param: "variable",
  property: "property",
  attribute: "property",
  constant: "constant",
};

const WAIT_LIMIT_MS = 10_000;
// When Jedi misses the server's deadline (or still warms up) the answer is the AST's, marked
// `incomplete`; Jedi's answer lands in the server's cache shortly after, so ask again.
const REASK_DELAYS_MS = [300, 800, 2000];
const WORD = /^\w*$/;

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {(req: {version: number, position: number}, signal: AbortSignal) => Promise<CompletionsMessage | null>} request
 *   null when there is no answer (not connected, aborted, or an error)
 * @returns {CompletionSource}
 */
export function serverCompletionSource(sync, request) {
  let reask = { key: "", count: 0 };
  return async (context) => {
    // `\w*` matches everywhere (if only the empty string), so never null.
    const word = /** @type {{from: number, to: number, text: string}} */ (context.matchBefore(/\w*/));
    const before = context.state.sliceDoc(word.from - 1, word.from);
    if (!context.explicit && word.from === word.to && before !== ".") return null;

    const controller = new AbortController();
    context.addEventListener("abort", () => controller.abort());
    const timer = setTimeout(() => controller.abort(), WAIT_LIMIT_MS);
    try {
      if (!(await sync.whenSettled(controller.signal)) || context.aborted) return null;
      // Settled: our document is the server's at `version`. The person may have typed on since
      // this context was made; ask at their caret now. (Returning null here instead would leave
      // CodeMirror's source pending with no query running, and the popup would never come.)
      const view = /** @type {EditorView} */ (sync.view); // settled: the editor is attached
      const version = sync.synced;
      const position = view.state.selection.main.head;
      const sameDoc = view.state.doc.eq(context.state.doc);
      const reply = await request({ version, position }, controller.signal);
      if (!reply || context.aborted || !Array.isArray(reply.items)) return null;

      // The typed prefix is what lies between `from` and the caret, both at reply.version.
      // The result must be in this context's coordinates: when the document is still the one
      // the context saw, `from` is the caret minus that prefix; otherwise take the word
      // before the context's position (CodeMirror maps it over the later typing).
      let from = word.from;
      const caretThen = reply.version === version ? position : sync.mapBetween(position, version, reply.version, 1);
      if (sameDoc && position === context.pos && caretThen !== null && typeof reply.from === "number") {
        const candidate = context.pos - (caretThen - reply.from);
        if (candidate <= context.pos && candidate >= context.pos - 250 && WORD.test(context.state.sliceDoc(candidate, context.pos))) {
          from = candidate;
        }
      }
      const provisional = reply.incomplete === true;
      if (provisional) {
        const key = `${version}:${position}`;
        if (reask.key !== key) reask = { key, count: 0 };
        const delay = REASK_DELAYS_MS[reask.count];
        if (delay !== undefined) {
          reask.count += 1;
          setTimeout(() => {
            const state = view.state;
            const unchanged = sync.synced === version && sync.unconfirmedCount === 0 && state.selection.main.head === position;
            if (unchanged && completionStatus(state) !== "pending") startCompletion(view);
          }, delay);
        }
      }
      return {
        from,
        // A provisional answer is not reused while typing: each key asks the server again.
        validFor: provisional ? undefined : WORD,
        options: reply.items.map((item, index) => ({
          label: item.label,
          type: KIND_TO_TYPE[item.kind] || "text",
          detail: item.detail || item.kind,
          // Keep the server's order among equally good matches.
          boost: -Math.min(index, 99) / 100,
        })),
      };
    } finally {
      clearTimeout(timer);
    }
  };
}
