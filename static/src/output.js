// The output panel: a run's stdout and stderr as they stream (styled apart), then its end
// line in plain words (run_summary.js; docs/protocol.md "Presence, runs, completions":
// execution_lock / _output / _result).
import { h } from "./dom.js";
import { clockTime, runSummary } from "./run_summary.js";

/** @typedef {import("./wire.js").Lock} Lock */
/** @typedef {import("./wire.js").RunResult} RunResult */
/** @typedef {import("./wire.js").ExecutionOutputMessage} ExecutionOutputMessage */
/** @typedef {import("./wire.js").Limits} Limits */

export class OutputPanel {
  constructor() {
    this.log = h("pre", {
      class: "output-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Program output",
      tabindex: "0",
    });
    this.status = h("p", { class: "output-status", role: "status", "aria-live": "polite" }, "Nothing has run yet.");
    this.clearButton = h("button", { type: "button", class: "ghost small", onclick: () => this.clear() }, "Clear");
    this.element = h(
      "section",
      { class: "output", "aria-labelledby": "output-heading" },
      h("div", { class: "output-head" }, h("h2", { id: "output-heading" }, "Output"), this.status, this.clearButton),
      this.log,
    );
    /** @type {string | null} the run whose output is shown */
    this.runId = null;
    // What streamed for that run, to compare with its result.
    this.streamed = "";
    /** @type {Partial<Limits>} the room's `init.limits`, for results that carry no `limit` */
    this.limits = {};
  }

  clear() {
    this.log.replaceChildren();
    this.streamed = "";
  }

  /**
   * @param {"stdout" | "stderr"} stream
   * @param {string} data
   */
  append(stream, data) {
    if (!data) return;
    const last = /** @type {HTMLElement | null} */ (this.log.lastElementChild);
    if (last && last.dataset.stream === stream) {
      last.append(data);
    } else {
      this.log.append(h("span", { class: `out-${stream}`, dataset: { stream } }, data));
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  // A run began (or was already running when we joined: then `lock.output` holds what it
  // printed so far, without telling stdout from stderr).
  /** @param {Lock} lock */
  started(lock) {
    if (this.runId === lock.runId) return;
    this.runId = lock.runId;
    this.clear();
    this.element.dataset.state = "running";
    this.status.textContent = `Running the code as of ${clockTime(lock.since)} for ${lock.name}…`;
    if (lock.output) {
      this.append("stdout", lock.output);
      this.streamed = lock.output;
    }
  }

  /** @param {ExecutionOutputMessage} message */
  output(message) {
    if (message.runId !== this.runId) return;
    this.append(message.stream, message.data);
    this.streamed += message.data;
  }

  // The result is authoritative: if what streamed differs from it (joined late, a batch lost
  // to a reconnect), show the result's own text.
  /**
   * @param {RunResult} result
   * @param {{fresh?: boolean}} [options] fresh: false when the result is an old one (in `init`)
   */
  finished(result, { fresh = true } = {}) {
    const replace = !fresh || result.runId !== this.runId || this.streamed !== (result.output ?? "");
    this.runId = result.runId;
    if (replace) {
      this.clear();
      if (result.stdout) this.append("stdout", result.stdout);
      if (result.stderr) this.append("stderr", result.stderr);
      if (!result.stdout && !result.stderr && result.output) this.append("stdout", result.output);
    }
    if (result.truncated) this.log.append(h("span", { class: "out-note" }, "\n[output truncated]"));
    this.element.dataset.state = result.status;
    this.status.textContent = runSummary(result, this.limits);
    this.status.title = this.status.textContent; // the whole line, where it is cut
  }

  /** @param {string} text */
  note(text) {
    this.status.textContent = text;
  }
}
