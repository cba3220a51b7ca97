"""docker-compose.yml without Docker: the stack starts in the right order, every long-running
service is health-checked, the servers run in production mode on settings that exist, and no
secret is committed (they come from .env, documented by .env.example)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.support.deployment import (
    ROOT,
    SETTING_VARIABLES,
    dockerfile_stages,
    exposed_port,
    settings_from_environment,
    variables_named_in,
)

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# Services that may go without a health check, and why.
UNCHECKED = {"migrate": "one-shot", "worker": "serves no HTTP"}
DATA_SERVICES = {"postgres", "redis", "mongo"}
# The compose-spec service keys this file uses (a subset of the specification's).
SERVICE_KEYS = {
    "build",
    "command",
    "depends_on",
    "environment",
    "healthcheck",
    "image",
    "ports",
    "restart",
    "stop_grace_period",
    "volumes",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY")
# Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}.
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<operator>:[-?])(?P<argument>[^}]*))?\}")


class MissingVariable(Exception):
    """Compose refuses to start: a ${NAME:?error} variable is unset or empty."""


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if variables.get(match["name"]):
            return variables[match["name"]]
        if match["operator"] == ":?":
            raise MissingVariable(match["argument"])
        return match["argument"] or ""

    return INTERPOLATION.sub(substitute, value)


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def stockql_services() -> dict[str, dict[str, Any]]:
    """The services that run the image built from this repository."""
    return {name: service for name, service in services().items() if "build" in service}


def servers() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in stockql_services().items() if s["command"] == ["serve"]}


def env_example() -> dict[str, str]:
    lines = (line.strip() for line in ENV_EXAMPLE.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return dict(pairs)


def filled_in_env() -> dict[str, str]:
    """.env.example with every variable compose requires (${NAME:?...}) set; the rest empty."""
    required = {
        match["name"]
        for match in INTERPOLATION.finditer(COMPOSE.read_text())
        if match["operator"] == ":?"
    }
    return {name: "x" * 48 if name in required else "" for name in env_example()}


def container_environment(service: dict[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """The service's environment as compose hands it to the container, given .env's variables."""
    return {name: interpolate(value, variables) for name, value in service["environment"].items()}


def test_long_running_services_are_health_checked() -> None:
    for name, service in services().items():
        if name in UNCHECKED:
            # The image's HEALTHCHECK asks /healthz, which these never serve.
            assert service["healthcheck"] == {"disable": True}, name
        else:
            assert service["healthcheck"]["test"][0] == "CMD", name


def test_migration_runs_once_after_postgres_is_healthy() -> None:
    migrate = services()["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_servers_and_worker_start_after_the_migration_completes() -> None:
    for name, service in stockql_services().items():
        if name == "migrate":
            continue
        dependencies = service["depends_on"]
        assert dependencies["migrate"] == {"condition": "service_completed_successfully"}, name
        for dependency in dependencies.keys() & DATA_SERVICES:
            assert dependencies[dependency] == {"condition": "service_healthy"}, name
    assert [service["command"] for service in stockql_services().values()].count(["worker"]) == 1


def test_two_servers_answer_on_their_own_loopback_ports_and_report_readiness() -> None:
    port = exposed_port()
    host_ports = set()
    for name, server in servers().items():
        (mapping,) = server["ports"]
        host, host_port, container_port = mapping.split(":")
        assert (host, container_port) == ("127.0.0.1", str(port)), name
        host_ports.add(host_port)
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(server["healthcheck"]["test"]), name
    assert len(host_ports) == len(servers()) == 2


def test_every_stockql_variable_is_a_setting() -> None:
    named = variables_named_in(COMPOSE.read_text()) | variables_named_in(ENV_EXAMPLE.read_text())
    assert named <= SETTING_VARIABLES, f"not settings: {sorted(named - SETTING_VARIABLES)}"


def test_filled_in_env_makes_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, service in stockql_services().items():
        environment = container_environment(service, filled_in_env())
        settings = settings_from_environment(monkeypatch, environment)
        assert settings.env == "production", name
        assert settings.database_url.startswith("postgresql+asyncpg://"), name
        assert settings.redis_url, name
        assert settings.mongodb_url, name
        assert settings.resolved_provider == "simulator", name
        assert (settings.migrates_on_start, settings.runs_worker_in_process) == (False, False)


def test_servers_get_longer_than_their_graceful_shutdown_when_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, server in servers().items():
        settings = settings_from_environment(
            monkeypatch, container_environment(server, filled_in_env())
        )
        grace = re.fullmatch(r"(\d+)s", server["stop_grace_period"])
        assert grace, name
        assert int(grace[1]) > settings.shutdown_timeout_seconds, name


def test_the_unedited_env_example_is_refused() -> None:
    for service in stockql_services().values():
        with pytest.raises(MissingVariable, match="STOCKQL_JWT_SECRET"):
            interpolate(service["environment"]["STOCKQL_JWT_SECRET"], env_example())


def test_a_short_jwt_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    (server, *_) = servers().values()
    variables = {**filled_in_env(), "STOCKQL_JWT_SECRET": "short"}
    environment = container_environment(server, variables)
    with pytest.raises(ValidationError, match="STOCKQL_JWT_SECRET"):
        settings_from_environment(monkeypatch, environment)


def test_no_secret_is_committed() -> None:
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} comes from .env"
            credentials = re.search(r"://[^/@:]*:(?P<password>[^@]*)@", value)
            if credentials:
                assert INTERPOLATION.fullmatch(credentials["password"]), f"{name}: {key}"
    assert all(value == "" for value in env_example().values()), ".env.example has no values"


def test_services_use_only_keys_compose_knows() -> None:
    # Without Docker nothing else would notice a typo such as `depend_on`: compose would
    # start the servers before the migration.
    for name, service in services().items():
        assert service.keys() <= SERVICE_KEYS, f"{name}: {sorted(service.keys() - SERVICE_KEYS)}"


def test_images_are_pinned_and_the_build_names_its_stage() -> None:
    for name, service in services().items():
        tag = service["image"].partition(":")[2]
        assert tag not in {"", "latest"}, f"{name}: {service['image']}"
    for name, service in stockql_services().items():
        assert service["build"]["target"] in dockerfile_stages(), name
