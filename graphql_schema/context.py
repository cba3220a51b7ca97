"""The per-request context read by resolvers through `info.context`."""

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from domain.cache import Cache
from domain.history import HistoryService
from domain.quotes import QuoteService
from domain.symbol_search import SymbolSearchService


@dataclass(frozen=True, slots=True)
class Services:
    """Domain services wired once by the application (see app/services.py)."""

    history: HistoryService
    quotes: QuoteService
    search: SymbolSearchService
    cache: Cache
    symbols: tuple[str, ...]


@dataclass(slots=True)
class Context:
    services: Services
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    request_id: str = ""
    extra: dict[str, object] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
