"""The dashboard at /, its hashed assets and the GraphiQL page, with and without a build."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.api.conftest import api_settings
from tests.support.server import RunningServer, running_server

INDEX = "<!doctype html><title>StockQL</title><script type=module src=/assets/index-1a2b3c.js>"
GRAPHIQL = "<!doctype html><title>StockQL GraphiQL</title><div id=graphiql></div>"
SCRIPT = "console.log('dashboard');\n"
HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
async def built(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A server whose STOCKQL_WEB_DIRECTORY holds a (small, hand-made) build."""
    directory = tmp_path_factory.mktemp("web")
    (directory / "index.html").write_text(INDEX)
    (directory / "graphiql.html").write_text(GRAPHIQL)
    (directory / "assets").mkdir()
    (directory / "assets" / "index-1a2b3c.js").write_text(SCRIPT)
    (directory.parent / "secret.txt").write_text("outside the build")
    async with running_server(_settings(directory, tmp_path_factory)) as running:
        yield running


@pytest.fixture(scope="module")
async def unbuilt(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A server whose web directory does not exist (`make web` never ran)."""
    missing = tmp_path_factory.mktemp("empty") / "dist"
    async with running_server(_settings(missing, tmp_path_factory)) as running:
        yield running


def _settings(web_directory: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    database = tmp_path_factory.mktemp("db") / "stockql.db"
    return api_settings(database_url=f"sqlite+aiosqlite:///{database}", web_directory=web_directory)


async def test_the_dashboard_is_the_built_page_revalidated_every_time(built: RunningServer) -> None:
    response = await built.client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_hashed_assets_are_cached_for_a_year_as_immutable(built: RunningServer) -> None:
    response = await built.client.get("/assets/index-1a2b3c.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"

    again = await built.client.get(
        "/assets/index-1a2b3c.js", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    ["/assets/index-000000.js", "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"],
)
async def test_unknown_or_escaping_asset_paths_are_not_found(
    built: RunningServer, path: str
) -> None:
    response = await built.client.get(path)
    assert response.status_code == 404
    assert "outside the build" not in response.text


async def test_graphiql_is_the_built_page_and_needs_no_cdn(built: RunningServer) -> None:
    response = await built.client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.text == GRAPHIQL
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_without_a_build_the_root_explains_how_to_make_one(unbuilt: RunningServer) -> None:
    response = await unbuilt.client.get("/")
    assert response.status_code == 200
    assert "make web" in response.text
    assert 'href="/graphql"' in response.text
    assert "STOCKQL_WEB_DIRECTORY" in response.text
    assert response.headers["content-security-policy"]


async def test_without_a_build_graphiql_falls_back_and_assets_are_not_found(
    unbuilt: RunningServer,
) -> None:
    page = await unbuilt.client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert "unpkg.com" in page.text  # strawberry's own page

    asset = await unbuilt.client.get("/assets/index-1a2b3c.js")
    assert asset.status_code == 404

    api = await unbuilt.graphql("{ symbols }")
    assert api == {"data": {"symbols": ["AAPL", "MSFT"]}}
