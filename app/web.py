"""The dashboard at / and the offline GraphiQL page, both built from web/ by `make web`.

The build is static: two HTML pages that are never cached (so a new build shows at once) and
content-hashed files under /assets/ that are cached for a year. Without a build, / explains
how to make one and GET /graphql falls back to strawberry's GraphiQL page from a CDN.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# The repository's web/dist beside the app package; the Docker image keeps the same layout
# (/app/app next to /app/web/dist), since the project is installed editable there too.
DEFAULT_WEB_DIRECTORY = Path(__file__).resolve().parent.parent / "web" / "dist"

DASHBOARD_PAGE = "index.html"
GRAPHIQL_PAGE = "graphiql.html"

# Bundled pages need no inline script or style. 'self' in connect-src also covers the
# same-origin ws:// and wss:// websocket; fonts and icons come as data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "cache-control": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# File names carry a hash of their content: a changed file is a new URL.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"


class WebBuild:
    """The built pages in `directory` (web/dist), read at each request: rebuilding needs no
    restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def page(self, name: str) -> Response | None:
        """The built page `name` with its security headers; None when it was not built."""
        try:
            content = await anyio.Path(self.directory / name).read_bytes()
        except FileNotFoundError:
            return None
        return HTMLResponse(content, headers=PAGE_HEADERS)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self._dashboard, methods=["GET", "HEAD"]),
            Mount("/assets", app=HashedAssets(directory=self.directory / "assets")),
        ]

    async def _dashboard(self, _request: Request) -> Response:
        return await self.page(DASHBOARD_PAGE) or self._not_built()

    def _not_built(self) -> Response:
        return HTMLResponse(NOT_BUILT, headers=PAGE_HEADERS)


class HashedAssets(StaticFiles):
    """Content-hashed build files, cached for a year; a missing build answers 404."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)
        # Starlette's check answers HTTP 500 for a missing directory; here that only means
        # "not built yet", and every file is simply not found.
        self.config_checked = True

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = ASSET_CACHE_CONTROL
        return response


NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>StockQL</title></head>
<body>
<h1>StockQL</h1>
<p>The web dashboard has not been built yet.</p>
<p>Build it with <code>make web</code> (runs <code>npm ci &amp;&amp; npm run build</code> in
<code>web/</code>; needs Node.js 20) and reload, or point <code>STOCKQL_WEB_DIRECTORY</code> at
a build.</p>
<p>The API works without it at <code>/graphql</code>, and so does
<a href="/graphql">GraphiQL</a> where it is enabled (from a CDN until the build exists).</p>
</body>
</html>
"""
