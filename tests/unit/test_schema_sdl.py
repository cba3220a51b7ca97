"""The committed SDL matches the code, and covers the contract's market data operations."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from graphql import build_schema

from graphql_schema.schema import SDL_PATH, export_sdl

CONTRACT_TOOL = Path(__file__).resolve().parents[3] / "shared" / "tools" / "contract_check.py"
CONTRACT = CONTRACT_TOOL.parents[1] / "contract" / "schema.graphql"

# The contract types and root fields this server implements so far.
IMPLEMENTED = (
    "Interval",
    "Bar",
    "BarColumns",
    "IndicatorPoint",
    "MacdPoint",
    "BollingerPoint",
    "PriceHistory",
    "Quote",
    "SymbolMatch",
    "ClearCacheResult",
    "DateTime",
    "Date",
    "Query.history",
    "Query.latestPrice",
    "Query.searchSymbols",
    "Query.symbols",
    "Mutation.clearCache",
    "Role",
    "User",
    "AuthPayload",
    "Error",
    "FieldError",
    "ValidationError",
    "EmailTakenError",
    "InvalidCredentialsError",
    "RateLimitedError",
    "RegisterResult",
    "LoginResult",
    "UpdateProfileResult",
    "RegisterInput",
    "LoginInput",
    "UpdateProfileInput",
    "Query.me",
    "Mutation.register",
    "Mutation.login",
    "Mutation.updateProfile",
    "Mutation.addToWatchlist",
    "Mutation.removeFromWatchlist",
    "JSON",
    "NotFoundError",
    "AlertCondition",
    "AlertFrequency",
    "Alert",
    "CreateAlertInput",
    "CreateAlertResult",
    "NotificationType",
    "Notification",
    "Query.notifications",
    "Mutation.createAlert",
    "Mutation.deleteAlert",
    "Mutation.markNotificationsRead",
)
# Contract names of implemented types that arrive with a later capability.
PENDING: tuple[str, ...] = ()


def test_committed_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == export_sdl(), (
        "graphql_schema/schema.graphql is out of date: run `stockql schema --output "
        "graphql_schema/schema.graphql`"
    )


def _contract_tool() -> ModuleType:
    if not CONTRACT_TOOL.exists():
        pytest.skip("the shared contract is not beside this checkout")
    spec = importlib.util.spec_from_file_location("contract_check", CONTRACT_TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sdl_has_every_contract_name_of_the_implemented_operations() -> None:
    tool = _contract_tool()
    gaps: list[str] = tool.gaps(
        build_schema(CONTRACT.read_text(encoding="utf-8")),
        build_schema(SDL_PATH.read_text(encoding="utf-8")),
    )
    mine = [
        gap
        for gap in gaps
        if gap not in PENDING
        and any(
            gap.removeprefix("type ").split(" ")[0].split(":")[0].split("(")[0]
            in (name, f"{name}.")
            or gap.startswith(f"{name}.")
            for name in IMPLEMENTED
        )
    ]
    assert mine == []
