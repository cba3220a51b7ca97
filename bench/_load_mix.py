"""The operations of bench/load_test.py: documents, weights, and what each may answer.

Shared by the client process that sends them (bench/_load_users.py) and the bench that judges
the answers: an answer is expected when its GraphQL error codes and its result union member
(`__typename`) are listed for the operation; anything else fails the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA")
SEARCHES = ("apple", "micro", "GOO", "tesla", "amaz", "bank", "energy", "IBM", "n", "Zz")
PASSWORD = "load test password"


@dataclass(frozen=True)
class Operation:
    name: str
    weight: int  # relative share of a virtual user's requests (0: not picked at random)
    document: str
    signed_in: bool = True
    expected_codes: frozenset[str] = frozenset()  # extensions.code planned for
    expected_typenames: frozenset[str] = field(default_factory=frozenset)  # union members


def _typenames(*names: str) -> frozenset[str]:
    return frozenset(names)


REGISTER = Operation(
    "register",
    0,
    """mutation ($input: RegisterInput!) { register(input: $input) { __typename
      ... on AuthPayload { token user { id } } } }""",
    signed_in=False,
    expected_typenames=_typenames("AuthPayload"),
)

# The first virtual user only logs in, as fast as it can: past the limit of attempts per
# email (10 per 15 minutes) its answers are RateLimitedError, on purpose.
LOGIN = Operation(
    "login",
    3,
    """mutation ($input: LoginInput!) { login(input: $input) { __typename
      ... on AuthPayload { token } ... on RateLimitedError { retryAfterSeconds } } }""",
    signed_in=False,
    expected_typenames=_typenames("AuthPayload", "RateLimitedError"),
)

HISTORY = Operation(
    "history",
    10,
    """query ($symbol: String!, $start: Date, $end: Date) {
      history(symbol: $symbol, start: $start, end: $end) {
        symbol source cached stale columns { timestamp close }
        sma(window: 20) { value } rsi { value } macd { histogram }
        bollinger { upper lower } } }""",
    signed_in=False,
)

LATEST_PRICE = Operation(
    "latestPrice",
    20,
    """query ($symbol: String!) { latestPrice(symbol: $symbol) {
      symbol price change changePercent timestamp stale } }""",
    signed_in=False,
)

# A share of requests that must fail cleanly: an unknown symbol is NOT_FOUND.
UNKNOWN_SYMBOL = Operation(
    "latestPrice(unknown)",
    2,
    '{ latestPrice(symbol: "ZZZZ") { price } }',
    signed_in=False,
    expected_codes=frozenset({"NOT_FOUND"}),
)

SEARCH = Operation(
    "searchSymbols",
    10,
    "query ($query: String!) { searchSymbols(query: $query) { symbol name score } }",
    signed_in=False,
)

PREDICT = Operation(
    "predict",
    5,
    """mutation ($input: PredictInput!) { predict(input: $input) { __typename
      ... on Prediction { recommendation confidence method }
      ... on InsufficientDataError { required available } } }""",
    expected_typenames=_typenames("Prediction"),
)

ME = Operation(
    "me",
    10,
    "{ me { id name watchlist alerts { id symbol condition threshold } } }",
)

NOTIFICATIONS = Operation(
    "notifications",
    8,
    "{ notifications(limit: 20) { id type symbol message read createdAt } }",
)

UPDATE_PROFILE = Operation(
    "updateProfile",
    4,
    """mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { __typename
      ... on User { name } } }""",
    expected_typenames=_typenames("User"),
)

ADD_TO_WATCHLIST = Operation(
    "addToWatchlist",
    4,
    "mutation ($symbol: String!) { addToWatchlist(symbol: $symbol) { watchlist } }",
)

REMOVE_FROM_WATCHLIST = Operation(
    "removeFromWatchlist",
    3,
    "mutation ($symbol: String!) { removeFromWatchlist(symbol: $symbol) { watchlist } }",
)

CREATE_ALERT = Operation(
    "createAlert",
    4,
    """mutation ($input: CreateAlertInput!) { createAlert(input: $input) { __typename
      ... on Alert { id } } }""",
    expected_typenames=_typenames("Alert"),
)

DELETE_ALERT = Operation(
    "deleteAlert",
    3,
    "mutation ($id: ID!) { deleteAlert(id: $id) }",
)

MARK_NOTIFICATIONS_READ = Operation(
    "markNotificationsRead",
    4,
    "mutation { markNotificationsRead }",
)

OPERATIONS = {
    operation.name: operation
    for operation in (
        REGISTER,
        LOGIN,
        HISTORY,
        LATEST_PRICE,
        UNKNOWN_SYMBOL,
        SEARCH,
        PREDICT,
        ME,
        NOTIFICATIONS,
        UPDATE_PROFILE,
        ADD_TO_WATCHLIST,
        REMOVE_FROM_WATCHLIST,
        CREATE_ALERT,
        DELETE_ALERT,
        MARK_NOTIFICATIONS_READ,
    )
}
PICKED = [operation for operation in OPERATIONS.values() if operation.weight > 0]

STOCK_PRICE = (
    "subscription ($symbol: String!) { stockPrice(symbol: $symbol) "
    "{ symbol price change timestamp sequence } }"
)
USER_NOTIFICATIONS = "subscription { userNotifications { id type symbol message createdAt } }"
