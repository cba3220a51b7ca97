"""What the deployment tests compare the deployment files with: the Dockerfile's facts, the
Settings fields, and Settings read from a given environment (as a container would get it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"

# Every STOCKQL_* variable the app reads; any other name would be silently ignored.
SETTING_VARIABLES = frozenset(f"STOCKQL_{name.upper()}" for name in Settings.model_fields)
# A name ends in a letter or digit, so prose such as "STOCKQL_*" is not taken for one.
_VARIABLE = re.compile(r"\bSTOCKQL_[A-Z0-9_]*[A-Z0-9]\b")


def variables_named_in(text: str) -> set[str]:
    """The STOCKQL_* names in `text`, comments included (a commented-out example gets used)."""
    return set(_VARIABLE.findall(text))


def exposed_port() -> int:
    """The port the image's EXPOSE line announces (the server's STOCKQL_PORT)."""
    ports = re.findall(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert len(ports) == 1, "the Dockerfile exposes exactly one port"
    return int(ports[0])


def image_user_id() -> int:
    """The uid of the non-root user the image runs as (useradd --uid)."""
    match = re.search(r"useradd\b.*--uid\s+(\d+)", DOCKERFILE.read_text())
    assert match, "the Dockerfile creates its user with an explicit --uid"
    return int(match[1])


def dockerfile_stages() -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE))


def settings_from_environment(
    monkeypatch: pytest.MonkeyPatch, environment: Mapping[str, str]
) -> Settings:
    """Settings read from exactly `environment`, as in a container: the test process's own
    STOCKQL_* variables are removed first."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()
