"""Liveness (/healthz: the process answers) and readiness (/readyz: its dependencies answer)."""

from starlette.requests import Request
from starlette.responses import JSONResponse


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    checks = await request.app.state.runtime.check_ready()
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
