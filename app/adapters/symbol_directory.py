"""A local directory of well-known tickers: symbol search without a network, and the universe
the market simulator trades.

`typical_price` is a rough price level (listing currency) that the simulator anchors its
random walk to; it is not market data.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from domain.market import SymbolMatch

_US = "United States"


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str
    name: str
    typical_price: float | None = None
    kind: str = "Equity"  # or "ETF"
    region: str | None = _US
    currency: str | None = "USD"


def _etf(symbol: str, name: str, price: float) -> Listing:
    return Listing(symbol, name, price, kind="ETF")


LISTINGS: tuple[Listing, ...] = (
    # Technology and communication
    Listing("AAPL", "Apple Inc.", 230.0),
    Listing("MSFT", "Microsoft Corporation", 420.0),
    Listing("GOOG", "Alphabet Inc. Class C", 190.0),
    Listing("GOOGL", "Alphabet Inc. Class A", 188.0),
    Listing("AMZN", "Amazon.com Inc.", 215.0),
    Listing("META", "Meta Platforms Inc.", 600.0),
    Listing("NVDA", "NVIDIA Corporation", 135.0),
    Listing("TSLA", "Tesla Inc.", 350.0),
    Listing("AVGO", "Broadcom Inc.", 230.0),
    Listing("ORCL", "Oracle Corporation", 170.0),
    Listing("CSCO", "Cisco Systems Inc.", 60.0),
    Listing("ADBE", "Adobe Inc.", 440.0),
    Listing("CRM", "Salesforce Inc.", 320.0),
    Listing("AMD", "Advanced Micro Devices Inc.", 120.0),
    Listing("INTC", "Intel Corporation", 21.0),
    Listing("QCOM", "Qualcomm Incorporated", 160.0),
    Listing("TXN", "Texas Instruments Incorporated", 190.0),
    Listing("IBM", "International Business Machines Corporation", 225.0),
    Listing("NFLX", "Netflix Inc.", 880.0),
    Listing("DIS", "The Walt Disney Company", 110.0),
    Listing("CMCSA", "Comcast Corporation", 38.0),
    Listing("T", "AT&T Inc.", 23.0),
    Listing("VZ", "Verizon Communications Inc.", 40.0),
    Listing("TMUS", "T-Mobile US Inc.", 220.0),
    Listing("UBER", "Uber Technologies Inc.", 65.0),
    Listing("ABNB", "Airbnb Inc.", 130.0),
    Listing("PYPL", "PayPal Holdings Inc.", 85.0),
    Listing("SHOP", "Shopify Inc.", 105.0),
    Listing("PLTR", "Palantir Technologies Inc.", 75.0),
    Listing("SNOW", "Snowflake Inc.", 160.0),
    Listing("INTU", "Intuit Inc.", 630.0),
    Listing("NOW", "ServiceNow Inc.", 1000.0),
    Listing("A", "Agilent Technologies Inc.", 135.0),
    # Financials
    Listing("BRK.B", "Berkshire Hathaway Inc. Class B", 460.0),
    Listing("JPM", "JPMorgan Chase & Co.", 240.0),
    Listing("V", "Visa Inc.", 315.0),
    Listing("MA", "Mastercard Incorporated", 525.0),
    Listing("BAC", "Bank of America Corporation", 44.0),
    Listing("WFC", "Wells Fargo & Company", 70.0),
    Listing("C", "Citigroup Inc.", 70.0),
    Listing("GS", "The Goldman Sachs Group Inc.", 570.0),
    Listing("MS", "Morgan Stanley", 125.0),
    Listing("AXP", "American Express Company", 300.0),
    Listing("BLK", "BlackRock Inc.", 1000.0),
    # Health care
    Listing("UNH", "UnitedHealth Group Incorporated", 500.0),
    Listing("JNJ", "Johnson & Johnson", 145.0),
    Listing("LLY", "Eli Lilly and Company", 780.0),
    Listing("ABBV", "AbbVie Inc.", 175.0),
    Listing("MRK", "Merck & Co. Inc.", 100.0),
    Listing("PFE", "Pfizer Inc.", 26.0),
    Listing("TMO", "Thermo Fisher Scientific Inc.", 520.0),
    Listing("ABT", "Abbott Laboratories", 113.0),
    Listing("DHR", "Danaher Corporation", 230.0),
    Listing("BMY", "Bristol-Myers Squibb Company", 57.0),
    Listing("AMGN", "Amgen Inc.", 260.0),
    Listing("GILD", "Gilead Sciences Inc.", 92.0),
    Listing("CVS", "CVS Health Corporation", 45.0),
    # Consumer
    Listing("WMT", "Walmart Inc.", 90.0),
    Listing("COST", "Costco Wholesale Corporation", 920.0),
    Listing("PG", "The Procter & Gamble Company", 165.0),
    Listing("KO", "The Coca-Cola Company", 62.0),
    Listing("PEP", "PepsiCo Inc.", 150.0),
    Listing("HD", "The Home Depot Inc.", 390.0),
    Listing("MCD", "McDonald's Corporation", 290.0),
    Listing("NKE", "Nike Inc.", 75.0),
    Listing("SBUX", "Starbucks Corporation", 90.0),
    Listing("F", "Ford Motor Company", 10.0),
    Listing("GM", "General Motors Company", 53.0),
    # Industrials, energy, materials, utilities, real estate
    Listing("BA", "The Boeing Company", 175.0),
    Listing("CAT", "Caterpillar Inc.", 360.0),
    Listing("GE", "GE Aerospace", 170.0),
    Listing("HON", "Honeywell International Inc.", 225.0),
    Listing("MMM", "3M Company", 130.0),
    Listing("UPS", "United Parcel Service Inc.", 125.0),
    Listing("UNP", "Union Pacific Corporation", 230.0),
    Listing("LMT", "Lockheed Martin Corporation", 485.0),
    Listing("RTX", "RTX Corporation", 115.0),
    Listing("XOM", "Exxon Mobil Corporation", 107.0),
    Listing("CVX", "Chevron Corporation", 145.0),
    Listing("COP", "ConocoPhillips", 100.0),
    Listing("SLB", "Schlumberger Limited", 38.0),
    Listing("LIN", "Linde plc", 420.0),
    Listing("NEE", "NextEra Energy Inc.", 72.0),
    Listing("DUK", "Duke Energy Corporation", 108.0),
    Listing("SO", "The Southern Company", 82.0),
    Listing("PLD", "Prologis Inc.", 106.0),
    Listing("AMT", "American Tower Corporation", 185.0),
    # US-listed shares of non-US companies (ADRs and foreign ordinaries)
    Listing("TSM", "Taiwan Semiconductor Manufacturing Company Limited", 200.0),
    Listing("ASML", "ASML Holding N.V.", 700.0),
    Listing("NVO", "Novo Nordisk A/S", 86.0),
    Listing("SAP", "SAP SE", 245.0),
    Listing("TM", "Toyota Motor Corporation", 175.0),
    Listing("SONY", "Sony Group Corporation", 21.0),
    Listing("BABA", "Alibaba Group Holding Limited", 85.0),
    Listing("SHEL", "Shell plc", 63.0),
    Listing("BP", "BP p.l.c.", 30.0),
    Listing("HSBC", "HSBC Holdings plc", 49.0),
    Listing("AZN", "AstraZeneca PLC", 65.0),
    Listing("NVS", "Novartis AG", 97.0),
    # Home listings abroad, in Alpha Vantage's SYMBOL.EXCHANGE spelling
    Listing("TSCO.LON", "Tesco PLC", 370.0, region="United Kingdom", currency="GBX"),
    Listing("SHOP.TRT", "Shopify Inc.", 150.0, region="Toronto", currency="CAD"),
    Listing("SAP.DEX", "SAP SE", 235.0, region="XETRA", currency="EUR"),
    # Exchange-traded funds
    _etf("SPY", "SPDR S&P 500 ETF Trust", 590.0),
    _etf("QQQ", "Invesco QQQ Trust", 515.0),
    _etf("DIA", "SPDR Dow Jones Industrial Average ETF Trust", 425.0),
    _etf("IWM", "iShares Russell 2000 ETF", 220.0),
    _etf("VTI", "Vanguard Total Stock Market ETF", 290.0),
    _etf("VOO", "Vanguard S&P 500 ETF", 540.0),
    _etf("EFA", "iShares MSCI EAFE ETF", 77.0),
    _etf("EEM", "iShares MSCI Emerging Markets ETF", 42.0),
    _etf("TLT", "iShares 20+ Year Treasury Bond ETF", 87.0),
    _etf("HYG", "iShares iBoxx $ High Yield Corporate Bond ETF", 79.0),
    _etf("GLD", "SPDR Gold Shares", 240.0),
    _etf("SLV", "iShares Silver Trust", 27.0),
    _etf("XLF", "Financial Select Sector SPDR Fund", 48.0),
    _etf("XLK", "Technology Select Sector SPDR Fund", 230.0),
    _etf("XLE", "Energy Select Sector SPDR Fund", 86.0),
    _etf("XLV", "Health Care Select Sector SPDR Fund", 137.0),
    _etf("VNQ", "Vanguard Real Estate ETF", 88.0),
    _etf("ARKK", "ARK Innovation ETF", 58.0),
)

# Score tiers; within a tier a query covering more of the matched text ranks first.
_EXACT_SYMBOL = 1.0
_SYMBOL_PREFIX = 0.9
_NAME_PREFIX = 0.85
_WORD_PREFIX = 0.75
_SUBSTRING = 0.5
_TIER_SPREAD = 0.04
# A symbol spelled nearly like a listed one ("MSFTT") scores its similarity times this: below
# every text match.
_CLOSE_SPELLING = 0.45
_CLOSE_SPELLING_CUTOFF = 0.75
# Shorter name words are real tickers too often (FORD is Forward Industries, not Ford Motor).
_SHORTEST_COMPANY_NAME = 5


class SymbolDirectory:
    """Listings by symbol, with ranked search over symbols and names."""

    def __init__(self, listings: Iterable[Listing] = LISTINGS) -> None:
        self._by_symbol = {listing.symbol: listing for listing in listings}
        self._names = {symbol: _words(item.name) for symbol, item in self._by_symbol.items()}
        # "cocacola" -> the symbols whose name starts with those words run together.
        self._name_starts: dict[str, list[str]] = {}
        for symbol, words in self._names.items():
            for start in _name_starts(words):
                self._name_starts.setdefault(start, []).append(symbol)

    @property
    def listings(self) -> tuple[Listing, ...]:
        return tuple(self._by_symbol.values())

    def contains(self, symbol: str) -> bool:
        """True when the symbol (any case) is listed."""
        return symbol.strip().upper() in self._by_symbol

    def listing(self, symbol: str) -> Listing | None:
        return self._by_symbol.get(symbol.strip().upper())

    def search(self, query: str, *, limit: int = 10) -> list[SymbolMatch]:
        """At most `limit` listings matching `query`, best first; empty for a blank query.

        Case-insensitive. Scores: exact symbol 1.0; symbol prefix ~0.9; name starting with
        the query ~0.85; a later name word starting with it ~0.75; the query elsewhere in
        the name ~0.5. Ties go to the shorter symbol, then alphabetical order.
        """
        text = " ".join(query.split()).casefold()
        if not text or limit <= 0:
            return []
        scored = []
        for symbol, listing in self._by_symbol.items():
            score = self._score(text, symbol, listing.name)
            if score > 0:
                scored.append((-score, len(symbol), symbol, listing))
        scored.sort()
        return [self._match(listing, -negative) for negative, _, _, listing in scored[:limit]]

    def suggest(self, text: str, *, limit: int) -> list[SymbolMatch]:
        """What an unknown symbol `text` may have meant, best first, at most `limit`: the
        search's matches ("APPLE" finds AAPL by name), then listed symbols spelled nearly
        like it ("MSFTT" finds MSFT). Empty when nothing is close."""
        matches = self.search(text, limit=limit)
        found = {match.symbol for match in matches}
        for symbol in self._name_starts.get("".join(_words(text)), ()):
            if symbol not in found:
                found.add(symbol)
                matches.append(self._match(self._by_symbol[symbol], _NAME_PREFIX))
        wanted = text.strip().upper()
        ratios = difflib.SequenceMatcher(autojunk=False)
        ratios.set_seq2(wanted)
        close = []
        for symbol in difflib.get_close_matches(
            wanted, self._by_symbol, n=limit, cutoff=_CLOSE_SPELLING_CUTOFF
        ):
            if symbol not in found:
                ratios.set_seq1(symbol)
                close.append(self._match(self._by_symbol[symbol], _CLOSE_SPELLING * ratios.ratio()))
        return [*matches, *close][:limit]

    def is_company_name(self, text: str) -> bool:
        """True when `text` (any case) is no listed symbol but spells the start of a listed
        name: its first word ("Apple" for "Apple Inc.", "TESLA") or first words run together
        ("cocacola", "homedepot" for "The Home Depot Inc."), of at least five letters."""
        if self.contains(text):
            return False
        key = "".join(_words(text))
        return len(key) >= _SHORTEST_COMPANY_NAME and key in self._name_starts

    @staticmethod
    def _match(listing: Listing, score: float) -> SymbolMatch:
        return SymbolMatch(
            symbol=listing.symbol,
            name=listing.name,
            score=round(score, 4),
            region=listing.region,
            currency=listing.currency,
        )

    def _score(self, text: str, symbol: str, name: str) -> float:
        folded_symbol = symbol.casefold()
        if text == folded_symbol:
            return _EXACT_SYMBOL
        if folded_symbol.startswith(text):
            return _SYMBOL_PREFIX + _TIER_SPREAD * len(text) / len(symbol)
        folded_name = name.casefold()
        if folded_name.startswith(text) or folded_name.removeprefix("the ").startswith(text):
            return _NAME_PREFIX + _TIER_SPREAD * len(text) / len(name)
        words = self._names[symbol]
        if any(word.startswith(text) for word in words) or f" {text}" in f" {folded_name}":
            return _WORD_PREFIX + _TIER_SPREAD * len(text) / len(name)
        if text in folded_name:
            return _SUBSTRING + _TIER_SPREAD * len(text) / len(name)
        return 0.0


def _words(name: str) -> tuple[str, ...]:
    """Name words without punctuation, so "mcdonald" finds "McDonald's" and "at" finds AT&T."""
    cleaned = "".join(char if char.isalnum() else " " for char in name.casefold())
    return tuple(cleaned.split())


def _name_starts(words: tuple[str, ...]) -> list[str]:
    """A name's first word, first two words run together, and so on; without a leading "the"."""
    if words[:1] == ("the",):
        words = words[1:]
    return ["".join(words[:count]) for count in range(1, len(words) + 1)]
