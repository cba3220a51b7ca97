"""Subscriptions started without strawberry's per-operation machinery, for documents it ran.

Subscribing 10,000 clients to `stockPrice` repeats, for each of them, what strawberry does
around an operation (six extension instances and their hooks, the parse and validation caches'
look-ups, graphql-core's `subscribe` and its response stream). Skipping it saves memory per
subscriber; the set-up time gained is within the bench's noise (issue 17 point 4,
docs/PERFORMANCE.md). A document (its text and operation
name) that the general path ran and whose events it shared (the operation's output attached,
graphql_schema/fanout/operation.py) passed everything that depends on the text alone: parsing
within the token limit and validation with every rule of this schema (depth, aliases,
introspection, trusted documents). The next operation with the same text starts here: the
executor is built as `subscribe` builds it (coercing the variables, refusing control characters
and an operation over the cost limit), the root field's resolver makes the source stream, and the
events go out through the operation's output as everyone else's do.

What is not plain goes the general way: a document not known here or no longer in the parsed
documents' cache, variables that are refused, a resolver failing before its stream exists:
`start` returns None and the caller runs strawberry's path, which reports it as always. An event
that cannot be shared and an error while streaming become results here as strawberry makes them,
their errors processed by the schema (logged, masked, counted). Extensions' per-result fields are
not added to them: no subscription resolver writes a warning.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult as CoreResult
from graphql import GraphQLError
from graphql.execution import Executor, create_source_event_stream
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from graphql_schema.fanout.execution import SharedEventExecution
from graphql_schema.fanout.operation import OperationOutput
from graphql_schema.parsed_documents import ParsedDocuments

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from graphql import DocumentNode
    from strawberry.schema import Schema

_Known = tuple[str, str | None]


@dataclass(slots=True)
class DirectSubscription:
    """One operation started here: its source stream and how its events become results."""

    events: AsyncIterator[Any]
    executor: Executor[Any]
    # What strawberry's ExecutionContext is made of, made only for an error to process: one
    # per subscriber would be a dict, a tuple of every validation rule and more, for nothing.
    schema: Schema
    query: str
    variables: dict[str, Any] | None
    provided_operation_name: str | None
    document: DocumentNode

    @property
    def operation_name(self) -> str | None:
        if self.provided_operation_name is not None:
            return self.provided_operation_name
        name = self.executor.operation.name
        return None if name is None else name.value

    async def event_result(self, payload: object) -> ExecutionResult:
        """`payload` executed for this operation, as graphql-core's response stream does it
        for an event the output could not take."""
        result = self.executor.build_per_event_executor(payload).execute_operation(False)
        if self.executor.is_awaitable(result):
            result = await result
        assert isinstance(result, CoreResult)  # a subscription never delivers incrementally
        return self._processed(result.data, result.errors)

    def error_result(self, error: Exception) -> ExecutionResult:
        """The result strawberry sends for an exception raised by the event stream."""
        coerced = (
            error
            if isinstance(error, GraphQLError)
            else GraphQLError(str(error), original_error=error)
        )
        return self._processed(None, [coerced])

    def _processed(
        self, data: dict[str, Any] | None, errors: list[GraphQLError] | None
    ) -> ExecutionResult:
        if errors:
            self.schema.process_errors(errors, self._execution_context())
        return ExecutionResult(data=data, errors=errors)

    def _execution_context(self) -> ExecutionContext:
        return ExecutionContext(
            query=self.query,
            schema=self.schema,
            allowed_operations=(OperationType.SUBSCRIPTION,),
            context=self.executor.context_value,
            variables=self.variables,
            root_value=self.executor.root_value,
            provided_operation_name=self.provided_operation_name,
            graphql_document=self.document,
        )


class DirectSubscriptions:
    """The subscription documents known to run plainly, and their operations' start."""

    def __init__(self, schema: Schema, documents: ParsedDocuments, *, max_known: int) -> None:
        self._schema = schema
        self._documents = documents
        self._max_known = max_known
        self._known: OrderedDict[_Known, None] = OrderedDict()
        # An extension wrapping every resolver would be skipped here: none may, then.
        self.enabled = not any(
            type(extension).resolve is not SchemaExtension.resolve
            for extension in schema.get_extensions()
        )

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, known: object) -> bool:
        """Whether (query, operation name) starts directly."""
        return known in self._known

    def remember(self, query: object, operation_name: object) -> None:
        """The general path ran this document and shared its events (a query or name of
        another type, as a client may send, is never started here: not remembered)."""
        if not (isinstance(query, str) and isinstance(operation_name, str | None)):
            return
        key = (query, operation_name)
        self._known[key] = None
        self._known.move_to_end(key)
        if len(self._known) > self._max_known:
            self._known.popitem(last=False)

    async def start(
        self,
        query: object,
        variables: object,
        operation_name: object,
        *,
        context: object,
        output: OperationOutput,
    ) -> DirectSubscription | None:
        """The operation's source stream, its events sent through `output` from the first;
        None when it has to take the general path (nothing has run then)."""
        if not (
            self.enabled
            and isinstance(query, str)
            and isinstance(operation_name, str | None)
            and isinstance(variables, dict | None)
            and (query, operation_name) in self
        ):
            return None
        document = self._documents.get(query)
        if document is None:
            return None
        executor_class = self._schema.execution_context_class
        assert executor_class is not None
        executor = executor_class.build(
            self._schema._schema,  # strawberry's graphql-core schema
            document,
            output,
            context,
            variables,
            operation_name,
            operation_extensions=None,
        )
        if isinstance(executor, list):
            return None
        assert isinstance(executor, SharedEventExecution)
        events = create_source_event_stream(executor)
        if executor.is_awaitable(events):
            events = await events
        if isinstance(events, CoreResult):
            return None
        output.attach(executor)
        return DirectSubscription(
            events=events,  # type: ignore[arg-type]
            executor=executor,
            schema=self._schema,
            query=query,
            variables=variables,
            provided_operation_name=operation_name,
            document=document,
        )
