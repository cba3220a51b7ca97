"""The layers import inward only (docs/ARCHITECTURE.md): `domain` knows no framework, no
storage and no other layer; `resolvers` and `graphql_schema` reach storage and the network
only through the domain's ports, never through an adapter or its driver. Every import is
checked, those inside functions included, so a shortcut fails here and not in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Drivers and clients of the services: only app/ (the adapters) may use them.
STORAGE_AND_NETWORK = {
    "aiohttp",
    "alembic",
    "asyncpg",
    "broadcaster",
    "motor",
    "pymongo",
    "redis",
    "sqlalchemy",
    "sqlmodel",
}
# The web and GraphQL frameworks and the process's plumbing.
FRAMEWORKS = {
    "graphql",
    "prometheus_client",
    "starlette",
    "strawberry",
    "typer",
    "uvicorn",
    "websockets",
}
FORBIDDEN = {
    "domain": FRAMEWORKS | STORAGE_AND_NETWORK | {"app", "graphql_schema", "resolvers"},
    "resolvers": STORAGE_AND_NETWORK | {"app"},
    # graphql_schema/schema.py assembles the resolvers into the schema: that one is allowed.
    "graphql_schema": STORAGE_AND_NETWORK | {"app"},
}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every absolute import in the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_outside_its_allowance(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files under {layer}/"
    crossings = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if module in FORBIDDEN[layer]
    ]
    assert not crossings, "\n".join(crossings)


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from sqlalchemy import select\n    import redis.asyncio\n")
    assert list(imported_modules(sample)) == [(2, "sqlalchemy"), (3, "redis")]
