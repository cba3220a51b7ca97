from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings

PG = "postgresql+asyncpg://stockql@db/stockql"
STRONG = "s" * 32


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite")
    assert settings.redis_url is None
    assert settings.resolved_provider == "simulator"
    assert settings.runs_worker_in_process is True
    assert settings.migrates_on_start is True
    assert settings.graphiql_enabled is True


def test_symbols_are_read_from_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKQL_SYMBOLS", "aapl, ibm ,,spy")
    assert Settings().symbols == ("AAPL", "IBM", "SPY")


def test_an_api_key_selects_alpha_vantage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKQL_ALPHAVANTAGE_API_KEY", "demo")
    assert Settings().resolved_provider == "alphavantage"


@pytest.mark.parametrize("secret", [None, "", "too-short-secret"])
def test_production_refuses_a_missing_or_short_jwt_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="STOCKQL_JWT_SECRET"):
        Settings(env="production", database_url=PG, jwt_secret=secret)


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="STOCKQL_DATABASE_URL"):
        Settings(env="production", jwt_secret=STRONG)


def test_production_with_a_strong_secret_starts_without_graphiql() -> None:
    settings = Settings(env="production", database_url=PG, jwt_secret=STRONG)
    assert settings.graphiql_enabled is False
    assert settings.migrates_on_start is False


def test_metrics_are_served_in_production_only_with_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().serves_metrics is True
    assert Settings(env="production", database_url=PG, jwt_secret=STRONG).serves_metrics is False
    monkeypatch.setenv("STOCKQL_METRICS_TOKEN", "  ")  # an empty optional variable is unset
    assert Settings(env="production", database_url=PG, jwt_secret=STRONG).metrics_token is None
    monkeypatch.setenv("STOCKQL_METRICS_TOKEN", STRONG)
    assert Settings(env="production", database_url=PG, jwt_secret=STRONG).serves_metrics is True


def test_production_refuses_a_short_metrics_token() -> None:
    with pytest.raises(ValidationError, match="STOCKQL_METRICS_TOKEN"):
        Settings(env="production", database_url=PG, jwt_secret=STRONG, metrics_token="short")


@pytest.mark.parametrize(
    "variable",
    [
        "STOCKQL_WORKER_METRICS_PORT",
        "STOCKQL_QUOTE_POLL_SECONDS",
        "STOCKQL_PROVIDER",
        "STOCKQL_LOG_FORMAT",
        "STOCKQL_GRAPHIQL",
        "STOCKQL_REDIS_URL",
        "STOCKQL_ALPHAVANTAGE_API_KEY",
        "STOCKQL_PORT",
        "STOCKQL_SYMBOLS",
    ],
)
def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv(variable, raising=False)
    unset = Settings()
    monkeypatch.setenv(variable, "")
    assert Settings() == unset
