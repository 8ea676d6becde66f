"""Pairpad's domain: changesets, positions, the room authority, presence, the execution
lock, autocomplete and the sandbox runner. Free of I/O frameworks (no starlette, uvicorn or
aiosqlite): `tests/core/test_layering.py` keeps it so."""
