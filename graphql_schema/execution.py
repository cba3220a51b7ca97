"""StockQL's graphql-core executor: one subclass, each job in a module of its own.

- Refusals before any resolver runs: variables holding control characters
  (graphql_schema/control_characters.py), an operation over the cost limit
  (graphql_schema/query_cost.py).
- Long lists completed in one pass (graphql_schema/list_completion.py).
- Subscription events executed once for everyone asking the same
  (graphql_schema/shared_results.py).
- A graphql-core 3.3.2 leak worked around: it shares one subfield memo between a
  subscription's executor and the copy it makes per event, so every event added an entry
  (about 1 KB of server memory) that lasted as long as the subscription.
"""

from collections.abc import AsyncIterable, Iterable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.execution.types import ExperimentalIncrementalExecutionResults
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_schema.control_characters import variable_problem
from graphql_schema.list_completion import coerce_scalars, complete_plain_objects
from graphql_schema.query_cost import CostLimits, OperationCost, too_expensive
from graphql_schema.shared_results import EVENT_RESULTS, SHARED_PAYLOAD_TYPES, SUBSCRIPTION_EXECUTOR


class StockQLExecutionContext(StrawberryGraphQLCoreExecutionContext):
    # The schema's operation cost limit; None counts nothing (see execution_context_class).
    cost_limits: CostLimits | None = None
    # What the subscription asks (document, operation, variables) when its events' results
    # can be shared; set on the per-event copies only.
    _shared_request: str | None = None
    _request_key: str | None = None

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | Executor[Any]:
        """The executor, or the errors that refuse the request before any resolver runs:
        variables holding control characters (graphql_schema/control_characters.py), an
        operation over the cost limit (graphql_schema/query_cost.py)."""
        refused = variable_problem(raw_variable_values)
        if refused is not None:
            return [refused]
        executor = super().build(
            schema, document, root_value, context_value, raw_variable_values, *args, **kwargs
        )
        if cls.cost_limits is None or isinstance(executor, list):
            return executor
        return executor if (error := _over_budget(executor, cls.cost_limits)) is None else [error]

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        # The memo is keyed by the identity of field lists that are new with each event:
        # shared (graphql-core shallow-copies it), it would only ever grow.
        executor._relevant_sub_fields = {}
        if type(payload) in SHARED_PAYLOAD_TYPES and isinstance(executor, StockQLExecutionContext):
            executor._shared_request = self._request()
            # Each websocket operation runs in a task of its own: this stays with it.
            SUBSCRIPTION_EXECUTOR.set(self)
        return executor

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        request = self._shared_request
        if request is None:
            return super().execute_operation(serially)
        shared = EVENT_RESULTS.get(self.root_value, request)
        if shared is not None:
            return shared.result
        result = super().execute_operation(serially)
        # Only complete, error-free results: errors are rewritten per request.
        if type(result) is ExecutionResult and not result.errors:
            EVENT_RESULTS.put(self.root_value, request, result)
        return result

    def _request(self) -> str:
        """The document, operation and variables of this subscription, worked out once."""
        if self._request_key is None:
            location = self.operation.loc
            document = location.source.body if location is not None else repr(self.operation)
            name = self.operation.name.value if self.operation.name else ""
            variables = sorted(self.variable_values.coerced.items())
            self._request_key = f"{name}\0{variables!r}\0{document}"
        return self._request_key

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[list[Any]]:
        # Exact lists and tuples only: the items are read more than once, and the fast path
        # leaves @stream to graphql-core.
        if (type(result) is list or type(result) is tuple) and not self.get_stream_usage(
            field_details_list, path
        ):
            completed = coerce_scalars(return_type.of_type, result)
            if completed is None:
                completed = complete_plain_objects(
                    self, return_type.of_type, field_details_list, result
                )
            if completed is not None:
                return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )


def execution_context_class(cost_limits: CostLimits) -> type[StockQLExecutionContext]:
    """The executor of a schema whose operations are held to `cost_limits`."""
    return type("StockQLExecutionContext", (StockQLExecutionContext,), {"cost_limits": cost_limits})


def _over_budget(executor: Executor[Any], limits: CostLimits) -> GraphQLError | None:
    root = executor.schema.get_root_type(executor.operation.operation)
    if root is None:
        return None  # graphql-core refuses the operation type itself
    counter = OperationCost(
        executor.fragment_definitions, executor.variable_values, limits.max_bars
    )
    cost = counter.of(root, executor.operation.selection_set)
    return too_expensive(cost, limits.max_cost) if cost > limits.max_cost else None
