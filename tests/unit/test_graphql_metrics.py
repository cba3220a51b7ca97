"""Operation names as metric labels: bounded whatever clients send."""

from __future__ import annotations

import pytest

from app.graphql_metrics import ANONYMOUS, OTHER, OperationNames


def test_a_graphql_name_is_its_own_label() -> None:
    assert OperationNames().label("LatestPrice_2") == "LatestPrice_2"


@pytest.mark.parametrize("name", [None, ""])
def test_an_operation_without_a_name_is_anonymous(name: str | None) -> None:
    assert OperationNames().label(name) == ANONYMOUS


@pytest.mark.parametrize(
    "name", ["Latest; DROP TABLE", "2fast", "naïve", "a-b", "x" * 65, 'q{label="x"}', "\n"]
)
def test_a_name_that_is_not_a_short_graphql_name_is_other(name: str) -> None:
    assert OperationNames().label(name) == OTHER


@pytest.mark.parametrize("name", [5, ["Op"], {"name": "Op"}, True])
def test_a_name_that_is_not_a_string_is_other(name: object) -> None:
    assert OperationNames().label(name) == OTHER


def test_names_beyond_the_limit_are_other_while_the_first_ones_keep_their_label() -> None:
    names = OperationNames(max_names=3)
    assert [names.label(f"Op{number}") for number in range(5)] == [
        "Op0",
        "Op1",
        "Op2",
        OTHER,
        OTHER,
    ]
    assert names.label("Op1") == "Op1"


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_names"):
        OperationNames(max_names=0)
