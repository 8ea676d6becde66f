// The input box of runs: what `input()` reads when *you* run the code, sent in your `run`
// message's `stdin` (docs/protocol.md "Presence, runs, completions"). Each person has their
// own and it is not shared; docs/editor.md "Input for runs" says why.
import { h } from "./dom.js";
import { formatBytes } from "./run_summary.js";

const encoder = new TextEncoder();

export class StdinBox {
  /** @param {{onRun: () => void}} handlers Ctrl/Cmd+Enter in the box runs, as in the editor */
  constructor({ onRun }) {
    this.input = h("textarea", {
      id: "stdin-input",
      class: "stdin-input",
      rows: "3",
      spellcheck: "false",
      placeholder: "Lines for input(), one per line",
      "aria-describedby": "stdin-hint",
      onkeydown: (/** @type {KeyboardEvent} */ event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          onRun();
        }
      },
    });
    this.element = h(
      "section",
      { class: "stdin-panel", "aria-labelledby": "stdin-heading" },
      h("h2", { id: "stdin-heading" }, h("label", { for: "stdin-input" }, "Input")),
      this.input,
      h("p", { id: "stdin-hint", class: "muted small" },
        "Read by input() in your runs only; the output shows each line as it is read."),
    );
  }

  /** @returns {string} */
  get value() {
    return this.input.value;
  }

  /**
   * Why the input cannot be sent, or null when it can.
   * @param {{runStdinBytes?: number, maxMessageBytes?: number}} limits the room's `init.limits`
   * @returns {string | null}
   */
  refusal({ runStdinBytes, maxMessageBytes }) {
    const bytes = encoder.encode(this.input.value).length;
    if (runStdinBytes !== undefined && bytes > runStdinBytes) {
      return `The input is too long to run with: ${formatBytes(bytes)}, at most ${formatBytes(runStdinBytes)}.`;
    }
    // As JSON in the `run` message (escapes can double it): a frame over the message limit
    // would close the connection (1009).
    const frame = encoder.encode(JSON.stringify({ type: "run", stdin: this.input.value })).length;
    if (maxMessageBytes !== undefined && frame > maxMessageBytes) {
      return `The input is too long to send: ${formatBytes(frame)} as a message, at most ${formatBytes(maxMessageBytes)}.`;
    }
    return null;
  }
}
