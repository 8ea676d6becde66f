"""Autocomplete: Jedi completions in a worker process, AST symbols at the cursor.

The server calls `CompletionEngine.complete()` for `POST /autocomplete` and the room's
`complete` message (docs/protocol.md "Presence, runs, completions"), and sends the
`Completion` in the wire form that server/models.py defines.
"""

from editor_core.completion.engine import CompletionEngine
from editor_core.completion.model import Completion, Suggestion, Symbols
from editor_core.completion.symbols import symbols_at

__all__ = ["Completion", "CompletionEngine", "Suggestion", "Symbols", "symbols_at"]
