"""Encoding frames once (a broadcast is encoded one time for all receivers)."""

from __future__ import annotations

import json
from typing import Any


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
