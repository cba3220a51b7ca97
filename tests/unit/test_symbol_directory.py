from __future__ import annotations

import pytest

from app.adapters.symbol_directory import LISTINGS, Listing, SymbolDirectory
from domain.symbols import normalize_symbol


@pytest.fixture(scope="module")
def directory() -> SymbolDirectory:
    return SymbolDirectory()


def test_listings_cover_large_caps_funds_and_foreign_listings() -> None:
    kinds = {listing.kind for listing in LISTINGS}
    regions = {listing.region for listing in LISTINGS}
    assert 80 <= len(LISTINGS) <= 120
    assert kinds == {"Equity", "ETF"}
    assert {"United States", "United Kingdom"} <= regions


def test_listed_symbols_are_unique_valid_tickers() -> None:
    symbols = [listing.symbol for listing in LISTINGS]
    assert len(set(symbols)) == len(symbols)
    assert all(normalize_symbol(symbol) == symbol for symbol in symbols)


def test_every_listing_has_a_positive_typical_price() -> None:
    assert all((listing.typical_price or 0) > 0 for listing in LISTINGS)


def test_company_name_finds_its_symbol_first(directory: SymbolDirectory) -> None:
    matches = directory.search("Apple")
    assert matches[0].symbol == "AAPL"
    assert matches[0].name == "Apple Inc."


def test_exact_symbol_scores_one(directory: SymbolDirectory) -> None:
    match = directory.search("msft")[0]
    assert (match.symbol, match.score) == ("MSFT", 1.0)


def test_exact_symbol_ranks_before_longer_symbols_with_that_prefix(
    directory: SymbolDirectory,
) -> None:
    symbols = [match.symbol for match in directory.search("goog")]
    assert symbols[:2] == ["GOOG", "GOOGL"]


def test_symbol_prefix_ranks_before_name_matches(directory: SymbolDirectory) -> None:
    matches = directory.search("ab")
    assert {m.symbol for m in matches[:3]} == {"ABBV", "ABNB", "ABT"}
    assert all(0.9 <= m.score < 1.0 for m in matches[:3])


def test_name_word_prefix_matches_later_words(directory: SymbolDirectory) -> None:
    symbols = [match.symbol for match in directory.search("semiconductor")]
    assert symbols == ["TSM"]


def test_name_substring_scores_lowest(directory: SymbolDirectory) -> None:
    match = next(m for m in directory.search("soft") if m.symbol == "MSFT")
    assert match.score < 0.6


def test_search_is_case_insensitive(directory: SymbolDirectory) -> None:
    assert directory.search("nViDiA") == directory.search("NVIDIA")


def test_matches_are_best_first(directory: SymbolDirectory) -> None:
    scores = [match.score for match in directory.search("a", limit=50)]
    assert scores == sorted(scores, reverse=True)


def test_limit_caps_the_matches(directory: SymbolDirectory) -> None:
    assert len(directory.search("a", limit=3)) == 3


@pytest.mark.parametrize("query", ["", "   "])
def test_blank_query_finds_nothing(directory: SymbolDirectory, query: str) -> None:
    assert directory.search(query) == []


def test_unmatched_query_finds_nothing(directory: SymbolDirectory) -> None:
    assert directory.search("zzzzqqq") == []


def test_matches_carry_region_and_currency(directory: SymbolDirectory) -> None:
    match = directory.search("TSCO.LON")[0]
    assert (match.region, match.currency) == ("United Kingdom", "GBX")


def test_punctuation_in_names_does_not_hide_words(directory: SymbolDirectory) -> None:
    assert directory.search("mcdonald")[0].symbol == "MCD"


def test_contains_ignores_case(directory: SymbolDirectory) -> None:
    assert directory.contains("aapl")
    assert not directory.contains("NOPE")


def test_listing_gives_the_name_or_none(directory: SymbolDirectory) -> None:
    listing = directory.listing("spy")
    assert listing is not None
    assert listing.name == "SPDR S&P 500 ETF Trust"
    assert directory.listing("NOPE") is None


def test_directory_can_hold_other_listings() -> None:
    directory = SymbolDirectory([Listing("ACME", "Acme Rockets Corp.")])
    assert [match.symbol for match in directory.search("rocket")] == ["ACME"]
    assert not directory.contains("AAPL")


@pytest.mark.parametrize(
    "text",
    ["Apple", "apple", "APPLE", "tesla", "Nvidia", "Coca-Cola", "cocacola", "home depot"],
)
def test_a_company_name_is_told_from_a_ticker(directory: SymbolDirectory, text: str) -> None:
    assert directory.is_company_name(text)


@pytest.mark.parametrize(
    "text",
    [
        "AAPL",  # a listed symbol
        "meta",  # a listed symbol that is also its company's name
        "FORD",  # under five letters: a real ticker as often as a name (Forward Industries)
        "INC",  # a later word, not the start of a name
        "ZZZZZ",
        "MOTOR",  # "Ford Motor Company": only the first words count
        "",
    ],
)
def test_tickers_and_other_words_are_no_company_names(
    directory: SymbolDirectory, text: str
) -> None:
    assert not directory.is_company_name(text)


def test_a_company_name_is_no_company_name_once_it_is_listed() -> None:
    listed = SymbolDirectory([*LISTINGS, Listing("APPLE", "Apple Hospitality REIT Inc.")])

    assert not listed.is_company_name("APPLE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("APPLE", ["AAPL"]),
        ("cocacola", ["KO"]),
        ("alphabet", ["GOOG", "GOOGL"]),
        ("MSFTT", ["MSFT"]),  # one letter too many
        ("GOOGLX", ["GOOGL", "GOOG"]),
        ("ZZZZ", []),
    ],
)
def test_suggestions_are_search_matches_then_close_spellings(
    directory: SymbolDirectory, text: str, expected: list[str]
) -> None:
    assert [match.symbol for match in directory.suggest(text, limit=5)] == expected


def test_every_company_name_has_a_suggestion(directory: SymbolDirectory) -> None:
    names = {listing.name.split()[0] for listing in LISTINGS}

    for name in names:
        if directory.is_company_name(name):
            assert directory.suggest(name, limit=5), name


def test_suggestions_keep_the_limit_and_rank_close_spellings_below_text_matches(
    directory: SymbolDirectory,
) -> None:
    suggestions = directory.suggest("APPL", limit=2)

    assert [match.symbol for match in suggestions] == ["AAPL", "PYPL"]
    assert suggestions[0].score > 0.5 > suggestions[1].score
    assert directory.suggest("ishares", limit=3) == directory.search("ishares", limit=3)
