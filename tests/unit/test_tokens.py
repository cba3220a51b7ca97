from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.tokens import (
    MAX_TOKEN_CHARS,
    MIN_SECRET_BYTES,
    InvalidToken,
    TokenIssuer,
    check_secret,
)
from domain.users import Role

SECRET = "s" * MIN_SECRET_BYTES
OTHER_SECRET = "o" * MIN_SECRET_BYTES
LIFETIME = timedelta(hours=1)
START = datetime(2025, 3, 14, 9, 30, 0, tzinfo=UTC)
HS256_HEADER = {"alg": "HS256", "typ": "JWT"}


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(secret=SECRET, lifetime=LIFETIME, clock=clock)


def segment(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(header: dict[str, Any], claims: dict[str, Any], secret: str = SECRET) -> str:
    """A token made by hand, HMAC-SHA256 signed, whatever its header says."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{segment(mac)}"


def valid_claims(**changes: Any) -> dict[str, Any]:
    """Claims of a token issued at START for an hour; None removes a claim."""
    issued_at = int(START.timestamp())
    claims = {"sub": "user-1", "role": "USER", "iat": issued_at, "exp": issued_at + 3600}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def payload_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_an_issued_token_decodes_to_its_claims(issuer: TokenIssuer) -> None:
    issued = issuer.issue("user-1", Role.ADMIN)

    claims = issuer.decode(issued.token)

    assert claims.user_id == "user-1"
    assert claims.role is Role.ADMIN
    assert claims.issued_at == START
    assert claims.expires_at == START + LIFETIME == issued.expires_at


def test_an_issued_token_carries_integer_claims_and_names_hs256(issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", Role.USER).token

    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == HS256_HEADER
    claims = payload_of(token)
    token_id = claims.pop("jti")
    assert isinstance(token_id, str)
    assert len(token_id) >= 16
    assert claims == valid_claims() | {"gen": 0}


def test_every_token_has_an_id_of_its_own_and_its_generation(issuer: TokenIssuer) -> None:
    first, second = (issuer.issue("user-1", Role.USER, generation=3) for _ in range(2))
    decoded = issuer.decode(first.token)
    assert decoded.generation == 3
    assert decoded.token_id != issuer.decode(second.token).token_id


def test_a_token_without_generation_or_id_is_of_generation_zero(issuer: TokenIssuer) -> None:
    decoded = issuer.decode(sign(HS256_HEADER, valid_claims()))
    assert (decoded.generation, decoded.token_id) == (0, None)


@pytest.mark.parametrize("bad", [{"gen": -1}, {"gen": "1"}, {"gen": True}, {"jti": 5}])
def test_a_mistyped_generation_or_id_is_invalid(
    issuer: TokenIssuer, bad: dict[str, object]
) -> None:
    with pytest.raises(InvalidToken):
        issuer.decode(sign(HS256_HEADER, valid_claims() | bad))


def test_a_hand_signed_token_with_the_same_secret_decodes(issuer: TokenIssuer) -> None:
    # Checks the test helper too: the invalid tokens below differ from this one in one way.
    assert issuer.decode(sign(HS256_HEADER, valid_claims())).user_id == "user-1"


def test_issued_at_is_truncated_to_the_second(clock: FakeClock, issuer: TokenIssuer) -> None:
    clock.now = START + timedelta(milliseconds=999)

    claims = issuer.decode(issuer.issue("user-1", Role.USER).token)

    assert claims.issued_at == START


def test_a_token_is_valid_until_its_last_second(clock: FakeClock, issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", Role.USER).token
    clock.now = START + LIFETIME - timedelta(milliseconds=1)

    assert issuer.decode(token).user_id == "user-1"


def test_a_token_expires_at_its_exp_on_the_injected_clock(
    clock: FakeClock, issuer: TokenIssuer
) -> None:
    token = issuer.issue("user-1", Role.USER).token
    clock.now = START + LIFETIME

    with pytest.raises(InvalidToken, match="expired"):
        issuer.decode(token)


def test_an_old_token_is_accepted_while_the_clock_says_it_is_valid() -> None:
    # python-jose would compare exp with the real time and refuse this 2001 token.
    clock = FakeClock()
    clock.now = datetime(2001, 1, 1, tzinfo=UTC)
    old = TokenIssuer(secret=SECRET, lifetime=LIFETIME, clock=clock)

    assert old.decode(old.issue("user-1", Role.USER).token).user_id == "user-1"


def test_a_token_signed_with_another_secret_is_invalid(
    clock: FakeClock, issuer: TokenIssuer
) -> None:
    other = TokenIssuer(secret=OTHER_SECRET, lifetime=LIFETIME, clock=clock)

    with pytest.raises(InvalidToken):
        issuer.decode(other.issue("user-1", Role.USER).token)


def test_a_tampered_payload_is_invalid(issuer: TokenIssuer) -> None:
    header, _, signature = issuer.issue("user-1", Role.USER).token.split(".")
    tampered = f"{header}.{segment(valid_claims(role='ADMIN'))}.{signature}"

    with pytest.raises(InvalidToken):
        issuer.decode(tampered)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_alg_none_token_is_invalid(issuer: TokenIssuer, alg: str) -> None:
    unsigned = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(valid_claims())}."

    with pytest.raises(InvalidToken):
        issuer.decode(unsigned)


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_a_header_naming_another_algorithm_is_invalid(issuer: TokenIssuer, alg: str) -> None:
    # The signature itself is a correct HS256 one: only the header's claim is wrong.
    header = {"typ": "JWT"} if alg is None else {"alg": alg, "typ": "JWT"}

    with pytest.raises(InvalidToken):
        issuer.decode(sign(header, valid_claims()))


@pytest.mark.parametrize("missing", ["sub", "role", "iat", "exp"])
def test_a_token_missing_a_claim_is_invalid(issuer: TokenIssuer, missing: str) -> None:
    claims = valid_claims()
    del claims[missing]

    with pytest.raises(InvalidToken):
        issuer.decode(sign(HS256_HEADER, claims))


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "ROOT"},
        {"role": "admin"},
        {"role": ["ADMIN"]},
        {"sub": ""},
        {"sub": 42},
        {"exp": "9999999999"},
        {"exp": 9_999_999_999.5},
        {"exp": True},
        {"exp": 10**30},
        {"iat": -1},
        {"iat": [1]},
    ],
    ids=repr,
)
def test_a_signed_token_with_bad_claims_is_invalid(
    issuer: TokenIssuer, changes: dict[str, Any]
) -> None:
    with pytest.raises(InvalidToken):
        issuer.decode(sign(HS256_HEADER, valid_claims(**changes)))


@pytest.mark.parametrize("payload", [b"[1, 2]", b"null", b"\xff\xfe", b"not json"], ids=repr)
def test_a_signed_token_whose_payload_is_no_object_is_invalid(
    issuer: TokenIssuer, payload: bytes
) -> None:
    signing_input = f"{segment(HS256_HEADER)}.{segment(payload)}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()

    with pytest.raises(InvalidToken):
        issuer.decode(f"{signing_input}.{segment(mac)}")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        "a.b",
        "a.b.c.d",
        "...",
        "é.é.é",
        "\ud800",
        "a" * 100_000,
        "eyJhbGciOiJIUzI1NiJ9.e30.%%%",
    ],
    ids=lambda token: repr(token[:20]),
)
def test_a_string_that_is_no_jwt_is_invalid(issuer: TokenIssuer, token: str) -> None:
    with pytest.raises(InvalidToken):
        issuer.decode(token)


@pytest.mark.parametrize(
    "mangle",
    [lambda token: " " + token, lambda token: token + "\n", lambda token: token + "=="],
    ids=["leading space", "trailing newline", "padded signature"],
)
def test_a_mangled_valid_token_is_invalid(issuer: TokenIssuer, mangle: Any) -> None:
    with pytest.raises(InvalidToken):
        issuer.decode(mangle(issuer.issue("user-1", Role.USER).token))


def test_a_validly_signed_token_over_the_size_limit_is_invalid(issuer: TokenIssuer) -> None:
    huge = sign(HS256_HEADER, valid_claims(sub="u" * MAX_TOKEN_CHARS))

    with pytest.raises(InvalidToken, match="malformed"):
        issuer.decode(huge)


def test_the_error_never_quotes_the_token(issuer: TokenIssuer) -> None:
    token = sign(HS256_HEADER, valid_claims(role="ROOT"))

    with pytest.raises(InvalidToken) as raised:
        issuer.decode(token)

    error = raised.value
    assert error.code == "UNAUTHENTICATED"
    assert "ROOT" not in str(error)
    assert not any(part in str(error) for part in token.split("."))


def test_an_issued_token_is_kept_out_of_its_repr(issuer: TokenIssuer) -> None:
    issued = issuer.issue("user-1", Role.USER)

    assert issued.token not in repr(issued)


@pytest.mark.parametrize("secret", ["", "short", "s" * (MIN_SECRET_BYTES - 1), "é" * 15])
def test_a_short_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_SECRET_BYTES} bytes"):
        check_secret(secret)
    with pytest.raises(ValueError, match=f"at least {MIN_SECRET_BYTES} bytes"):
        TokenIssuer(secret=secret, lifetime=LIFETIME)


def test_secret_length_counts_utf8_bytes() -> None:
    check_secret("é" * 16)  # 32 bytes in 16 characters


def test_the_refusal_never_quotes_the_secret() -> None:
    with pytest.raises(ValueError, match="at least") as raised:
        check_secret("hunter2")

    assert "hunter2" not in str(raised.value)


def test_a_lifetime_under_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        TokenIssuer(secret=SECRET, lifetime=timedelta(milliseconds=500))


def test_a_naive_clock_is_refused() -> None:
    naive = TokenIssuer(secret=SECRET, lifetime=LIFETIME, clock=lambda: datetime(2025, 1, 1))  # noqa: DTZ001

    with pytest.raises(ValueError, match="aware"):
        naive.issue("user-1", Role.USER)
