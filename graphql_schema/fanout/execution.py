"""The executor's share of the fan-out: each shared event executed once per request.

A mixin of graphql_schema/execution.py's executor. The subscription's executor marks the
per-event copies it builds for shared payloads with its request (document, operation,
variables) and attaches itself to its operation's output (the root value, when the operation
runs over a websocket); the copies read and fill `EVENT_RESULTS`.
"""

from typing import Any

import orjson
from graphql import ExecutionResult
from graphql.execution import Executor
from graphql.execution.types import ExperimentalIncrementalExecutionResults
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_schema.fanout.operation import operation_output
from graphql_schema.fanout.payloads import SHARED_PAYLOAD_TYPES
from graphql_schema.fanout.results import EVENT_RESULTS


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    # What the subscription asks when its events' results can be shared; set on the
    # per-event copies only.
    _shared_request: str | None = None
    _request_key: str | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        if type(payload) in SHARED_PAYLOAD_TYPES and isinstance(executor, SharedEventExecution):
            executor._shared_request = self._request()
            output = operation_output(self.root_value)
            if output is not None:
                output.attach(self)
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

    def encoded_event_result(self, payload: object) -> str | None:
        """The `next` payload ({"data": ...}) as JSON of `payload` executed for this
        subscription, worked out once per event for everyone asking the same; None when the
        payload is not shareable or its result is not a plain error-free one."""
        if type(payload) not in SHARED_PAYLOAD_TYPES:
            return None
        request = self._request()
        entry = EVENT_RESULTS.get(payload, request)
        if entry is None:
            result = self.build_per_event_executor(payload).execute_operation(False)
            if type(result) is not ExecutionResult or result.errors:
                # The general path executes it again, awaits what is awaitable and reports
                # errors.
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # a coroutine never awaited would warn
                return None
            entry = EVENT_RESULTS.get(payload, request)
            if entry is None:
                return None
        if entry.encoded is None:
            entry.encoded = orjson.dumps({"data": entry.result.data}).decode()
        return entry.encoded

    def _request(self) -> str:
        """The document, operation and variables of this subscription, worked out once."""
        if self._request_key is None:
            location = self.operation.loc
            document = location.source.body if location is not None else repr(self.operation)
            name = self.operation.name.value if self.operation.name else ""
            variables = sorted(self.variable_values.coerced.items())
            self._request_key = f"{name}\0{variables!r}\0{document}"
        return self._request_key
