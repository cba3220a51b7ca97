"""The `stockql` command line against real databases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from app.cli import cli
from app.logs import configure_logging
from graphql_schema.schema import export_sdl
from tests.api.conftest import api_settings
from tests.support.graphql import data
from tests.support.sample_stocks import BARS, FIRST_DAY, LAST_DAY, write_sample_csv
from tests.support.server import running_server

GOOD_CSV = """date,open,high,low,close,volume
2024-01-02,100,101,99,100.5,1000
2024-01-03,100.5,102,100,101.5,1200
2024-01-04,101.5,103,101,102.5,900
"""

BAD_CSV = """date,open,high,low,close,volume
2024-01-02,100,101,99,100.5,1000
2024-01-03,abc,102,100,101.5,1200
2024-01-04,101.5,100,101,102.5,900
"""


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def invoke(*args: str, database_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"STOCKQL_DATABASE_URL": database_url})
    restore_logging()
    return result.exit_code, result.output


def restore_logging() -> None:
    """Commands configure logging onto CliRunner's stderr, closed once they return: point it
    back at the test's, so that later log lines of this process can be written."""
    configure_logging(level="warning", log_format="console")


def test_schema_prints_the_sdl() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == export_sdl()


def test_migrate_creates_the_tables_and_checks_clean(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    code, output = invoke("migrate", "--check", database_url=url)
    assert code == 0, output
    engine = create_engine(sync_url(url))
    try:
        assert {"bars", "bar_fetches", "alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_import_csv_on_postgresql_stores_every_row(tmp_path: Path, pg_url: str) -> None:
    csv = tmp_path / "ibm.csv"
    csv.write_text(GOOD_CSV)
    assert invoke("migrate", database_url=pg_url)[0] == 0
    code, output = invoke("import-csv", str(csv), "--symbol", "ibm", database_url=pg_url)
    assert code == 0, output
    assert "imported 3 daily bars of IBM" in output


def test_import_csv_with_bad_rows_reports_lines_and_imports_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    csv = tmp_path / "bad.csv"
    csv.write_text(BAD_CSV)
    code, output = invoke("import-csv", str(csv), "--symbol", "IBM", database_url=url)
    assert code == 1
    assert f"{csv}:3:" in output
    assert f"{csv}:4:" in output
    assert "nothing imported" in output
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if "bars" in tables:
                assert connection.execute(text("SELECT count(*) FROM bars")).scalar_one() == 0
    finally:
        engine.dispose()


def test_import_csv_refuses_a_bad_symbol(tmp_path: Path) -> None:
    csv = tmp_path / "ibm.csv"
    csv.write_text(GOOD_CSV)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    code, _ = invoke("import-csv", str(csv), "--symbol", "no way!", database_url=url)
    assert code == 2


async def test_imported_bars_are_served_by_the_api(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    csv = tmp_path / "acme.csv"
    csv.write_text(GOOD_CSV)
    # The command runs its own event loop: keep it off the test's loop.
    code, output = await asyncio.to_thread(
        invoke, "import-csv", str(csv), "--symbol", "ACME", database_url=url
    )
    assert code == 0, output
    settings = api_settings(database_url=url, provider="csv", csv_directory=str(tmp_path / "none"))
    async with running_server(settings) as server:
        body = await server.graphql('{ history(symbol: "ACME") { source bars { close } } }')
    history = data(body)["history"]
    assert history["source"] == "csv"
    assert [bar["close"] for bar in history["bars"]] == [100.5, 101.5, 102.5]


async def test_create_admin_reads_the_password_from_stdin_and_can_sign_in(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    env = {"STOCKQL_DATABASE_URL": url, "STOCKQL_PASSWORD_TIME_COST": "1"}

    def create(email: str, password: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            cli,
            ["users", "create-admin", "--email", email, "--name", "Root"],
            input=password + "\n",
            env=env,
        )
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(create, "root@example.com", "a long admin secret")
    assert code == 0, output
    assert "a long admin secret" not in output
    assert (await asyncio.to_thread(create, "ROOT@example.com", "another secret!"))[0] == 1
    code, output = await asyncio.to_thread(create, "second@example.com", "short")
    assert code == 1
    assert "password" in output
    async with running_server(api_settings(database_url=url)) as server:
        body = await server.graphql(
            "mutation($input: LoginInput!) { login(input: $input)"
            " { ... on AuthPayload { user { role } } } }",
            {"input": {"email": "root@example.com", "password": "a long admin secret"}},
        )
    assert data(body)["login"]["user"]["role"] == "ADMIN"


async def test_train_stores_an_active_model_that_predict_and_backtest_use(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'train.db'}"
    env = {"STOCKQL_DATABASE_URL": url, "STOCKQL_SYMBOLS": "AAPL,MSFT"}

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env)
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(
        run, "train", "--algorithms", "logistic_regression", "--refit-every", "500"
    )
    assert code == 0, output
    assert "active" in output
    png = tmp_path / "equity.png"
    code, output = await asyncio.to_thread(
        run, "backtest", "AAPL", "--method", "MODEL", "--start", "2022-01-03", "--output", str(png)
    )
    assert code == 0, output
    assert "balanced accuracy" in output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    async with running_server(api_settings(database_url=url)) as server:
        info = data(await server.graphql("{ modelInfo { version algorithm symbols pooled } }"))
        made = data(
            await server.graphql(
                'mutation { predict(input: {symbol: "AAPL"}) '
                "{ ... on Prediction { method modelVersion } } }"
            )
        )
    assert info["modelInfo"]["algorithm"] == "logistic_regression"
    assert info["modelInfo"]["symbols"] == ["AAPL", "MSFT"]
    assert made["predict"] == {"method": "MODEL", "modelVersion": info["modelInfo"]["version"]}


async def test_train_and_backtest_use_every_imported_bar_and_say_where_they_are_from(
    tmp_path: Path,
) -> None:
    """20 years ago is as good as yesterday: the simulator (the default provider) stands in
    for nothing that was imported, and the commands print what they used."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    env = {"STOCKQL_DATABASE_URL": url, "STOCKQL_SYMBOLS": "AAPL"}

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env)
        restore_logging()
        return result.exit_code, result.output

    csv = write_sample_csv(tmp_path / "AAPL.csv", "AAPL")
    code, output = await asyncio.to_thread(run, "import-csv", str(csv), "--symbol", "AAPL")
    assert code == 0, output
    used = f"AAPL: {BARS:,} daily bars {FIRST_DAY} .. {LAST_DAY} from csv"

    code, output = await asyncio.to_thread(
        run, "train", "--symbols", "AAPL", "--algorithms", "logistic_regression"
    )
    assert code == 0, output
    assert used in output
    png = tmp_path / "equity.png"
    code, output = await asyncio.to_thread(
        run, "backtest", "AAPL", "--method", "MODEL", "--output", str(png)
    )
    assert code == 0, output
    assert used in output
    assert "balanced accuracy" in output
    code, output = await asyncio.to_thread(
        run,
        "backtest",
        "aapl",  # any case: the output names the symbol upper-case
        "--start",
        "2005-01-01",
        "--end",
        "2005-12-31",
        "--output",
        str(png),
    )
    assert code == 0, output
    assert "AAPL: 252 daily bars 2005-01-03 .. 2005-12-30 from csv" in output
    code, output = await asyncio.to_thread(
        run, "backtest", "AAPL", "--start", "2020-01-01", "--output", str(png)
    )
    assert code == 1
    assert (
        f"AAPL: no daily bars in the requested range; csv has {FIRST_DAY} .. {LAST_DAY}" in output
    )
    assert "error: At least 2 data points are needed, 0 were given" in output

    async with running_server(api_settings(database_url=url)) as server:
        info = data(await server.graphql("{ modelInfo { symbols } }"))
    assert info["modelInfo"]["symbols"] == ["AAPL"]


async def test_evaluate_reports_every_symbol_and_refit_and_activates_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'evaluate.db'}"
    for ticker in ("AAPL", "IBM"):
        csv = write_sample_csv(tmp_path / f"{ticker}.csv", ticker, rows=1100)
        code, output = await asyncio.to_thread(
            invoke, "import-csv", str(csv), "--symbol", ticker, database_url=url
        )
        assert code == 0, output
    report = tmp_path / "report"

    code, output = await asyncio.to_thread(
        invoke,
        *("evaluate", "--symbols", "AAPL,IBM", "--algorithms", "logistic_regression"),
        *("--min-train", "300", "--refit-every", "200", "--output", str(report)),
        database_url=url,
    )

    assert code == 0, output
    assert "AAPL: 1,100 daily bars" in output
    assert "per symbol (out of sample)" in output
    written = json.loads((report / "evaluation.json").read_text())
    assert [e["symbol"] for e in written["symbol_evaluations"]] == ["AAPL", "IBM"]
    pooled = written["pooled"]["model"]
    assert sum(e["test_rows"] for e in written["symbol_evaluations"]) == pooled["samples"]
    assert sum(r["test_rows"] for r in written["refits"]) == pooled["samples"]
    assert len(written["refits"]) >= 3
    assert written["pooled"]["majority"]["samples"] == pooled["samples"]
    assert (report / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    async with running_server(api_settings(database_url=url)) as server:
        info = data(await server.graphql("{ modelInfo { version } }"))
    assert info["modelInfo"] is None


async def test_evaluate_without_stored_history_for_a_symbol_is_one_line_of_error(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unknown.db'}"
    code, output = await asyncio.to_thread(
        invoke, "evaluate", "--symbols", "NOSUCH", "--output", str(tmp_path), database_url=url
    )
    assert code == 1
    assert "error: Unknown symbol NOSUCH" in output
    assert "Traceback" not in output


async def test_train_on_an_unknown_symbol_is_one_line_of_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unknown.db'}"
    code, output = await asyncio.to_thread(invoke, "train", "--symbols", "NOSUCH", database_url=url)
    assert code == 1
    assert "error: Unknown symbol NOSUCH" in output
    assert "Traceback" not in output
