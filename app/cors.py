"""CORS: which browser pages on other origins may call /graphql (with a bearer token)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.settings import Settings

# Pages served from this machine, on any port (a front end's dev server, say).
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def cors_middleware(settings: Settings) -> Middleware:
    """Answers preflights and marks responses for the allowed origins only; every other origin
    gets no CORS headers (its browser refuses the response) and a 400 for its preflight.
    Tokens travel in the Authorization header, never in cookies: no credentials mode."""
    return Middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins or (),
        allow_origin_regex=LOCAL_ORIGINS if settings.allows_local_cors else None,
        allow_methods=("GET", "POST"),
        allow_headers=("authorization", "content-type", "x-request-id"),
        expose_headers=("x-request-id",),
        max_age=600,
    )
