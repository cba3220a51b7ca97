"""Streaming market data feeds (domain.streaming.StreamFeed): Alpaca and Finnhub."""
