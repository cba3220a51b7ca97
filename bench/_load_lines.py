"""How the client processes of bench/load_test.py talk to it: one JSON line each way."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson


async def heard() -> dict[str, Any]:
    """The next line from the bench on stdin ({} for an empty one), without blocking the loop."""
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    message: dict[str, Any] = orjson.loads(line) if line.strip() else {}
    return message


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()
