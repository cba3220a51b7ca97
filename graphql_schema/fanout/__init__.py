"""Fan-out of live events: one event, executed and encoded once, written to every subscriber.

When thousands watch one symbol, each of them would otherwise run graphql-core over the same
price, encode the same JSON and wake its own task to send it. The path, step by step:

1. `payloads`: a subscription payload type marked `@shared_by_subscribers` has only plain
   fields that depend on the payload alone, and its `from_domain` is `@one_payload_per_event`,
   so every subscriber converting one event holds the very same payload object.
2. `execution.SharedEventExecution` (part of graphql_schema/execution.py's executor): the
   payload of each event is executed once per request (document, operation, variables) for
   everyone asking the same; its `next` payload is encoded to JSON once (`EventResults`).
3. `operation.OperationOutput`: one websocket operation's way out, made by the protocol
   handler (app/websocket_handlers.py) and handed to graphql as the operation's root value. Its
   executor attaches itself to it when the first event goes through graphql-core; from then on
   the resolvers (resolvers/realtime.py, which find it as `info.root_value`) write each event
   inside the operation's own message, from the operation's task (`send`) or straight from the
   event bus as the event arrives (`sender`, see domain.events.Subscription.hand_off).
4. `direct`: the next operation of a document that went this way starts without strawberry's
   per-operation machinery (its executor and source stream built as graphql-core's
   `subscribe` builds them), its events going out through its output from the first.

The first event of a subscription started the general way and any event that cannot be
shared (an error, an awaitable field, a payload type not marked) take strawberry's general
path, so errors are reported exactly as always (on the direct path such results are made as
strawberry makes them, see direct.py). Per-result extension hooks do not run for events
written here: the schema's extensions have none that matter for a subscription event.

Why the bus writes at once rather than waking each operation's task: each wake-up leaves a
handful of awaitables behind per subscriber and event (one per async generator level); at
10,000 messages a second they filled the garbage collector's young generation with ~100,000
objects between collections, each collection then stalling the server for 50-200 ms. What cannot
be written at once (flow control, a payload that cannot be shared) is queued and goes the
task's way.
"""
