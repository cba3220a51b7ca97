"""Access tokens: JWT HS256 with the claims sub (user id), role, iat, exp, gen (the user's
token generation when issued: raising it revokes the token) and jti (the token's own id,
for revoking one token).

python-jose trusts a token's own header unless told which algorithms to accept, and checks
`exp` against the real clock; so decoding here always names HS256, and checks every claim
itself against an injected clock.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from jose import jwk, jwt
from jose.exceptions import JOSEError

from domain.errors import StockQLError
from domain.users import Role

ALGORITHM = "HS256"
# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
# Our tokens are about 200 characters; anything far longer is refused before any parsing.
MAX_TOKEN_CHARS = 4096

# Three base64url segments, no padding or whitespace: the only shape issue() produces.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ROLES = {role.value: role for role in Role}
_MAX_TIMESTAMP = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())


class InvalidToken(StockQLError):
    """The token is missing its parts, forged, tampered with, or expired.

    The message is safe for clients and never quotes the token.
    """

    code = "UNAUTHENTICATED"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)  # a credential: keep it out of logs
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    # Tokens issued before these claims existed carry neither: generation 0, no id.
    generation: int = 0
    token_id: str | None = None


def check_secret(secret: str) -> None:
    """Raise ValueError unless `secret` has at least MIN_SECRET_BYTES bytes in UTF-8.

    The message gives the lengths, never the secret.
    """
    length = len(secret.encode("utf-8", "surrogatepass"))
    if length < MIN_SECRET_BYTES:
        raise ValueError(
            f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes long, not {length}; make "
            "one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenIssuer:
    """Issues and decodes the access tokens signed with `secret`.

    `lifetime` is how long a token is valid (whole seconds, at least one). `clock` returns
    the current time as an aware datetime. Raises ValueError for a short secret (see
    check_secret) or lifetime.
    """

    def __init__(
        self,
        *,
        secret: str,
        lifetime: timedelta,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        check_secret(secret)
        if lifetime < timedelta(seconds=1):
            raise ValueError(f"the token lifetime must be at least one second, not {lifetime}")
        try:
            # A Key object, not the string: python-jose would try to read a string as a JSON
            # key set first, so a secret that happens to be JSON would change meaning.
            self._key = jwk.construct(secret, ALGORITHM)
        except JOSEError as error:
            raise ValueError(f"the JWT secret is not usable as an HMAC key: {error}") from None
        self._lifetime_seconds = int(lifetime.total_seconds())
        self._clock = clock

    def issue(self, user_id: str, role: Role, *, generation: int = 0) -> IssuedToken:
        """A token for `user_id` with `role` and the user's token `generation`, valid from now
        (to the second) for `lifetime`, with a random id of its own."""
        if not user_id:
            raise ValueError("a token needs a user id")
        issued_at = int(self._now().timestamp())
        expires_at = issued_at + self._lifetime_seconds
        claims = {
            "sub": user_id,
            "role": role.value,
            "iat": issued_at,
            "exp": expires_at,
            "gen": generation,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return IssuedToken(token=token, expires_at=datetime.fromtimestamp(expires_at, UTC))

    def decode(self, token: str) -> TokenClaims:
        """The claims of a token this issuer signed, if it is still valid.

        Raises InvalidToken for anything else: empty, over MAX_TOKEN_CHARS, not a compact
        JWS, another algorithm than HS256 (`none` included), a bad signature (tampered
        payload, other secret), a missing or mistyped sub/role/iat/exp, an unknown role, or
        expired (the token is valid until, not including, its `exp` second on `clock`).
        """
        if len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
            raise InvalidToken("The token is malformed.")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                # The time claims are checked below against our clock. (require_exp would
                # switch verify_exp back on, so presence is checked below too.)
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except (JOSEError, ValueError, TypeError):
            # Safety net beyond JOSEError: nothing a client sends may become a server error.
            raise InvalidToken("The token is invalid.") from None
        user_id, role, issued_at, expires_at = _read_claims(claims)
        if self._now().timestamp() >= expires_at:
            raise InvalidToken("The token has expired.")
        generation, token_id = claims.get("gen", 0), claims.get("jti")
        # A generation is a count: the same range as a timestamp's will do.
        if not _is_timestamp(generation) or not isinstance(token_id, str | None):
            raise InvalidToken("The token has no valid generation or id.")
        return TokenClaims(
            user_id=user_id,
            role=role,
            issued_at=datetime.fromtimestamp(issued_at, UTC),
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            generation=generation,
            token_id=token_id,
        )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            # A naive datetime's timestamp() would silently use the local time zone.
            raise ValueError("the token clock must return an aware datetime")
        return now


def _read_claims(claims: dict[str, Any]) -> tuple[str, Role, int, int]:
    """sub, role, iat and exp with their types checked; raises InvalidToken."""
    user_id, role = claims.get("sub"), claims.get("role")
    issued_at, expires_at = claims.get("iat"), claims.get("exp")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidToken("The token has no subject.")
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidToken("The token has no valid role.")
    if not _is_timestamp(issued_at) or not _is_timestamp(expires_at):
        raise InvalidToken("The token has no valid issue or expiry time.")
    return user_id, _ROLES[role], issued_at, expires_at


def _is_timestamp(value: object) -> TypeGuard[int]:
    # bool is an int subclass, and a datetime cannot hold every int: keep to 1970..9999.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TIMESTAMP
