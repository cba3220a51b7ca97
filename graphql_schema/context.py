"""The per-request context read by resolvers through `info.context`, with its signed-in user."""

from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from domain.accounts import AccountService
from domain.active_model import ActiveModel
from domain.alerts.service import AlertService
from domain.backtesting import Backtester
from domain.cache_clearing import CacheClearing
from domain.errors import Forbidden, Unauthenticated
from domain.events import EventBus, PriceFeed
from domain.history import HistoryService
from domain.notifications import Notifier
from domain.opening_prices import OpeningPrices
from domain.prediction_service import PredictionService
from domain.quotes import QuoteService
from domain.symbol_names import SymbolNames
from domain.symbol_search import SymbolSearchService
from domain.tracked_symbols import TrackedSymbols
from domain.users import Role, User


@dataclass(frozen=True, slots=True)
class Services:
    """What resolvers use: the domain services wired once by the application (see
    app/runtime.py, whose Runtime holds the rest)."""

    history: HistoryService
    quotes: QuoteService
    search: SymbolSearchService
    accounts: AccountService
    symbols: tuple[str, ...]
    # The configured symbols and those with live subscribers (what the worker polls).
    tracked: TrackedSymbols
    alerts: AlertService
    notifications: Notifier
    prices: PriceFeed
    # What a price subscription opens with (the latest stored event, or a first one).
    openings: OpeningPrices
    bus: EventBus
    predictions: PredictionService
    # The model predictions use (modelInfo), and backtests of RULES or that model.
    models: ActiveModel
    backtests: Backtester
    cache_clearing: CacheClearing
    # The local directory that suggests tickers for unknown symbols (no provider call).
    symbol_names: SymbolNames | None = None


@dataclass(slots=True)
class Context:
    services: Services
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    request_id: str = ""
    # The bearer token the client sent (HTTP header or websocket connection_init), if any.
    token: str | None = None
    client_address: str = "unknown"
    # The websocket connection_init payload; strawberry sets it before on_ws_connect.
    connection_params: dict[str, object] | None = None
    # When the token expires, once it was verified.
    token_expires_at: datetime | None = None
    _user: list[User | None] = field(default_factory=list)

    async def sign_in_websocket(self) -> None:
        """Take the token of the connection_init payload ({"authToken": "<token>"}, a "Bearer "
        prefix accepted). Raises Unauthenticated for a token that is present but not valid;
        without one the connection stays anonymous."""
        raw = (self.connection_params or {}).get("authToken")
        if raw is None:
            return
        self.token = bearer_token(raw if isinstance(raw, str) else "")
        await self.check_token()

    async def check_token(self) -> None:
        """Verify the token again, now (each websocket operation, and while a connection
        stays open): raises Unauthenticated once it expired or was revoked."""
        self._user.clear()
        await self.current_user()

    async def current_user(self) -> User | None:
        """The signed-in user, or None without a token (checked once per request). A token
        that is present but invalid, expired or revoked raises Unauthenticated: a client
        must not take its stale token's answers for anonymous ones."""
        if not self._user:
            user = None
            if self.token is not None:
                user, self.token_expires_at = await self.services.accounts.verify_token(self.token)
            self._user.append(user)
        return self._user[0]

    async def require_user(self) -> User:
        """The signed-in user; raises Unauthenticated (top-level UNAUTHENTICATED) otherwise."""
        user = await self.current_user()
        if user is None:
            raise Unauthenticated("Sign in first")
        return user

    async def require_admin(self) -> User:
        user = await self.require_user()
        if user.role is not Role.ADMIN:
            raise Forbidden("This needs the ADMIN role")
        return user


def bearer_token(authorization: str | None) -> str | None:
    """The token of an "Authorization: Bearer <token>" value; a bare token is accepted too.
    Anything else present is returned as is, so that it fails as an invalid token."""
    if authorization is None:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


Info = StrawberryInfo[Context, None]
