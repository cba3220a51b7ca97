"""StockQL's graphql-core executor: one subclass, each job in a module of its own.

- Refusals before any resolver runs: variables holding control characters
  (graphql_schema/control_characters.py), an operation over the cost limit
  (graphql_schema/query_cost.py).
- Long lists completed in one pass (graphql_schema/list_completion.py).
- Subscription events executed once for everyone asking the same
  (graphql_schema/fanout/execution.py).
- A graphql-core leak worked around (graphql_schema/subfield_memo.py).
"""

from collections.abc import AsyncIterable, Iterable
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.pyutils import AwaitableOrValue, Path

from graphql_schema.control_characters import variable_problem
from graphql_schema.fanout.execution import SharedEventExecution
from graphql_schema.identity_map import WeakIdentityMap
from graphql_schema.list_completion import coerce_scalars, complete_plain_objects
from graphql_schema.query_cost import CostLimits, OperationCost, too_expensive
from graphql_schema.subfield_memo import FreshSubfieldMemoPerEvent


class StockQLExecutionContext(SharedEventExecution, FreshSubfieldMemoPerEvent):
    # The schema's operation cost limit; None counts nothing (see execution_context_class).
    cost_limits: CostLimits | None = None
    # The cost of each operation whose cost reads no variable (OperationCost.fixed), for as
    # long as its document is held (the parsed documents' cache keeps the hot ones).
    fixed_costs: ClassVar[WeakIdentityMap[OperationDefinitionNode, int]]

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
        error = _over_budget(executor, cls.cost_limits, cls.fixed_costs)
        return executor if error is None else [error]

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
    return type(
        "StockQLExecutionContext",
        (StockQLExecutionContext,),
        {"cost_limits": cost_limits, "fixed_costs": WeakIdentityMap()},
    )


def _over_budget(
    executor: Executor[Any],
    limits: CostLimits,
    fixed_costs: WeakIdentityMap[OperationDefinitionNode, int],
) -> GraphQLError | None:
    operation = executor.operation
    cost = fixed_costs.get(operation)
    if cost is None:
        root = executor.schema.get_root_type(operation.operation)
        if root is None:
            return None  # graphql-core refuses the operation type itself
        counter = OperationCost(
            executor.fragment_definitions, executor.variable_values, limits.max_bars
        )
        cost = counter.of(root, operation.selection_set)
        if counter.fixed:
            fixed_costs[operation] = cost
    return too_expensive(cost, limits.max_cost) if cost > limits.max_cost else None
