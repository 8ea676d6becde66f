// Completions from the server in CodeMirror's popup (PROTOCOL.md: `complete` → `completions`).
// The request waits until our own changes are confirmed, so the server completes the text we
// see; `from` comes back valid at the reply's version and is mapped onto our document.
const KIND_TO_TYPE = {
  function: "function",
  method: "method",
  class: "class",
  module: "namespace",
  keyword: "keyword",
  statement: "keyword",
  variable: "variable",
  instance: "variable",
  param: "variable",
  property: "property",
  attribute: "property",
  constant: "constant",
};

const WAIT_LIMIT_MS = 5000;
const WORD = /^\w*$/;

/**
 * @param {import("./collab.js").CollabSync} sync
 * @param {(req: {version: number, position: number}, signal: AbortSignal) => Promise<object|null>} request
 */
export function serverCompletionSource(sync, request) {
  return async (context) => {
    const word = context.matchBefore(/\w*/);
    const before = context.state.sliceDoc(word.from - 1, word.from);
    if (!context.explicit && word.from === word.to && before !== ".") return null;

    const controller = new AbortController();
    context.addEventListener("abort", () => controller.abort());
    const timer = setTimeout(() => controller.abort(), WAIT_LIMIT_MS);
    try {
      if (!(await sync.whenSettled(controller.signal)) || context.aborted) return null;
      // The document the server has must be the one this context sees.
      if (!sync.view.state.doc.eq(context.state.doc)) return null;
      const version = sync.synced;
      const reply = await request({ version, position: context.pos }, controller.signal);
      if (!reply || context.aborted || !Array.isArray(reply.items)) return null;

      // The typed prefix is what lies between `from` and our position, both at reply.version.
      let from = word.from;
      const posThen = reply.version === version ? context.pos : sync.mapBetween(context.pos, version, reply.version, 1);
      if (posThen !== null && typeof reply.from === "number") {
        const candidate = context.pos - (posThen - reply.from);
        if (candidate <= context.pos && candidate >= context.pos - 250 && WORD.test(context.state.sliceDoc(candidate, context.pos))) {
          from = candidate;
        }
      }
      return {
        from,
        validFor: WORD,
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
