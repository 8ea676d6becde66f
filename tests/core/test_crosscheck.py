"""Our `ChangeSet`, rebase and client model against the real CodeMirror packages.

Hundreds of seeded random cases go to `tests/core/crosscheck.mjs` in one node process, which
answers with what `@codemirror/state` and `@codemirror/collab` (from static/node_modules)
compute. Change sets must come back byte-identical as JSON (docs/architecture.md "ChangeSet
and its fast paths").
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from editor_core.authority import Authority, Update, rebase_stepwise, rebase_updates
from editor_core.changeset import ChangeSet
from editor_core.errors import InvalidUpdate
from tests.collab_client import CollabClient
from tests.core.random_changes import boundaries, random_change, random_text, rng_pick

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("crosscheck.mjs")
STATIC = ROOT / "static"
SEED = 20261122
PER_KIND = 150


def dumps(value: object) -> str:
    # JSON.stringify's spelling: no spaces, non-ASCII as is (both escape lone surrogates).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (CI installs it): cannot cross-check CodeMirror")
    for package in ("state", "collab"):
        if not (STATIC / "node_modules" / "@codemirror" / package / "package.json").exists():
            pytest.skip(f"static/node_modules lacks @codemirror/{package}: run `npm ci` in static/")
    return node


def attempt(compute: Callable[[], object]) -> object:
    """`compute()`, or "error" where it refuses, as CodeMirror throws (e.g. trailing `0`)."""
    try:
        return compute()
    except InvalidUpdate:
        return "error"


def map_both(a: ChangeSet, b: ChangeSet) -> list[str]:
    return [dumps(a.map(b, before).to_json()) for before in (False, True)]


def wire(updates: list[Update]) -> list[list[Any]]:
    return [[u.client_id, u.changes.to_json()] for u in updates]


class Cases:
    """Random cases and, beside each, what our implementation answers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pick = rng_pick(rng)
        self.cases: list[dict[str, Any]] = []
        self.expected: list[object] = []

    def add(self, case: dict[str, Any], expected: object) -> None:
        self.cases.append(case)
        self.expected.append(expected)

    def changesets(self) -> None:
        rng, pick = self.rng, self.pick
        for _ in range(PER_KIND):
            doc = random_text(pick)
            a, b = random_change(pick, doc), random_change(pick, doc)
            after_a = random_change(pick, a.apply(doc))
            self.add({"op": "apply", "doc": doc, "changes": a.to_json()}, a.apply(doc))
            self.add({"op": "info", "changes": a.to_json()}, [a.length, a.new_length, a.empty])
            self.add(
                {"op": "map", "a": a.to_json(), "b": b.to_json()},
                [dumps(a.map(b).to_json()), dumps(a.map(b, before=True).to_json())],
            )
            self.add(
                {"op": "compose", "a": a.to_json(), "b": after_a.to_json()},
                dumps(a.compose(after_a).to_json()),
            )
            positions = sorted(set(boundaries(doc)) | {rng.randint(0, a.length)})
            self.add(
                {"op": "mapPos", "changes": a.to_json(), "positions": positions},
                [[a.map_pos(p, assoc) for p in positions] for assoc in (-1, 1)],
            )
            # Unnormalized JSON (split keeps, empty sections) must survive as CodeMirror keeps it.
            odd = self.unnormalized(a.to_json())
            self.add({"op": "json", "changes": odd}, dumps(ChangeSet.from_json(odd).to_json()))
            odd_b = ChangeSet.from_json(self.unnormalized(b.to_json()))
            self.add(
                {"op": "map", "a": odd, "b": odd_b.to_json()},
                attempt(partial(map_both, ChangeSet.from_json(odd), odd_b)),
            )

    def unnormalized(self, data: list[Any]) -> list[Any]:
        out: list[Any] = []
        for part in data:
            if isinstance(part, int) and part > 1 and self.rng.random() < 0.5:
                cut = self.rng.randint(1, part - 1)
                out += [cut, part - cut]
            else:
                out.append(part)
            if self.rng.random() < 0.15:
                out.append(self.rng.choice([0, [0], [0, ""]]))
        return out

    def log(self) -> tuple[str, list[ChangeSet], list[Update]]:
        """A room where "p" pushed some of its changes (at version 0, stale) among others'."""
        rng, pick = self.rng, self.pick
        doc = random_text(pick)
        mine: list[ChangeSet] = []
        text = doc
        count = rng.randint(1, 4)
        while len(mine) < count:
            change = random_change(pick, text, max_edits=2)
            if not change.empty:  # collab keeps no update for an empty transaction
                mine.append(change)
                text = change.apply(text)
        room = Authority(doc, 0)
        pushed = 0
        for _ in range(rng.randint(0, 6)):
            if pushed < len(mine) and rng.random() < 0.3:
                pushed = rng.randint(pushed + 1, len(mine))
                room.push("p", 0, mine[:pushed])
            else:
                change = random_change(pick, room.text, max_edits=2)
                room.push(rng.choice(["x", "y"]), room.version, [change])
        return doc, mine, room.pull(0)

    def rebases(self) -> None:
        for _ in range(PER_KIND):
            doc, mine, over = self.log()
            updates = [Update("p", change) for change in mine]
            case = {"updates": wire(updates), "over": wire(over)}
            try:
                exact: object = [dumps(u.changes.to_json()) for u in rebase_updates(updates, over)]
            except InvalidUpdate:
                exact = "error"  # collab's own assumptions broken: it throws too
            self.add({"op": "rebase", **case}, exact)
            stepwise = [dumps(u.changes.to_json()) for u in rebase_stepwise(updates, over)]
            self.add({"op": "rebaseStepwise", **case}, stepwise)
            client = CollabClient("p", doc, 0)
            for change in mine:
                client.local_change(change)
            for update in over:
                client.receive(client.version, [update.to_wire()])
            self.add(
                {
                    "op": "receive",
                    "doc": doc,
                    "clientId": "p",
                    "local": [c.to_json() for c in mine],
                    "updates": case["over"],
                },
                {
                    "doc": client.doc,
                    "version": client.version,
                    "unconfirmed": [dumps(c.to_json()) for c in client.unconfirmed],
                },
            )


def codemirror(node: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [node, str(SCRIPT), str(STATIC)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    return results


def test_we_compute_what_codemirror_computes() -> None:
    node = node_or_skip()
    cases = Cases(random.Random(SEED))
    cases.changesets()
    cases.rebases()
    results = codemirror(node, cases.cases)
    assert len(results) == len(cases.cases)
    mismatches = []
    kinds: dict[str, int] = {}
    for case, expected, result in zip(cases.cases, cases.expected, results, strict=True):
        kinds[case["op"]] = kinds.get(case["op"], 0) + 1
        theirs = "error" if "error" in result else result["ok"]
        if theirs != expected:
            mismatches.append({"case": case, "ours": expected, "codemirror": result})
    assert not mismatches, f"{len(mismatches)} mismatches, first: {dumps(mismatches[:3])}"
    assert set(kinds) == {
        "json",
        "apply",
        "info",
        "map",
        "compose",
        "mapPos",
        "rebase",
        "rebaseStepwise",
        "receive",
    }
    assert min(kinds.values()) >= PER_KIND


def test_codemirror_diverges_when_a_server_rebases_over_a_composition() -> None:
    # Why editor_core.authority rebases one update at a time: with collab's own rebaseUpdates
    # over [delete "a", insert "a"] at once, the server puts the stale "b" first, while its
    # author, receiving the two updates in two messages, puts it last.
    node = node_or_skip()
    pushed = [["C", [[0, "b"], 1]]]
    over = [["X", [[1]]], ["Y", [[0, "a"]]]]
    at_once, stepwise = codemirror(
        node,
        [
            {"op": "rebase", "updates": pushed, "over": over},
            {"op": "rebaseStepwise", "updates": pushed, "over": over},
        ],
    )
    assert at_once["ok"] == ['[[0,"b"],1]']  # → "ba"
    assert stepwise["ok"] == ['[1,[0,"b"]]']  # → "ab"
    updates_for = {
        "at_once": json.loads(at_once["ok"][0]),
        "stepwise": json.loads(stepwise["ok"][0]),
    }
    author = {
        name: {
            "op": "receive",
            "doc": "a",
            "clientId": "C",
            "local": [pushed[0][1]],
            "updates": [*over, ["C", changes]],
            "batches": [1, 1, 1],
        }
        for name, changes in updates_for.items()
    }
    results = codemirror(node, list(author.values()))
    assert [r["ok"]["doc"] for r in results] == ["ab", "ab"]
    assert ChangeSet.from_json(updates_for["at_once"]).apply("a") == "ba"  # the server's doc
    room = Authority("a", 0)
    room.push("X", 0, [ChangeSet.from_json([[1]])])
    room.push("Y", 1, [ChangeSet.from_json([[0, "a"]])])
    room.push("C", 0, [ChangeSet.from_json(pushed[0][1])])
    assert room.text == "ab"  # the author agrees with our authority, not with the composition
