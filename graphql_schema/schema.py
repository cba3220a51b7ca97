"""The Schema: root types composed from the per-domain resolver classes, limits and errors."""

import re
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from graphql_schema.context import Context
from graphql_schema.control_characters import NoControlCharactersRule
from graphql_schema.error_masking import client_error, is_expected, log
from graphql_schema.execution import execution_context_class
from graphql_schema.fanout.direct import DirectSubscriptions
from graphql_schema.parsed_documents import ParsedDocuments, RememberParsedDocuments
from graphql_schema.query_cost import CostLimits
from graphql_schema.scalars import scalar_map
from graphql_schema.trusted_documents import trusted_documents_rule
from graphql_schema.types.errors import exception_handlers
from graphql_schema.warnings import OperationWarnings
from resolvers.alerts import AlertsMutation
from resolvers.market import MarketMutation, MarketQuery
from resolvers.notifications import NotificationsMutation, NotificationsQuery
from resolvers.predictions import PredictionsMutation, PredictionsQuery
from resolvers.realtime import RealtimeSubscription
from resolvers.users import UsersMutation, UsersQuery

SDL_PATH = Path(__file__).with_name("schema.graphql")
# Distinct documents whose parsing and validation are remembered (bounded: clients may send
# any text).
VALIDATION_CACHE_SIZE = 512
PARSED_DOCUMENTS = 512


@strawberry.type
class Query(MarketQuery, UsersQuery, NotificationsQuery, PredictionsQuery):
    pass


@strawberry.type
class Mutation(
    UsersMutation, MarketMutation, AlertsMutation, NotificationsMutation, PredictionsMutation
):
    pass


@strawberry.type
class Subscription(RealtimeSubscription):
    pass


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    max_depth: int = 12
    max_tokens: int = 4000
    max_aliases: int = 30
    # False refuses __schema and __type in every document (__typename still works).
    introspection: bool = True
    # SHA-256 hashes of the only documents that run (STOCKQL_TRUSTED_DOCUMENTS); None: any.
    trusted_documents: frozenset[str] | None = None
    # Values an operation's answer may hold at most (graphql_schema/query_cost.py).
    max_cost: int = 500_000
    max_history_rows: int = 20_000


class StockQLSchema(strawberry.Schema):
    def __init__(
        self,
        *args: Any,
        on_error_code: Callable[[str], None] | None = None,
        hide_suggestions: bool = False,
        parsed_documents: ParsedDocuments | None = None,
        **kwargs: Any,
    ) -> None:
        """`on_error_code` is called with the extensions.code of every error sent to a client;
        `hide_suggestions` drops graphql-core's "Did you mean ...?" from messages (with
        introspection off they would reveal the schema's names one guess at a time);
        `parsed_documents`, the cache its RememberParsedDocuments fills, lets subscriptions
        it ran before start directly (graphql_schema/fanout/direct.py)."""
        super().__init__(*args, **kwargs)
        self._on_error_code = on_error_code
        self._hide_suggestions = hide_suggestions
        self.direct_subscriptions = (
            DirectSubscriptions(self, parsed_documents, max_known=PARSED_DOCUMENTS)
            if parsed_documents is not None
            else None
        )

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Queries and mutations: one result each. strawberry's HTTP view lets a subscription
        sent as plain JSON reach here (only its multipart transport streams them), and
        graphql-core would then fail on the subscription's event stream with an internal
        error; it is refused as an operation type not allowed instead (HTTP 400). So is an
        operationName that is not a string: the view checks the types of query and variables
        only, and the extensions expect a name or nothing."""
        if not isinstance(operation_name, str | None):
            raise CannotGetOperationTypeError(None)
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> StreamResult:
        """Any operation over a websocket. A subscribe message may carry any JSON as its
        query and variables, and strawberry fails on a missing or non-string query, and
        graphql-core on variables that are not an object, with an internal error: they are
        refused as bad input instead."""
        if not isinstance(query, str) or not query:
            return _refused("The operation's query must be a non-empty string")
        if not isinstance(variable_values, dict | None):
            return _refused("The operation's variables must be a JSON object")
        return await super().stream(query, variable_values, *args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the client's business; only the unexpected ones are logged,
        # with their stack and the request id that the client cannot see. Then every error is
        # rewritten in place for the client: strawberry calls this on the very list it returns,
        # for queries, mutations and each subscription result alike.
        context: Any = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "")
        for error in errors:
            if not is_expected(error):
                log.error(
                    "unexpected error in %s (request %s)",
                    ".".join(map(str, error.path or ())),
                    request_id,
                    exc_info=error.original_error,
                )
        names = context.services.symbol_names if isinstance(context, Context) else None
        errors[:] = [client_error(error, names) for error in errors]
        if self._hide_suggestions:
            for error in errors:
                error.message = _SUGGESTION.sub("", error.message)
        if self._on_error_code is not None:
            for error in errors:
                self._on_error_code(str((error.extensions or {}).get("code", "")))


# graphql-core's did_you_mean(): " Did you mean 'a', 'b', or 'c'?" (also "the enum value").
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


async def _refused(message: str) -> AsyncGenerator[PreExecutionError, None]:
    """The stream of an operation refused before it is parsed: one bad-input error."""
    yield PreExecutionError(
        data=None, errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})]
    )


def build_schema(
    limits: SchemaLimits | None = None,
    *,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    on_error_code: Callable[[str], None] | None = None,
) -> StockQLSchema:
    """The schema; `extensions` (classes or factories) run before the built-in ones, and
    `on_error_code` hears of each error sent (see StockQLSchema)."""
    limits = limits or SchemaLimits()
    # The limiters' rule classes are built once: the validation cache is keyed by the rules,
    # so new classes per request (what the limiter extensions make) would never hit it.
    limit_rules = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        NoControlCharactersRule,
    ]
    if not limits.introspection:
        limit_rules.append(NoSchemaIntrospectionCustomRule)
    if limits.trusted_documents is not None:
        limit_rules.append(trusted_documents_rule(limits.trusted_documents))
    # One cache per schema: every document in it passed this schema's token limit.
    documents = ParsedDocuments(max_entries=PARSED_DOCUMENTS)
    all_extensions: list[type[SchemaExtension] | Any] = [
        *extensions,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ValidationCache(maxsize=VALIDATION_CACHE_SIZE),
        lambda: RememberParsedDocuments(documents),
        OperationWarnings,
    ]
    return StockQLSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=all_extensions,
        exception_handlers=exception_handlers(),
        config=StrawberryConfig(scalar_map=scalar_map()),
        execution_context_class=execution_context_class(
            CostLimits(max_cost=limits.max_cost, max_bars=limits.max_history_rows)
        ),
        on_error_code=on_error_code,
        hide_suggestions=not limits.introspection,
        parsed_documents=documents,
    )


def export_sdl() -> str:
    """The SDL committed as graphql_schema/schema.graphql."""
    return build_schema().as_str() + "\n"
