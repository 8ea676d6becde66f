// The shapes of the wire contract that the editor reads and sends (docs/protocol.md), as JSDoc
// types for tsc; no code. Field names are the wire's (camelCase); positions are UTF-16 offsets.
// Import them with `@typedef {import("./wire.js").Name} Name`.

// ---- shared pieces ------------------------------------------------------------------------

/** @typedef {{anchor: number, head: number}} Cursor */

/**
 * `role` is "viewer" for a client of a read-only link (absent from servers older than roles).
 * @typedef {{clientId: string, name: string, color: string, cursor: Cursor | null,
 *            role?: "editor" | "viewer"}} Participant
 */

/**
 * The run that holds a room's lock; `output` (what it printed so far) only in `init.lock`
 * and in a `room_locked` error.
 * @typedef {{runId: string, clientId: string, name: string, version: number, since: string,
 *            output?: string}} Lock
 */

/** @typedef {"ok" | "error" | "tests_failed" | "timeout" | "killed" | "stopped"} RunStatus */

/**
 * Why a run did not end "ok" (protocol.md `ExecutionResult`); a string beyond these is a
 * reason newer than this editor.
 * @typedef {"exception" | "exit" | "tests_failed" | "wall_limit" | "cpu_limit"
 *   | "memory_limit" | "output_limit" | "stopped" | "sandbox_failure"} RunReason
 */

/**
 * A finished run (protocol.md `RunResult`: `ExecutionResult` plus who ran which version, when,
 * and who stopped it). `reason`/`limit` are absent from results stored before they existed.
 * @typedef {{status: RunStatus, output: string, stdout: string, stderr: string,
 *            exitCode: number | null, durationMs: number, truncated: boolean,
 *            reason?: RunReason | string | null, limit?: number | null,
 *            runId: string, version: number, clientId: string, name: string,
 *            startedAt: string | null, finishedAt: string, stoppedBy: string | null}} RunResult
 */

/**
 * `init.limits`: the sizes and rates the server enforces.
 * @typedef {{maxDocumentLength: number, maxMessageBytes: number, maxParticipants: number,
 *            messagesPerSecond: number, messageBurst: number, historyUpdates: number,
 *            runTimeoutMs: number, runOutputBytes: number,
 *            runStdinBytes: number}} Limits
 */

/**
 * One completion; `source: "ast"` everywhere means Jedi missed the deadline (provisional).
 * @typedef {{label: string, kind: string, detail?: string | null,
 *            source: "jedi" | "ast"}} Suggestion
 */

/**
 * An accepted update as the server sends it back: `changes` is `ChangeSet.toJSON()`.
 * @typedef {{clientId: string, changes: unknown}} ReceivedUpdate
 */

// ---- server → editor ----------------------------------------------------------------------

/**
 * A viewer's `init` has no `roomId` (docs/protocol.md "Read-only links").
 * @typedef {{type: "init", roomId?: string, role?: "editor" | "viewer", language: string, version: number, code: string,
 *            clientId: string, color: string, participants: Participant[],
 *            lock: Lock | null, lastRun: RunResult | null, limits: Limits}} InitMessage
 */
/** @typedef {{type: "code_update", version: number, updates: ReceivedUpdate[]}} CodeUpdateMessage */
/**
 * @typedef {{type: "cursor", clientId: string, version: number, anchor: number,
 *            head: number}} CursorMessage
 */
/** @typedef {{type: "participant_joined", participant: Participant}} ParticipantJoinedMessage */
/** @typedef {{type: "participant_left", clientId: string}} ParticipantLeftMessage */
/** @typedef {{type: "execution_lock"} & Lock} ExecutionLockMessage */
/**
 * @typedef {{type: "execution_output", runId: string, stream: "stdout" | "stderr",
 *            data: string}} ExecutionOutputMessage
 */
/** @typedef {{type: "execution_result"} & RunResult} ExecutionResultMessage */
/**
 * @typedef {{type: "completions", id: string, version: number, from: number,
 *            items: Suggestion[], incomplete: boolean}} CompletionsMessage
 */
/**
 * docs/protocol.md "Language": positions are UTF-16 offsets at the message's `version`.
 * @typedef {{from: number, to: number, severity: "error" | "warning" | "info", message: string,
 *            source: "syntax" | "pyflakes"}} Diagnostic
 * @typedef {{label: string, parameters: {label: string, documentation: string | null}[],
 *            activeParameter: number | null, documentation: string | null}} Signature
 */
/** @typedef {{type: "diagnostics", version: number, items: Diagnostic[]}} DiagnosticsMessage */
/** @typedef {{type: "signatures", id: string, version: number, signatures: Signature[]}} SignaturesMessage */
/**
 * @typedef {{type: "hover_info", id: string, version: number, from?: number, to?: number,
 *            contents: string | null}} HoverMessage
 */
/**
 * @typedef {{type: "definition_location", id: string, version: number,
 *            definition: {from: number, to: number} | {module: string, name: string} | null}} DefinitionMessage
 */
/** @typedef {CompletionsMessage | SignaturesMessage | HoverMessage | DefinitionMessage} RequestReply */
/**
 * `id` when it answers a `complete`, `signature`, `hover` or `definition`; the other extras by `code` (protocol.md, "Errors and
 * closing").
 * @typedef {{type: "error", code: string, message: string, id?: string, details?: unknown,
 *            retryAfterMs?: number, lock?: Lock}} ErrorMessage
 */
/** @typedef {{type: "pong"}} PongMessage */

/**
 * @typedef {InitMessage | CodeUpdateMessage | CursorMessage | ParticipantJoinedMessage
 *   | ParticipantLeftMessage | ExecutionLockMessage | ExecutionOutputMessage
 *   | ExecutionResultMessage | CompletionsMessage | ErrorMessage | PongMessage
 *   | DiagnosticsMessage | SignaturesMessage | HoverMessage | DefinitionMessage} ServerMessage
 */

// ---- editor → server ----------------------------------------------------------------------

/**
 * @typedef {{type: "code_update", version: number, updates: {changes: unknown}[]}
 *   | {type: "pull", version: number}
 *   | {type: "cursor", version: number, anchor: number, head: number}
 *   | {type: "run", stdin?: string}
 *   | {type: "stop", runId: string}
 *   | {type: "complete", id: string, version: number, position: number}
 *   | {type: "signature" | "hover" | "definition", id: string, version: number, position: number}
 *   | {type: "ping"}} ClientMessage
 */

// ---- REST ---------------------------------------------------------------------------------

/**
 * `POST /rooms` answers a room at version 0.
 * @typedef {{roomId: string, name: string, language: string, code: string, version: number,
 *            createdAt: string}} Room
 */
/**
 * `GET /rooms/{roomId}`.
 * @typedef {Room & {participants: Participant[], lock: Lock | null,
 *                   lastRun: RunResult | null, updatedAt: string}} RoomState
 */
/**
 * A read-only link (`POST /rooms/{roomId}/links`).
 * @typedef {{linkId: string, role: "viewer", url: string, createdAt: string}} Link
 */
/**
 * `GET /links/{linkId}`: the room without its id.
 * @typedef {Omit<RoomState, "roomId"> & {role: "viewer"}} SharedRoom
 */

export {};

// History (docs/protocol.md "History").
/**
 * @typedef {{version: number, author: string | null, clientId: string | null, time: string | null,
 *   inserted: number, deleted: number, updates: number}} HistoryEntry
 */
/** @typedef {{version: number, entries: HistoryEntry[], oldestVersion: number}} HistoryPage */
/** @typedef {{version: number, code: string, time: string | null}} VersionText */
/**
 * @typedef {{line: number, author: string | null, clientId: string | null, version: number,
 *   time: string | null}} BlameLine
 */
/** @typedef {{version: number, lines: BlameLine[]}} Blame */
/** @typedef {{version: number, restoredVersion: number, changed: boolean}} Restored */
