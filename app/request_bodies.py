"""Reading a whole HTTP request body in an ASGI layer, and handing it on to the next app."""

from __future__ import annotations

from starlette.types import Message, Receive


async def whole_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body (already bounded by BodySizeLimit), and whether the client left."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for the next app: `body` first, then whatever the client sends (the
    disconnect Starlette waits for)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
