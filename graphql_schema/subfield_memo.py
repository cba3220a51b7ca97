"""A graphql-core 3.3.2 leak worked around: it shares one subfield memo between a
subscription's executor and the copy it makes per event, so every event added an entry (about
1 KB of server memory) that lasted as long as the subscription. A mixin of
graphql_schema/execution.py's executor."""

from typing import Any

from graphql.execution import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class FreshSubfieldMemoPerEvent(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        # The memo is keyed by the identity of field lists that are new with each event:
        # shared (graphql-core shallow-copies it), it would only ever grow.
        executor._relevant_sub_fields = {}
        return executor
