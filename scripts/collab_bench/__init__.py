"""The collaboration benchmark behind `scripts/bench_collab` (results: docs/performance-collab.md).

`__main__` starts a server per scenario and drives worker processes (`worker`), each running an
asyncio loop with many lean WebSocket clients (`lean`), over 127.0.0.1 only.
"""
