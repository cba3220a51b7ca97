"""Holding the first answer of a read: what a caller sees when its read was sent before
another caller's write and answered after it."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


class HeldFirstAnswer:
    def __init__(self) -> None:
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def hold(self, answer: T) -> T:
        """`answer`, once released when it is the first one; any later one at once."""
        if not self.held.is_set():
            self.held.set()
            await self.release.wait()
        return answer
