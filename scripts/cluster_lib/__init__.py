"""Start and stop the parts of a local multi-process deployment: a throwaway PostgreSQL, a
`redis-server`, nginx round-robin in front, and N Pairpad processes (docs/deploy.md).

One place for this, used by `scripts/cluster` (a person trying a cluster) and by the cluster
test fixtures (`tests/support/`), so the two cannot drift apart. It lives under `scripts/`,
not `tests/`, because the script is not test code, and not under `server/`, because starting
databases is not the server's job. Standard library only: it runs before any test tool.
"""
