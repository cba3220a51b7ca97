"""Subscription payload types for tests of shared event execution and direct delivery: one
marked `@shared_by_subscribers`, one not, and the Query a strawberry schema needs."""

import strawberry

from graphql_schema.fanout.payloads import shared_by_subscribers


@shared_by_subscribers
@strawberry.type
class Tick:
    symbol: str
    price: float


@strawberry.type
class PrivateTick:
    symbol: str
    price: float


@strawberry.type
class Query:
    ok: bool = True
