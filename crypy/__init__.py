"""crypy: a trading system for crypto exchanges, built from trio actors (Desk, Holders, Traders)."""

__version__ = "0.1.0"
