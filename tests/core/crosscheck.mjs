// The real @codemirror/state and @codemirror/collab, answering the cases of
// tests/core/test_crosscheck.py: reads {"cases": [...]} on stdin, writes {"results": [...]}.
//
// Change sets go back as the *text* of JSON.stringify(changes.toJSON()), so the Python side
// can compare bytes. A case that throws gives {"error": message}.
//
// Usage: node tests/core/crosscheck.mjs [path/to/static] < cases.json

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir = process.argv[2] ?? path.join(here, "..", "..", "static");
// Resolve both packages from static/ so collab gets the very @codemirror/state we use.
const require = createRequire(path.join(staticDir, "package.json"));
const { ChangeSet, EditorState, Text } = require("@codemirror/state");
const { collab, receiveUpdates, rebaseUpdates, sendableUpdates, getSyncedVersion } =
  require("@codemirror/collab");

const cs = (json) => ChangeSet.fromJSON(json);
const text = (s) => Text.of(s.split("\n"));
const out = (changes) => JSON.stringify(changes.toJSON());
const updates = (list) => list.map(([clientID, changes]) => ({ clientID, changes: cs(changes) }));

const ops = {
  json: (c) => out(cs(c.changes)),
  apply: (c) => cs(c.changes).apply(text(c.doc)).toString(),
  compose: (c) => out(cs(c.a).compose(cs(c.b))),
  map: (c) => [out(cs(c.a).map(cs(c.b), false)), out(cs(c.a).map(cs(c.b), true))],
  mapPos: (c) => {
    const changes = cs(c.changes);
    return [-1, 1].map((assoc) => c.positions.map((p) => changes.mapPos(p, assoc)));
  },
  info: (c) => {
    const changes = cs(c.changes);
    return [changes.length, changes.newLength, changes.empty];
  },
  rebase: (c) => rebaseUpdates(updates(c.updates), updates(c.over)).map((u) => out(u.changes)),
  // rebaseUpdates folded over one update at a time (editor_core.authority.rebase_stepwise).
  rebaseStepwise: (c) => {
    let pending = updates(c.updates);
    for (const update of updates(c.over)) {
      if (!pending.length) break;
      pending = rebaseUpdates(pending, [update]);
    }
    return pending.map((u) => out(u.changes));
  },
  // A collab client with local changes, receiving updates one at a time (tests/collab_client.py),
  // or in the given batches (`batches`: how many updates each receiveUpdates call takes).
  receive: (c) => {
    let state = EditorState.create({
      doc: c.doc,
      extensions: [collab({ clientID: c.clientId, startVersion: 0 })],
    });
    for (const local of c.local) state = state.update({ changes: cs(local) }).state;
    const incoming = updates(c.updates);
    const sizes = c.batches ?? incoming.map(() => 1);
    for (let at = 0, i = 0; i < sizes.length; at += sizes[i++]) {
      state = receiveUpdates(state, incoming.slice(at, at + sizes[i])).state;
    }
    return {
      doc: state.doc.toString(),
      version: getSyncedVersion(state),
      unconfirmed: sendableUpdates(state).map((u) => out(u.changes)),
    };
  },
};

const { cases } = JSON.parse(readFileSync(0, "utf8"));
const results = cases.map((c) => {
  try {
    return { ok: ops[c.op](c) };
  } catch (err) {
    return { error: String(err && err.message) };
  }
});
process.stdout.write(JSON.stringify({ results }));
