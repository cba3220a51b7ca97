"""The GraphQL ASGI endpoint (HTTP, GraphiQL and graphql-ws): orjson, context, request ids."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UnsetType

from app.graphql_metrics import OperationCounter
from app.metrics import Metrics
from app.request_ids import request_id_of
from app.websocket_handlers import LegacyWSHandler, TransportWSHandler
from app.websocket_protocol import SEND_TEXT_NOW
from domain.errors import Unauthenticated
from graphql_schema.context import Context, bearer_token
from graphql_schema.fanout.operation import OperationOutput


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends graphql-ws messages as text frames. strawberry sends what encode_json returns,
    and orjson's bytes would go out as binary frames, which browser clients (the graphql-ws
    package reads `event.data` as a string) cannot parse. Written at once when the server
    offers it (app/websocket_protocol.py), else through ASGI."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        extensions = response.scope.get("extensions") or {}
        self._send_text_now: Callable[[str], bool] | None = extensions.get(SEND_TEXT_NOW)

    async def send_json(self, message: Mapping[str, object]) -> None:
        await self.send_text(orjson.dumps(message).decode())

    def send_text_now(self, message: str) -> bool:
        """Write an encoded message at once; False when it has to go through `send_text`."""
        send_now = self._send_text_now
        return send_now is not None and send_now(message)

    async def send_text(self, message: str) -> None:
        """A message already encoded (also see graphql_schema/fanout/operation.py)."""
        if self.send_text_now(message):
            return
        try:
            await self.ws.send_text(message)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class GraphQLView(GraphQL[Context, OperationOutput]):
    websocket_adapter_class = TextFrameWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        *args: object,
        trust_forwarded_for: bool = False,
        metrics: Metrics | None = None,
        operations: OperationCounter | None = None,
        ide_page: Callable[[], Awaitable[Response]] | None = None,
        token_check_seconds: float = 30.0,
        **kwargs: object,
    ) -> None:
        """`ide_page` gives the GraphiQL page built from web/, or the page that explains why
        it is missing (app/web.py); without one GraphiQL is not found. Never strawberry's own
        page, which loads GraphiQL from a CDN. `operations` counts the subscriptions that
        start without strawberry's extensions (app/direct_operations.py)."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._trust_forwarded_for = trust_forwarded_for
        # Read by the websocket handlers (open connections).
        self.metrics = metrics if metrics is not None else Metrics()
        self.operations = operations
        self._ide_page = ide_page
        # How often an open websocket's token is checked for revocation (app/websocket_handlers.py).
        self.token_check_seconds = token_check_seconds

    async def render_graphql_ide(self, _request: Request) -> Response:
        if self._ide_page is None:
            return PlainTextResponse("Not Found", status_code=404)
        return await self._ide_page()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        try:
            await context.sign_in_websocket()
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message, "code": error.code}) from None
        return UnsetType()  # acknowledge without a payload

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        request_id = request_id_of(request)  # also sent as x-request-id (RequestIds)
        runtime = request.app.state.runtime
        return Context(
            services=runtime.services,
            request=request,
            response=response,
            request_id=request_id,
            token=bearer_token(request.headers.get("authorization")),
            client_address=self._client_address(request),
        )

    def _client_address(self, connection: HTTPConnection) -> str:
        if self._trust_forwarded_for:
            # The last entry is the one the trusted proxy added: what came before it is
            # whatever the client sent, which would let it pick its own rate-limit bucket.
            forwarded = connection.headers.get("x-forwarded-for", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last
        return connection.client.host if connection.client else "unknown"
