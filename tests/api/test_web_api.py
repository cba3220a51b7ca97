"""The dashboard at /, its hashed assets and the GraphiQL page, with and without a build
(never strawberry's GraphiQL from a CDN), and what a failed or skipped build says."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.requests import Request

from app.graphql_view import GraphQLView
from app.main import create_app
from app.settings import Settings
from graphql_schema.schema import SchemaLimits, build_schema
from tests.api.conftest import api_settings
from tests.support.server import RunningServer, running_server

INDEX = "<!doctype html><title>StockQL</title><script type=module src=/assets/index-1a2b3c.js>"
GRAPHIQL = "<!doctype html><title>StockQL GraphiQL</title><div id=graphiql></div>"
SCRIPT = "console.log('dashboard');\n"
HTML = {"accept": "text/html"}
CDN_HOSTS = ("unpkg.com", "jsdelivr", "cdnjs", "esm.sh")
FAILED_LOG = "\n".join(
    [
        *(f"npm http fetch line {n}" for n in range(40)),
        "\x1b[31mnpm error\x1b[0m <tag> & failed",
        *(f"npm error usage line {n}" for n in range(40)),
    ]
)


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


@pytest.fixture(scope="module")
async def failed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A server whose web build failed at install time: hatch_build.py left its record and
    log, and no pages."""
    directory = tmp_path_factory.mktemp("failed")
    status = {"state": "failed", "reason": "`npm ci` failed with exit status 1"}
    (directory / "build-status.json").write_text(json.dumps(status))
    (directory / "build.log").write_text(FAILED_LOG)
    async with running_server(_settings(directory, tmp_path_factory)) as running:
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
    assert "there is no build in" in response.text
    assert "uv sync --reinstall-package stockql" in response.text
    assert "make web" in response.text
    assert "STOCKQL_WEB_DIRECTORY" in response.text
    assert response.headers["content-security-policy"]


async def test_without_a_build_graphiql_explains_it_and_never_uses_a_cdn(
    unbuilt: RunningServer,
) -> None:
    page = await unbuilt.client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "GraphiQL are not available" in page.text
    assert not [host for host in CDN_HOSTS if host in page.text]
    assert "<script" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    asset = await unbuilt.client.get("/assets/index-1a2b3c.js")
    assert asset.status_code == 404

    api = await unbuilt.graphql("{ symbols }")
    assert api == {"data": {"symbols": ["AAPL", "MSFT"]}}


async def test_a_failed_build_is_explained_with_its_log_from_the_first_error(
    failed: RunningServer,
) -> None:
    for path in ("/", "/graphql"):
        response = await failed.client.get(path, headers=HTML)
        assert response.status_code == 200
        text = response.text
        assert "the web build failed when StockQL was installed" in text, path
        assert "`npm ci` failed with exit status 1" in text
        assert "build.log" in text
        # From the first error on, without terminal colours, escaped as text.
        assert "npm error &lt;tag&gt; &amp; failed" in text
        assert "\x1b" not in text
        assert "npm http fetch" not in text
        assert "npm error usage line 13" in text
        assert "npm error usage line 14" not in text

    api = await failed.graphql("{ symbols }")
    assert api == {"data": {"symbols": ["AAPL", "MSFT"]}}


async def test_a_skipped_build_says_so(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("skipped")
    status = {"state": "skipped", "reason": "STOCKQL_WEB_BUILD=skip was set"}
    (directory / "build-status.json").write_text(json.dumps(status))
    async with running_server(_settings(directory, tmp_path_factory)) as skipped:
        response = await skipped.client.get("/")
    assert "the web build was skipped when StockQL was installed" in response.text
    assert "STOCKQL_WEB_BUILD=skip was set" in response.text


def test_the_server_warns_at_start_up_without_a_build(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path_factory.mktemp("never-built") / "web_dist"
    with caplog.at_level(logging.WARNING, logger="app.main"):
        create_app(_settings(missing, tmp_path_factory))
    assert f"there is no build in {missing}" in caplog.text


async def test_a_view_without_a_graphiql_page_answers_not_found_not_a_cdn_page() -> None:
    view = GraphQLView(build_schema(SchemaLimits()), graphql_ide="graphiql")
    request = Request({"type": "http", "method": "GET", "path": "/graphql", "headers": []})
    response = await view.render_graphql_ide(request)
    assert response.status_code == 404
    assert not [host for host in CDN_HOSTS if host.encode() in response.body]
