"""Prometheus metrics through prometheus-client, one registry per app (so tests and several
apps in one process do not collide). Exposed at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rooms_loaded = Gauge("pairpad_rooms_loaded", "Rooms held in memory", registry=r)
        self.rooms_created = Counter("pairpad_rooms_created", "Rooms created", registry=r)
        self.connections = Gauge("pairpad_connections", "Open WebSocket connections",
                                 registry=r)
        self.messages_in = Counter("pairpad_ws_messages_received", "WebSocket messages received",
                                   ["type"], registry=r)
        self.frames_out = Counter("pairpad_ws_frames_sent", "WebSocket frames queued to peers",
                                  registry=r)
        self.ws_errors = Counter("pairpad_ws_errors", "WebSocket error replies", ["code"],
                                 registry=r)
        self.updates = Counter("pairpad_updates_accepted", "Document updates accepted",
                               registry=r)
        self.runs = Counter("pairpad_runs", "Finished runs", ["status"], registry=r)
        self.requests = Histogram(
            "pairpad_http_request_duration_seconds", "HTTP request latency",
            ["method", "route", "status"], registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
