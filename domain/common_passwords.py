"""Passwords an attacker tries first: the most common ones from breach corpora, characters
repeated or in sequence, and the account's own words (NIST SP 800-63B, 3.1.1.2)."""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files

# Shorter ones are refused for their length before the list is consulted.
_MIN_LENGTH_LISTED = 8
# Runs like "abcdefgh", "98765432" or "qwertyui" on a keyboard row.
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
)
# Characters people put around a word to satisfy "use digits and symbols".
_DECORATION = "0123456789!@#$%^&*()-_=+.,;:?~ "


@cache
def _listed() -> frozenset[str]:
    # Read on the first password check, not at import: an idle server never holds the list.
    packed = (files("domain") / "data" / "common-passwords.txt.gz").read_bytes()
    words = gzip.decompress(packed).decode("utf-8").splitlines()
    return frozenset(word.strip() for word in words if len(word.strip()) >= _MIN_LENGTH_LISTED)


def weakness(password: str, *, account_words: tuple[str, ...] = ()) -> str | None:
    """Why `password` is easy to guess, as a sentence for the user, or None when it is not.

    `account_words` are words a guesser knows about this account (the email, its local part,
    the user's name); a password that is one of them, with digits or symbols around it, is
    refused too.
    """
    folded = password.casefold()
    if folded in _listed():
        return "This password is one of the most common passwords; choose another"
    if len(set(folded)) <= 2:
        return "This password repeats one or two characters; choose another"
    if _is_sequence(folded):
        return "This password is a run of letters or digits in sequence; choose another"
    core = _core(folded)
    for word in account_words:
        word_core = _core(word.casefold())
        if len(word_core) >= 4 and core == word_core:
            return "This password is a word from your account; choose another"
    return None


def _core(text: str) -> str:
    # "Margaret1987!" and "margaret" are the same guess: digits and symbols around a word
    # are the first thing a guesser adds.
    return text.strip(_DECORATION)


def _is_sequence(folded: str) -> bool:
    return any(
        folded in run or folded in run[::-1] for run in _SEQUENCES if len(folded) <= len(run)
    )
