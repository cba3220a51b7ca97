"""The GraphQL ASGI endpoint (HTTP, GraphiQL and graphql-ws): orjson, context, request ids."""

import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from graphql_schema.context import Context


class GraphQLView(GraphQL[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        if isinstance(response, Response):
            response.headers["x-request-id"] = request_id
        runtime = request.app.state.runtime
        return Context(
            services=runtime.services, request=request, response=response, request_id=request_id
        )
