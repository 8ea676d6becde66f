"""Random documents and change sets, shared by the property tests and the cross-check.

One generator, two sources of randomness: a `random.Random` (the seeded cross-check and the
convergence simulation) or Hypothesis' `draw` (shrinkable property tests), both seen through
`Pick`. Texts mix ASCII, line breaks, a BMP accent and astral characters (two UTF-16 units each)
so that every unit conversion is exercised.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import strategies as st

from editor_core.changeset import ChangeSet
from editor_core.positions import utf16_length

# (lo, hi) -> an int in lo..hi, inclusive.
Pick = Callable[[int, int], int]

PIECES = ("a", "b", "x", " ", "\n", "é", "😀", "𝄞", "ab", "\n\n")


def random_text(pick: Pick, max_pieces: int = 12) -> str:
    return "".join(PIECES[pick(0, len(PIECES) - 1)] for _ in range(pick(0, max_pieces)))


def boundaries(doc: str) -> list[int]:
    """UTF-16 offsets of every code-point boundary of `doc`, 0 and the end included."""
    offsets = [0]
    for ch in doc:
        offsets.append(offsets[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return offsets


def random_change(pick: Pick, doc: str, max_edits: int = 3) -> ChangeSet:
    """A change of `doc` as an editor makes it: ordered ranges on code-point boundaries."""
    points = boundaries(doc)
    cuts = sorted(points[pick(0, len(points) - 1)] for _ in range(2 * pick(0, max_edits)))
    edits = []
    for i in range(0, len(cuts), 2):
        # Mostly typing (an empty range), sometimes a deletion or a replacement.
        start, end = cuts[i], cuts[i + 1]
        if pick(0, 2) == 0:
            end = start
        text = random_text(pick, 3) if pick(0, 3) else ""
        edits.append((start, end, text))
    return ChangeSet.of(utf16_length(doc), edits)


def rng_pick(rng: random.Random) -> Pick:
    return rng.randint


@st.composite
def docs(draw: st.DrawFn) -> str:
    return random_text(lambda lo, hi: draw(st.integers(lo, hi)))


@st.composite
def doc_and_changes(draw: st.DrawFn, count: int = 1) -> tuple[str, list[ChangeSet]]:
    """A document and `count` changes, each of the document (concurrent changes)."""
    pick: Pick = lambda lo, hi: draw(st.integers(lo, hi))  # noqa: E731
    doc = random_text(pick)
    return doc, [random_change(pick, doc) for _ in range(count)]


@st.composite
def change_chain(draw: st.DrawFn, count: int = 2) -> tuple[str, list[ChangeSet]]:
    """A document and `count` changes, each applying to the result of the one before."""
    pick: Pick = lambda lo, hi: draw(st.integers(lo, hi))  # noqa: E731
    doc = text = random_text(pick)
    chain = []
    for _ in range(count):
        change = random_change(pick, text)
        chain.append(change)
        text = change.apply(text)
    return doc, chain
