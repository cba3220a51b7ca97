"""Schemathesis' GraphQL fuzzing of every query and mutation, through the real app (uvicorn on
PostgreSQL + Redis).

A second generator beside ours (tests/api/test_property_based_api.py): schemathesis loads the
schema by introspection from the running server's /graphql and draws whole documents with
hypothesis-graphql, valid ones and ones the schema must refuse. Each operation is called
anonymous and signed in, as a user of its own (so that `logout` or `updateProfile` cannot
spoil another operation's caller). Check (`no_server_error`): never a 5xx, always a JSON
object, no error with extensions.code INTERNAL_SERVER_ERROR or without a code. Expected
errors (BAD_USER_INPUT, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, ...) pass:
schemathesis' own checks are not run, since they count any resolver error as a server error.

Bounded for CI: derandomized (the same cases every run) with MAX_EXAMPLES per operation and
caller: about 40 s on the development machine (60 s with pytest's start-up). 400 random
examples each (6.5 min) found nothing more. A failure shows the request as a curl command.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphql_schema.schema import build_schema
from tests.api.conftest import fuzz_settings
from tests.support.accounts import bearer, signed_up
from tests.support.graphql_fuzz import CONTROL_STRINGS, INT_EDGES, PLAUSIBLE_STRINGS
from tests.support.server import RunningServer, running_server
from tests.support.services import postgres_database, redis_database

MAX_EXAMPLES = 40
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
# Now and then a value our own generator knows to reach deeper code (a tracked symbol, a date,
# NUL) instead of one drawn at random.
CONFIG = schemathesis.Config.from_dict(
    {
        "dictionaries": {
            "strings": {"values": [*PLAUSIBLE_STRINGS, *CONTROL_STRINGS]},
            "integers": {"values": list(INT_EDGES)},
        },
        "generation": {
            "dictionaries": {
                "string": {"dictionary": "strings", "probability": 0.3},
                "integer": {"dictionary": "integers", "probability": 0.3},
            }
        },
    }
)
# The operations are listed from the code's schema at collection time; each test finds its
# operation in the schema the server serves (a KeyError when the server does not serve it).
CODE_SCHEMA = schemathesis.graphql.from_dict(build_schema().introspect())
OPERATIONS = [(root, name) for root in CODE_SCHEMA for name in CODE_SCHEMA[root]]
REQUEST_TIMEOUT_SECONDS = 30


@schemathesis.check
def no_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """A 5xx, a body that is not a JSON object, or an error masked as (or lacking) a code."""
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:2000]}"
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise AssertionError(f"not JSON: {response.text[:2000]}") from None
    assert isinstance(body, dict), f"not a JSON object: {response.text[:2000]}"
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code is not None, f"an error without extensions.code: {error}"
        assert code != "INTERNAL_SERVER_ERROR", f"an internal server error: {error}"


@dataclass
class Served:
    server: RunningServer
    schema: schemathesis.BaseSchema


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[Served]:
    async with postgres_database() as database_url, redis_database() as redis_url:
        settings_ = fuzz_settings(database_url=database_url, redis_url=redis_url)
        async with running_server(settings_) as server:
            # requests blocks: from a thread, while this loop serves the app.
            schema = await asyncio.to_thread(
                schemathesis.graphql.from_url,
                f"{server.base_url}/graphql",
                config=CONFIG,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            yield Served(server, schema)


@pytest.mark.parametrize("caller", ["anonymous", "user"])
@pytest.mark.parametrize(("root", "name"), OPERATIONS, ids=[".".join(o) for o in OPERATIONS])
async def test_no_generated_document_makes_the_server_fail(
    served: Served, root: str, name: str, caller: str
) -> None:
    operation = served.schema[root][name]
    headers = bearer((await signed_up(served.server))[0]) if caller == "user" else {}
    await asyncio.to_thread(_fuzz, operation, headers)


def _fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], headers: dict[str, str]
) -> None:
    """Hypothesis' run over the operation's cases, each sent with `headers`."""
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    with requests.Session() as session:

        @FUZZ
        @given(case=cases)
        def sent(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(
                session=session,
                headers=headers,
                checks=[no_server_error],
                timeout=REQUEST_TIMEOUT_SECONDS,
            )

        sent()


def test_hypothesis_still_shows_the_falsifying_example_after_schemathesis_ran() -> None:
    @settings(database=None, derandomize=True)
    @given(number=st.integers())
    def below_ten(number: int) -> None:
        assert number < 10

    with pytest.raises(AssertionError) as raised:
        below_ten()
    assert "number=10" in "\n".join(getattr(raised.value, "__notes__", [])), raised.value
