"""`uv build` makes a wheel that holds the built dashboard and GraphiQL; pip installs it into
an empty virtual environment, and `stockql serve` started from another directory serves both
pages from the installed package, with nothing from a CDN. A wheel whose web build failed
still installs and serves the API, and its / says what went wrong.

Slow by nature (a wheel build, a venv with every dependency, real servers): about two
minutes when the web build in app/web_dist is up to date, a minute more when it is not."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.processes import running_stockql
from tests.support.server import free_port

pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
WEB_DIST = "app/web_dist"
# npm ci and vite on a busy two-core machine when the build is not up to date.
BUILD_WITHIN = 900
# pip downloads (or takes from its cache) every dependency: numpy, scikit-learn, ...
INSTALL_WITHIN = 600
CDN_HOSTS = ("unpkg.com", "jsdelivr", "cdnjs", "esm.sh")
HTML = {"accept": "text/html"}
ASSET_REFERENCE = re.compile(r'(?:src|href)="(/assets/[^"]+)"')


def run(command: list[str | Path], *, cwd: Path, timeout: float, **env: str) -> str:
    """Run `command`; its output is the assertion message when it fails."""
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{command} exited {completed.returncode}:\n{output}"
    return output


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Ours without STOCKQL_* settings and without this test run's virtual environment."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("STOCKQL_") and name != "VIRTUAL_ENV"
    }
    return kept | dict(extra)


def wheel_pages(wheel: Path) -> dict[str, bytes]:
    """Every file of app/web_dist in `wheel`, by its path inside app/web_dist."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.removeprefix(WEB_DIST + "/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith(WEB_DIST + "/")
        }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv build` of this checkout: an sdist, then the wheel built from that sdist. The web
    build is required here, so that a failing one fails this test with its reason."""
    output = tmp_path_factory.mktemp("dist")
    run(
        [UV, "build", "--out-dir", output],
        cwd=ROOT,
        timeout=BUILD_WITHIN,
        STOCKQL_WEB_BUILD="required",
    )
    (built,) = output.glob("stockql-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """`pip install` of the wheel into an empty virtual environment; its `stockql`."""
    venv = tmp_path_factory.mktemp("pip-venv")
    run([sys.executable, "-m", "venv", venv], cwd=venv, timeout=120)
    pip: list[str | Path] = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", wheel], cwd=venv, timeout=INSTALL_WITHIN)
    return venv / "bin" / "stockql"


def test_the_wheel_holds_the_built_dashboard_and_graphiql(wheel: Path) -> None:
    files = wheel_pages(wheel)
    status = json.loads(files["build-status.json"])
    assert status["state"] == "built", status
    for page in ("index.html", "graphiql.html"):
        referenced = ASSET_REFERENCE.findall(files[page].decode())
        assert referenced, f"{page} loads no built script"
        for asset in referenced:
            assert asset.removeprefix("/") in files, f"{page} needs {asset}, not in the wheel"


async def test_the_installed_wheel_serves_both_pages_from_any_directory(
    installed: Path, wheel: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        [
            installed.with_name("python"),
            "-c",
            "import app.web; print(app.web.DEFAULT_WEB_DIRECTORY)",
        ],
        cwd=elsewhere,
        timeout=60,
    )
    assert Path(where.strip()).is_relative_to(installed.parents[1]), "not the installed package"

    files = wheel_pages(wheel)
    env = {"STOCKQL_PORT": str(free_port()), "STOCKQL_LOG_LEVEL": "warning"}
    async with running_stockql(
        "serve", env, directory=tmp_path, executable=installed, cwd=elsewhere
    ) as server:
        assert server.client is not None
        dashboard = await server.client.get("/")
        assert dashboard.status_code == 200
        assert dashboard.content == files["index.html"]
        graphiql = await server.client.get("/graphql", headers=HTML)
        assert graphiql.status_code == 200
        assert graphiql.content == files["graphiql.html"]
        assert "script-src 'self'" in graphiql.headers["content-security-policy"]
        for page in (dashboard, graphiql):
            assert not [host for host in CDN_HOSTS if host in page.text]
            for asset in ASSET_REFERENCE.findall(page.text):
                response = await server.client.get(asset)
                assert response.status_code == 200, asset
                assert response.content == files[asset.removeprefix("/")]

        # The SQLite database of the embedded defaults was made (migrated) in `elsewhere`.
        body = await server.graphql('{ latestPrice(symbol: "MSFT") { price } }')
        assert body["data"]["latestPrice"]["price"] > 0, body
    assert (elsewhere / "stockql.db").is_file()


async def test_a_wheel_whose_web_build_failed_installs_and_explains_it(
    wheel: Path, tmp_path: Path
) -> None:
    # The sdist next to the wheel, with its build removed and a lock file npm refuses.
    (sdist,) = wheel.parent.glob("stockql-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "source", filter="data")
    (source,) = (tmp_path / "source").iterdir()
    shutil.rmtree(source / WEB_DIST)
    (source / "web" / "package-lock.json").write_text("{ this is not json")
    output = tmp_path / "dist"
    run([UV, "build", "--wheel", "--out-dir", output], cwd=source, timeout=BUILD_WITHIN)
    (broken,) = output.glob("stockql-*.whl")
    files = wheel_pages(broken)
    assert json.loads(files["build-status.json"])["state"] == "failed"
    assert "index.html" not in files

    # uv's installer with its cache: the pip path is the test above, this one is about the
    # wheel's content.
    venv = tmp_path / "venv"
    run([UV, "venv", "--quiet", "--python", sys.executable, venv], cwd=tmp_path, timeout=120)
    run(
        [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", broken],
        cwd=tmp_path,
        timeout=INSTALL_WITHIN,
    )
    env = {"STOCKQL_PORT": str(free_port()), "STOCKQL_LOG_LEVEL": "warning"}
    async with running_stockql(
        "serve", env, directory=tmp_path, executable=venv / "bin" / "stockql", cwd=tmp_path
    ) as server:
        assert server.client is not None
        for path in ("/", "/graphql"):
            page = await server.client.get(path, headers=HTML)
            assert page.status_code == 200
            assert "the web build failed when StockQL was installed" in page.text, path
            assert "`npm ci --no-audit --no-fund` failed with exit status 1" in page.text
            assert "package-lock.json" in page.text  # npm's own words, from the log
        body = await server.graphql("{ symbols }")
        assert "AAPL" in body["data"]["symbols"]
    assert "no web dashboard and GraphiQL" in server.output()
