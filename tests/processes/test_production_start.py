"""`stockql serve` in production refuses settings that are unsafe there: a real process
exits with status 2 and one line per problem on stderr, without a traceback or a secret."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.processes import STOCKQL, stockql_env

# Never connected to: the settings are refused before anything opens.
SERVER_DATABASE = "postgresql+asyncpg://stockql:database-password@127.0.0.1:1/stockql"
WEAK_SECRET = "only-twenty-bytes-ab"
# Importing Python and reading settings, on a busy machine.
REFUSES_WITHIN = 60.0


def refusal(**values: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("STOCKQL_")}
    env |= stockql_env(env="production", **values)
    return subprocess.run(
        [str(STOCKQL), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=REFUSES_WITHIN,
        check=False,
    )


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"database_url": SERVER_DATABASE, "jwt_secret": ""}, "STOCKQL_JWT_SECRET"),
        ({"database_url": SERVER_DATABASE, "jwt_secret": WEAK_SECRET}, "STOCKQL_JWT_SECRET"),
        ({}, "STOCKQL_DATABASE_URL"),
    ],
    ids=["no-secret", "weak-secret", "sqlite"],
)
def test_production_refuses_unsafe_settings_in_one_line(
    values: dict[str, str], variable: str
) -> None:
    refused = refusal(**values)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith(f"stockql: {variable} "), lines[0]
    assert "Traceback" not in refused.stderr
    everything = refused.stdout + refused.stderr
    assert WEAK_SECRET not in everything
    assert "database-password" not in everything


def test_an_invalid_setting_is_named_with_its_variable() -> None:
    refused = refusal(database_url=SERVER_DATABASE, port="99999")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == (
        "stockql: STOCKQL_PORT: Input should be less than or equal to 65535"
    )
