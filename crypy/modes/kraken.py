"""``crypy kraken``: the desk on Kraken, live or on paper.

Live trading needs an API key: from ``CRYPY_KRAKEN_KEY`` / ``CRYPY_KRAKEN_SECRET`` or a key file
(``{"apiKey": ..., "secret": ...}``, the format ``crypy simulator --credentials-file`` writes). crypy refuses to
start without one and never prints or logs the secret. Paper trading needs no key: prices and candles are
Kraken's (REST), orders fill in a local matching engine, the same one the simulator uses, on a paper balance.
``api_url`` points either at another Kraken-compatible server, such as ``crypy simulator``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import trio

from crypy.actors.registry import format_actors
from crypy.actors.template_files import load_templates
from crypy.exchanges import Exchange
from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.kraken_feed import KrakenFeed
from crypy.exchanges.paper import PaperExchange
from crypy.protocols import Candle, Event
from crypy.store.candles import default_candle_store_path

from .summary import RunSummary
from .system import open_system, wait_for_stop

KEY_ENV, SECRET_ENV = "CRYPY_KRAKEN_KEY", "CRYPY_KRAKEN_SECRET"


class MissingCredentials(ValueError):
    """Live trading was asked for without an API key."""


@dataclass
class KrakenOptions:
    paper: bool = False
    api_url: str | None = None
    ws_url: str | None = None
    paper_balance: dict[str, Decimal] | None = None
    key_file: Path | None = None
    db: Path = Path("crypy-kraken.db")
    repl_port: int = 7100
    template_dir: Path | None = None
    duration: float | None = None
    rate_limit: bool = True


def live_credentials(key_file: Path | None) -> tuple[str, str]:
    """The API key and secret, from the key file when given, else from the environment."""
    if key_file is not None:
        try:
            raw = json.loads(key_file.read_text())
            return str(raw["apiKey"]), str(raw["secret"])
        except OSError as exc:
            raise MissingCredentials(f"{key_file}: cannot read the key file: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError):
            raise MissingCredentials(f'{key_file}: expected JSON with "apiKey" and "secret"') from None
    key, secret = os.environ.get(KEY_ENV, ""), os.environ.get(SECRET_ENV, "")
    if not key or not secret:
        raise MissingCredentials(f"live trading needs an API key: set {KEY_ENV} and {SECRET_ENV}, or pass "
                                 "--key-file (or use --paper)")
    return key, secret


def balance_item(text: str) -> tuple[str, Decimal]:
    """``"USD=10000"`` as ``("USD", Decimal(10000))``; ValueError for anything but a non-negative amount."""
    asset, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except ArithmeticError:
        value = Decimal("NaN")
    if not sep or not asset or not value.is_finite() or value < 0:
        raise ValueError(f"expected ASSET=AMOUNT, e.g. USD=10000, got {text!r}")
    return asset.upper(), value


def parse_balance(items: list[str]) -> dict[str, Decimal]:
    """``["USD=10000", "XBT=0.5"]`` as exact amounts."""
    try:
        return dict(balance_item(item) for item in items)
    except ValueError as exc:
        raise ValueError(f"--paper-balance: {exc}") from None


async def _feed_paper(paper: PaperExchange, ws_url: str, task_status: trio.TaskStatus[None]) -> None:
    """Closed candles from Kraken's WebSocket v2 feed go straight into the paper engine."""
    pairs = list(await paper.markets())
    feed = KrakenFeed(ws_url, names=await paper.public.names(), ohlc=[(pair, paper.timeframe) for pair in pairs])
    send, receive = trio.open_memory_channel[Event](1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run, send)
        task_status.started()
        async for event in receive:
            if isinstance(event, Candle):
                await paper.feed(event)


async def run_kraken(options: KrakenOptions, out: TextIO = sys.stdout) -> RunSummary:
    templates = load_templates(options.template_dir)
    exchange: Exchange
    async with trio.open_nursery() as nursery:
        if options.paper:
            public = KrakenCcxtExchange(None, None, account="paper", rest_url=options.api_url,
                                        rate_limit=options.rate_limit)
            paper = PaperExchange(public, options.paper_balance or templates.desk.paper.balance,
                                  timeframe=templates.desk.market_data.timeframe)
            await paper.catch_up(list(await paper.markets()))
            await nursery.start(paper.run)
            if options.ws_url:
                await nursery.start(_feed_paper, paper, options.ws_url)
            exchange = paper
        else:
            key, secret = live_credentials(options.key_file)
            exchange = KrakenCcxtExchange(key, secret, account="main", rest_url=options.api_url,
                                          rate_limit=options.rate_limit)
        try:
            # Only Kraken's own candles are cached: another server's (a simulator's) are not Kraken's history.
            store = default_candle_store_path() if options.api_url is None else None
            async with open_system(exchange, templates=templates, db=options.db, repl_port=options.repl_port,
                                   candle_store=store) as system:
                print(format_actors(system.runtime.registry.actors()), file=out, flush=True)
                print(f"desk REPL: telnet {system.desk.repl_address.replace(':', ' ')}   journal: {options.db}",
                      file=out, flush=True)
                system.stopped_because = await wait_for_stop(options.duration)
        finally:
            await exchange.close()
        nursery.cancel_scope.cancel()
    return system.summary()
