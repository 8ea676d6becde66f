"""Pairpad's ASGI adapter: app factory, configuration, HTTP routes, the WebSocket endpoint,
wire models, the SQLite store, error mapping and the CLI. The only package that imports
starlette, uvicorn or aiosqlite."""
