import pytest

from domain.common_passwords import weakness

ACCOUNT = ("grace.hopper@example.com", "grace.hopper", "Grace Hopper")


@pytest.mark.parametrize(
    "password", ["password", "PASSWORD", "Password1", "12345678", "iloveyou", "sunshine1"]
)
def test_the_most_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert weakness(password) == (
        "This password is one of the most common passwords; choose another"
    )


@pytest.mark.parametrize("password", ["zzzzzzzzzzzz", "abababababab", "9898989898"])
def test_one_or_two_characters_repeated_are_refused(password: str) -> None:
    assert "repeats" in (weakness(password) or "")


@pytest.mark.parametrize("password", ["cdefghijklmn", "klmnopqrs", "tsrqponm"])
def test_runs_in_sequence_are_refused(password: str) -> None:
    assert "in sequence" in (weakness(password) or "")


@pytest.mark.parametrize("password", ["grace.hopper", "Grace.Hopper1987!", "GRACE HOPPER"])
def test_the_accounts_own_words_are_refused(password: str) -> None:
    assert weakness(password, account_words=ACCOUNT) == (
        "This password is a word from your account; choose another"
    )


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "Unmistakable-Password-4711",
        "grace hopper's compiler",
        "n0t-in-any-list",
    ],
)
def test_passwords_that_are_hard_to_guess_pass(password: str) -> None:
    assert weakness(password, account_words=ACCOUNT) is None


def test_short_words_of_the_account_do_not_refuse_everything() -> None:
    # A one-letter name must not make every password containing it "a word from the account".
    assert (
        weakness("ed-likes-long-passphrases", account_words=("ed@example.com", "ed", "Ed")) is None
    )
