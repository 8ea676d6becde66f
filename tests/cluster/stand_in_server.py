"""A stand-in for `python -m server` in the tests of scripts/cluster: takes the same
`--host --port --db --redis` arguments, answers `/health` and `/whoami` (its port), stops
with 0 on SIGTERM. It lets the supervisor's happy path (nginx over N processes, Ctrl-C
clean-up) be tested before the real server has a `--redis` option.

    python -m scripts.cluster_lib --server-module tests.cluster.stand_in_server
"""

from __future__ import annotations

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--host", "--port", "--db", "--redis"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    port = int(args.port)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"/health": b"ok", "/whoami": str(port).encode()}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the supervisor prefixes and prints whatever we write

    server = ThreadingHTTPServer((args.host, port), Handler)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    print(f"stand-in listening on {args.host}:{port} db={args.db} redis={args.redis}",
          flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        print("stand-in stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
