// A run's ending in plain words (docs/editor.md "Run results"): what ended it, from the
// result's `reason`, `limit` and `stoppedBy` (docs/protocol.md `ExecutionResult`, `RunResult`);
// a result without `reason` (stored before it existed) falls back on `status`, `exitCode`,
// `truncated` and the room's `init.limits`. Pure, no DOM: tests/core/test_run_summary.py runs
// it under node.

/** @typedef {import("./wire.js").Limits} Limits */
/** @typedef {import("./wire.js").RunResult} RunResult */

const MiB = 1024 * 1024;

/**
 * What ended the run, as a sentence fragment: "Finished", "Stopped by Bob", "Timed out after
 * 10 s", "Output limit reached: first 64 KiB shown", ...
 * @param {RunResult} result
 * @param {Partial<Limits>} [limits] the room's `init.limits`, for results without `limit`
 * @returns {string}
 */
export function endReason(result, limits = {}) {
  const limit = typeof result.limit === "number" ? result.limit : null;
  const timeout = limit ?? (limits.runTimeoutMs ? limits.runTimeoutMs / 1000 : null);
  const outputCap = limit ?? limits.runOutputBytes ?? null;
  switch (result.reason) {
    case "exception": return "Error: uncaught exception";
    case "exit": return hasExitCode(result) ? `Exited with code ${result.exitCode}` : "Exited with an error";
    case "tests_failed": return "Tests failed";
    case "wall_limit": return timeout === null ? "Timed out" : `Timed out after ${formatSeconds(timeout)}`;
    case "cpu_limit": return limit === null ? "CPU time limit reached" : `CPU time limit (${formatSeconds(limit)}) reached`;
    case "memory_limit": return limit === null ? "Memory limit reached" : `Memory limit (${formatBytes(limit)}) reached`;
    case "output_limit": return outputLimit(outputCap);
    case "stopped": return stopped(result);
    case "sandbox_failure": return "The sandbox failed (not your program); try again";
    case null: case undefined: break;
    default: return `${result.status}: ${result.reason}`; // a reason newer than this editor
  }
  switch (result.status) {
    case "ok": return "Finished";
    // Exit code 1 is what any uncaught exception gives: only another code says more.
    case "error": return hasExitCode(result) && result.exitCode !== 1 ? `Error (exit code ${result.exitCode})` : "Error";
    case "tests_failed": return "Tests failed";
    case "timeout": return timeout === null ? "Timed out" : `Timed out after ${formatSeconds(timeout)}`;
    case "killed": return result.truncated ? outputLimit(outputCap) : "Killed: a memory or CPU limit, or the sandbox failed";
    case "stopped": return stopped(result);
    default: return String(result.status);
  }
}

/**
 * The whole end line: "Stopped by Bob · 1.20 s · ran the code as of 12:04:31 · run by Alice".
 * @param {RunResult} result
 * @param {Partial<Limits>} [limits]
 * @returns {string}
 */
export function runSummary(result, limits = {}) {
  const parts = [endReason(result, limits), formatDuration(result.durationMs)];
  // Runs stored before `startedAt` existed say which version ran instead.
  parts.push(result.startedAt ? `ran the code as of ${clockTime(result.startedAt)}` : `version ${result.version}`);
  if (result.name) parts.push(`run by ${result.name}`);
  return parts.join(" · ");
}

/** @param {RunResult} result */
function stopped(result) {
  return result.stoppedBy ? `Stopped by ${result.stoppedBy}` : "Stopped";
}

/** @param {RunResult} result */
function hasExitCode(result) {
  return result.exitCode !== null && result.exitCode !== undefined;
}

/** @param {number | null} cap */
function outputLimit(cap) {
  return cap === null ? "Output limit reached: the rest was cut" : `Output limit reached: first ${formatBytes(cap)} shown`;
}

/**
 * The local wall-clock time of an ISO timestamp, as HH:MM:SS.
 * @param {string} iso
 * @returns {string}
 */
export function clockTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/**
 * @param {number} bytes
 * @returns {string} "256 MiB", "64 KiB", "1.5 KiB", "900 bytes"
 */
export function formatBytes(bytes) {
  if (bytes >= MiB) return `${trim(bytes / MiB)} MiB`;
  if (bytes >= 1024) return `${trim(bytes / 1024)} KiB`;
  return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
}

/**
 * @param {number} seconds
 * @returns {string} "10 s", "2.5 s"
 */
export function formatSeconds(seconds) {
  return `${trim(seconds)} s`;
}

/**
 * @param {unknown} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (typeof ms !== "number") return "?";
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** @param {number} n at most one decimal, none when whole */
function trim(n) {
  return String(Math.round(n * 10) / 10);
}
