"""Accounts: register, login, authenticate, profile and watchlist, with validation and limits."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from domain.cache import Cache
from domain.common_passwords import weakness
from domain.errors import (
    FieldProblem,
    InvalidInput,
    RateLimited,
    StockQLError,
    SymbolCheck,
    Unauthenticated,
    ValidationFailed,
)
from domain.login_throttle import LoginAttempts, LoginPolicy, LoginThrottle
from domain.passwords import PasswordHasher
from domain.rate_limits import RateLimiter
from domain.symbols import normalize_symbol
from domain.tokens import InvalidToken, TokenClaims, TokenIssuer
from domain.users import (
    MAX_WATCHLIST,
    EmailTaken,
    Role,
    User,
    UserStore,
    WatchlistFull,
    email_key,
)

log = logging.getLogger(__name__)

NAME_LENGTH = (1, 100)
PASSWORD_LENGTH = (8, 128)
MAX_EMAIL_LENGTH = 320


class EmailAlreadyUsed(StockQLError):
    code = "EMAIL_TAKEN"

    def __init__(self, email: str) -> None:
        super().__init__("An account with this email already exists")
        self.email = email


class InvalidCredentials(StockQLError):
    code = "INVALID_CREDENTIALS"

    def __init__(self) -> None:
        super().__init__("The email or password is wrong")


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """Attempts allowed per window, per email and per client address. Logins per email are
    throttled by domain.login_throttle instead (back-off, no lock-out)."""

    login_per_address: int = 50
    login_window_seconds: int = 900
    register_per_email: int = 5
    register_per_address: int = 20
    register_window_seconds: int = 3600


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    token: str
    expires_at: datetime


# Told (user id, what changed, e.g. "email and password") after a profile change.
AccountUpdated = Callable[[str, str], Awaitable[object]]


async def _any_symbol(_symbol: str) -> bool:
    return True


class AccountService:
    def __init__(
        self,
        *,
        store: UserStore,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        limiter: RateLimiter,
        login_attempts: LoginAttempts,
        login_policy: LoginPolicy | None = None,
        limits: AccountLimits | None = None,
        revoked_tokens: Cache | None = None,
        symbol_exists: SymbolCheck = _any_symbol,
        on_account_updated: AccountUpdated | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._tokens = tokens
        self._limiter = limiter
        self._limits = limits or AccountLimits()
        self._throttle = LoginThrottle(login_attempts, login_policy, clock=clock)
        self._symbol_exists = symbol_exists
        # Single tokens signed out (by id) until they would have expired; None: logout
        # revokes every token of the user, as logoutEverywhere does.
        self._revoked_tokens = revoked_tokens
        self._on_account_updated = on_account_updated
        self._clock = clock
        self._new_id = new_id

    async def register(self, *, name: str, email: str, password: str, client: str) -> Session:
        """Create a USER account and sign it in. Raises ValidationFailed, RateLimited or
        EmailAlreadyUsed; nothing is stored unless it succeeds."""
        limits = self._limits
        await self._limit(
            f"register:address:{client}",
            limits.register_per_address,
            limits.register_window_seconds,
        )
        name, email = _clean_name(name), email.strip()
        problems = _name_problems(name) + _email_problems(email)
        normalized = _normalize_email(email) if not problems else email
        problems += _password_problems(password, normalized, name)
        if problems:
            raise ValidationFailed(problems)
        await self._limit(
            f"register:email:{email_key(normalized)}",
            limits.register_per_email,
            limits.register_window_seconds,
        )
        user = await self._create(name=name, email=normalized, password=password, role=Role.USER)
        log.info("registered user %s", user.id)
        return self._session(user)

    async def create_admin(self, *, name: str, email: str, password: str) -> User:
        """Create an ADMIN account (from the command line). Raises ValidationFailed or
        EmailAlreadyUsed."""
        name, email = _clean_name(name), email.strip()
        problems = _name_problems(name) + _email_problems(email)
        normalized = _normalize_email(email) if not problems else email
        problems += _password_problems(password, normalized, name)
        if problems:
            raise ValidationFailed(problems)
        return await self._create(name=name, email=normalized, password=password, role=Role.ADMIN)

    async def login(self, *, email: str, password: str, client: str) -> Session:
        """Check the password and issue a token. An unknown email costs the same password
        check as a known one. Raises ValidationFailed, RateLimited (see
        domain/login_throttle.py) or InvalidCredentials."""
        limits = self._limits
        problems = []
        if not email.strip() or len(email) > MAX_EMAIL_LENGTH:
            problems.append(FieldProblem("email", "Enter your email address", "INVALID"))
        if not password or len(password) > PASSWORD_LENGTH[1]:
            problems.append(FieldProblem("password", "Enter your password", "INVALID"))
        if problems:
            raise ValidationFailed(problems)
        window = limits.login_window_seconds
        await self._limit(f"login:address:{client}", limits.login_per_address, window)
        key = email_key(email)
        await self._throttle.check(key, client)
        user = await self._store.find_by_email(email)
        if user is None:
            await self._hasher.verify_dummy(password)
            await self._throttle.failed(key, client)
            raise InvalidCredentials
        if not await self._hasher.verify(user.password_hash, password):
            await self._throttle.failed(key, client)
            raise InvalidCredentials
        await self._throttle.succeeded(key, client)
        if self._hasher.needs_rehash(user.password_hash):
            rehashed = await self._store.update(
                user.id, password_hash=await self._hasher.hash(password)
            )
            user = rehashed or user
        return self._session(user)

    async def authenticate(self, token: str) -> User:
        """The user a token belongs to, with the role stored now (not the token's).
        Raises Unauthenticated for any bad, expired, revoked or orphaned token."""
        user, _ = await self.verify_token(token)
        return user

    def check_signature(self, token: str) -> None:
        """Raises Unauthenticated for a token this server did not sign or that expired, at
        once; whether it was revoked since is verify_token's to say."""
        self._claims(token)

    async def verify_token(self, token: str) -> tuple[User, datetime]:
        """The user a token belongs to and when the token expires. Raises Unauthenticated
        for a bad or expired token, one signed out (logout), one of an older generation
        (logoutEverywhere, a password change), or one whose user no longer exists."""
        claims = self._claims(token)
        # Both asked at once: every signed-in request waits for them (one round trip, not two,
        # behind the other requests of a busy event loop).
        user, signed_out = await asyncio.gather(
            self._store.get(claims.user_id), self._is_signed_out(claims)
        )
        if user is None:
            raise Unauthenticated("The token's user no longer exists")
        if claims.generation != user.token_generation or signed_out:
            raise Unauthenticated("The token was revoked; sign in again")
        return user, claims.expires_at

    def _claims(self, token: str) -> TokenClaims:
        try:
            return self._tokens.decode(token)
        except InvalidToken as error:
            raise Unauthenticated("The token is invalid or expired") from error

    async def logout(self, token: str) -> None:
        """Revoke this one token (the user's other tokens stay valid). Raises Unauthenticated
        for a token that is not valid now."""
        user, expires_at = await self.verify_token(token)
        token_id = self._tokens.decode(token).token_id
        if self._revoked_tokens is None or token_id is None:
            # No place to remember one token (or an old token without an id): all of them.
            await self.logout_everywhere(user)
            return
        remaining = (expires_at - self._clock()).total_seconds()
        await self._revoked_tokens.set(
            _revoked_key(token_id), b"1", ttl_seconds=max(1.0, remaining + 1)
        )

    async def logout_everywhere(self, user: User) -> None:
        """Revoke every token of `user` issued until now, on every replica at once."""
        if await self._store.revoke_tokens(user.id) is None:
            raise Unauthenticated("The account no longer exists")
        log.info("revoked every token of user %s", user.id)

    async def _is_signed_out(self, claims: TokenClaims) -> bool:
        if self._revoked_tokens is None or claims.token_id is None:
            return False
        return await self._revoked_tokens.get(_revoked_key(claims.token_id)) is not None

    async def update_profile(
        self,
        user: User,
        *,
        name: str | None = None,
        email: str | None = None,
        password: str | None = None,
        current_password: str | None = None,
    ) -> User:
        """Change the given fields. A new email or password needs the current password; a new
        password revokes every token issued before (sign in again).
        Raises ValidationFailed, InvalidCredentials or EmailAlreadyUsed, changing nothing."""
        problems: list[FieldProblem] = []
        if name is not None:
            name = _clean_name(name)
            problems += _name_problems(name)
        if email is not None:
            email = email.strip()
            email_problems = _email_problems(email)
            problems += email_problems
            if not email_problems:
                email = _normalize_email(email)
        if password is not None:
            problems += _password_problems(password, email or user.email, name or user.name)
        sensitive = email is not None or password is not None
        if sensitive and not current_password:
            problems.append(
                FieldProblem(
                    "currentPassword",
                    "Changing the email or password needs the current password",
                    "REQUIRED",
                )
            )
        if problems:
            raise ValidationFailed(problems)
        if sensitive and not await self._hasher.verify(user.password_hash, current_password or ""):
            raise InvalidCredentials
        password_hash = await self._hasher.hash(password) if password is not None else None
        try:
            updated = await self._store.update(
                user.id, name=name, email=email, password_hash=password_hash
            )
        except EmailTaken as error:
            raise EmailAlreadyUsed(email or "") from error
        if updated is None:
            raise Unauthenticated("The account no longer exists")
        if password is not None:
            # Whoever held a token (a stolen one too) must prove the new password now.
            updated = await self._store.revoke_tokens(user.id) or updated
        changed = [
            what
            for what, value in (("name", name), ("email", email), ("password", password))
            if value is not None
        ]
        if changed and self._on_account_updated is not None:
            await self._on_account_updated(user.id, " and ".join(changed))
        return updated

    async def add_to_watchlist(self, user: User, symbol: str) -> User:
        """Raises InvalidInput for a malformed, unknown or surplus symbol."""
        symbol = normalize_symbol(symbol)
        if symbol not in user.watchlist and not await self._symbol_exists(symbol):
            raise InvalidInput(f"Unknown symbol {symbol}", field="symbol")
        try:
            updated = await self._store.add_to_watchlist(user.id, symbol)
        except WatchlistFull as error:
            raise InvalidInput(
                f"A watchlist holds at most {MAX_WATCHLIST} symbols", field="symbol"
            ) from error
        if updated is None:
            raise Unauthenticated("The account no longer exists")
        return updated

    async def remove_from_watchlist(self, user: User, symbol: str) -> User:
        updated = await self._store.remove_from_watchlist(user.id, normalize_symbol(symbol))
        if updated is None:
            raise Unauthenticated("The account no longer exists")
        return updated

    async def _create(self, *, name: str, email: str, password: str, role: Role) -> User:
        user = User(
            id=self._new_id(),
            name=name,
            email=email,
            role=role,
            password_hash=await self._hasher.hash(password),
            created_at=self._clock().replace(microsecond=0),
        )
        try:
            await self._store.create(user)
        except EmailTaken as error:
            raise EmailAlreadyUsed(email) from error
        return user

    def _session(self, user: User) -> Session:
        issued = self._tokens.issue(user.id, user.role, generation=user.token_generation)
        return Session(user=user, token=issued.token, expires_at=issued.expires_at)

    async def _limit(self, key: str, limit: int, window_seconds: int) -> None:
        retry_after = await self._limiter.hit(key, limit=limit, window_seconds=window_seconds)
        if retry_after is not None:
            raise RateLimited("Too many attempts; try again later", retry_after_seconds=retry_after)


def _revoked_key(token_id: str) -> str:
    return f"stockql:revoked-token:{token_id}"


def _clean_name(name: str) -> str:
    return " ".join(name.split())


def _name_problems(name: str) -> list[FieldProblem]:
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        return [FieldProblem("name", f"A name is {low} to {high} characters", "LENGTH")]
    return []


def _email_problems(email: str) -> list[FieldProblem]:
    if len(email) > MAX_EMAIL_LENGTH:
        return [FieldProblem("email", "This email address is too long", "LENGTH")]
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return [FieldProblem("email", str(error), "INVALID")]
    return []


def _normalize_email(email: str) -> str:
    return validate_email(email, check_deliverability=False).normalized


def _password_problems(password: str, email: str, name: str) -> list[FieldProblem]:
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        return [FieldProblem("password", f"A password is {low} to {high} characters", "LENGTH")]
    if email_key(password) == email_key(email):
        return [FieldProblem("password", "The password must not be the email", "EQUALS_EMAIL")]
    if reason := weakness(password, account_words=(email, email.partition("@")[0], name)):
        return [FieldProblem("password", reason, "TOO_COMMON")]
    return []
