"""The Kraken WebSocket v2 server seen by a plain WebSocket client: envelopes, errors, channels and trading.

The simulator replays the bundled market 9000x (a 15-minute candle every 0.1 s) so updates arrive quickly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from crypy.simulator import SimConfig, SimExchange
from crypy.simulator.config import Faults, KrakenServerConfig
from crypy.simulator.kraken.credentials import KeyRing, WsTokens, new_credentials
from crypy.simulator.kraken.ws_server import KrakenWsServer

from .test_kraken_ws_channels import independent_checksum

ACCOUNT = "default"
SPEED = 9000.0
Message = dict[str, Any]


@dataclass
class Venue:
    sim: SimExchange
    tokens: WsTokens
    url: str

    def token(self) -> str:
        return self.tokens.issue(ACCOUNT, self.sim.now_ms())


async def open_venue(nursery: trio.Nursery, *, run: bool = False, config: KrakenServerConfig | None = None,
                     queue_size: int = 10_000) -> Venue:
    sim = SimExchange(SimConfig(speed=SPEED))
    tokens, keyring = WsTokens(), KeyRing()
    keyring.add(new_credentials(ACCOUNT, seed=1))
    server = KrakenWsServer(sim, tokens, keyring, config, queue_size=queue_size)
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    if run:
        nursery.start_soon(sim.run)
    return Venue(sim, tokens, f"ws://127.0.0.1:{port}/v2")


class Client:
    """Sends requests and takes the messages it expects in arrival order; others wait in a backlog for later."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.backlog: list[Message] = []

    async def send(self, method: str, params: Message | None = None, req_id: int | None = None) -> None:
        request: Message = {"method": method}
        if params is not None:
            request["params"] = params
        if req_id is not None:
            request["req_id"] = req_id
        await self.ws.send_message(json.dumps(request, default=float))  # numbers, as ccxt sends them

    async def recv(self) -> Message:
        with trio.fail_after(5):
            return json.loads(await self.ws.get_message(), parse_float=Decimal)

    async def expect(self, wanted: Callable[[Message], bool]) -> Message:
        for index, message in enumerate(self.backlog):
            if wanted(message):
                return self.backlog.pop(index)
        with trio.fail_after(5):
            while True:
                message = await self.recv()
                if wanted(message):
                    return message
                self.backlog.append(message)

    async def reply(self, req_id: int) -> Message:
        return await self.expect(lambda m: m.get("req_id") == req_id)

    async def data(self, channel: str, kind: str, symbol: str | None = None) -> Message:
        return await self.expect(lambda m: m.get("channel") == channel and m.get("type") == kind
                                 and (symbol is None or m["data"][0]["symbol"] == symbol))

    async def execution(self, exec_type: str) -> Message:
        message = await self.expect(lambda m: m.get("channel") == "executions" and m["type"] == "update"
                                    and m["data"][0]["exec_type"] == exec_type)
        return message["data"][0]


def is_rfc3339(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text).year >= 2023


class _AnyTime:
    """Equal to any RFC 3339 time: replies carry the server's market time, which a test cannot predict."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and is_rfc3339(other)


ANY_TIME = _AnyTime()


def apply(book: Message, update: Message, depth: int) -> None:
    """A book update as a client applies it: qty 0 deletes a level, then the book is cut to the subscribed depth."""
    for side in ("asks", "bids"):
        levels = {level["price"]: level["qty"] for level in book[side]}
        for level in update[side]:
            if level["qty"] == 0:
                levels.pop(level["price"], None)
            else:
                levels[level["price"]] = level["qty"]
        ordered = sorted(levels.items(), reverse=side == "bids")[:depth]
        book[side] = [{"price": price, "qty": qty} for price, qty in ordered]


async def test_status_ping_pong_and_heartbeat(nursery: trio.Nursery) -> None:
    venue = await open_venue(nursery)
    async with open_websocket_url(venue.url) as ws:
        client = Client(ws)
        status = await client.recv()
        assert status["channel"] == "status" and status["data"][0]["api_version"] == "v2"
        assert status["data"][0]["system"] == "online"
        await client.send("ping", req_id=7)
        pong = await client.recv()
        assert pong["method"] == "pong" and pong["req_id"] == 7
        assert is_rfc3339(pong["time_in"]) and is_rfc3339(pong["time_out"])
        await client.send("ping")  # ccxt pings without req_id
        assert "req_id" not in await client.recv()
        assert await client.recv() == {"channel": "heartbeat"}  # idle for a second


async def test_bad_requests_are_answered_and_the_connection_survives(nursery: trio.Nursery) -> None:
    venue = await open_venue(nursery)
    async with open_websocket_url(venue.url.replace("/v2", "/v2auth")) as ws:
        client = Client(ws)
        await client.recv()
        for junk in ("not json", "[1, 2]", '{"params": {}}'):
            await ws.send_message(junk)
            assert (await client.recv())["error"] == "Malformed request"
        await client.send("frobnicate", {}, req_id=3)
        assert await client.reply(3) == {"method": "frobnicate", "error": "EGeneral:Unknown method", "success": False,
                                         "time_in": ANY_TIME, "time_out": ANY_TIME, "req_id": 3}
        await client.send("subscribe", {"channel": "tickers", "symbol": ["BTC/USD"]}, req_id=4)
        assert (await client.reply(4))["error"] == "EGeneral:Invalid arguments:channel"
        await client.send("subscribe", {"channel": "ticker", "symbol": ["XBT/USD", "BTC/USD"]}, req_id=5)
        refused, accepted = await client.reply(5), await client.reply(5)
        assert refused["success"] is False and refused["symbol"] == "XBT/USD"
        assert refused["error"] == "Currency pair not supported XBT/USD"  # v2 wants BTC/USD
        assert accepted["success"] is True and accepted["result"]["symbol"] == "BTC/USD"
        await client.send("subscribe", {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 7}, req_id=6)
        assert (await client.reply(6))["error"] == "EGeneral:Invalid arguments:interval"
        expired = venue.tokens.issue(ACCOUNT, venue.sim.now_ms() - 3_600_000)
        for req_id, token in enumerate((None, "bogus", expired), start=10):
            params = {"channel": "executions"} | ({"token": token} if token else {})
            await client.send("subscribe", params, req_id=req_id)
            assert (await client.reply(req_id))["error"] == "EAccount:Invalid permissions"
        await client.send("add_order", {"order_type": "market", "side": "buy", "order_qty": 0.001,
                                        "symbol": "BTC/USD", "token": "bogus"}, req_id=20)
        assert (await client.reply(20))["error"] == "EAccount:Invalid permissions"
        await client.send("ping", req_id=21)
        assert (await client.reply(21))["method"] == "pong"


async def test_public_channels_send_a_snapshot_then_updates(nursery: trio.Nursery) -> None:
    venue = await open_venue(nursery, run=True)
    async with open_websocket_url(venue.url) as ws:
        client = Client(ws)
        await client.send("subscribe", {"channel": "book", "symbol": ["BTC/USD"], "depth": 25}, req_id=1)
        ack = await client.reply(1)
        assert ack["result"] == {"channel": "book", "symbol": "BTC/USD", "snapshot": True, "depth": 25}
        book = (await client.data("book", "snapshot"))["data"][0]
        assert 10 < len(book["bids"]) <= 25 and book["checksum"] == independent_checksum(book)
        for _ in range(3):  # every update leaves the client's copy matching the server's checksum
            update = (await client.data("book", "update"))["data"][0]
            apply(book, update, depth=25)
            assert update["checksum"] == independent_checksum(book) and is_rfc3339(update["timestamp"])
            assert book["bids"][0]["price"] < book["asks"][0]["price"]

        await client.send("subscribe", {"channel": "ohlc", "symbol": ["ETH/USD"], "interval": 15}, req_id=2)
        assert (await client.reply(2))["result"]["interval"] == 15
        candles = (await client.data("ohlc", "snapshot"))["data"]
        assert len(candles) == 720 and all(c["interval"] == 15 and c["symbol"] == "ETH/USD" for c in candles)
        update = (await client.data("ohlc", "update", "ETH/USD"))["data"][0]
        begins = [datetime.fromisoformat(c["interval_begin"]) for c in [*candles, update]]
        assert begins == sorted(begins) and begins[-1] > begins[-2]

        await client.send("subscribe", {"channel": "trade", "symbol": ["BTC/USD"]}, req_id=3)
        await client.reply(3)
        tape = (await client.data("trade", "snapshot"))["data"]
        fresh = (await client.data("trade", "update"))["data"]
        assert len(tape) == 50 and fresh and fresh[0]["trade_id"] > tape[-1]["trade_id"]
        assert {trade["side"] for trade in tape + fresh} <= {"buy", "sell"}

        await client.send("subscribe", {"channel": "ticker", "symbol": ["ETH/USD"]}, req_id=4)
        await client.reply(4)
        for kind in ("snapshot", "update"):
            ticker = (await client.data("ticker", kind, "ETH/USD"))["data"][0]
            assert ticker["bid"] < ticker["last"] < ticker["ask"] and ticker["low"] <= ticker["high"]

        await client.send("subscribe", {"channel": "instrument"}, req_id=5)
        await client.reply(5)
        pairs = (await client.data("instrument", "snapshot"))["data"]["pairs"]
        assert {pair["symbol"] for pair in pairs} == {"BTC/USD", "ETH/USD"}

        await client.send("unsubscribe", {"channel": "ticker", "symbol": ["ETH/USD", "SOL/USD"]}, req_id=6)
        done, missing = await client.reply(6), await client.reply(6)
        assert done["success"] and not missing["success"] and missing["symbol"] == "SOL/USD"


async def test_trading_methods_and_the_executions_they_cause(nursery: trio.Nursery) -> None:
    venue = await open_venue(nursery, run=True)
    async with open_websocket_url(venue.url.replace("/v2", "/v2auth")) as ws:
        client, token = Client(ws), venue.token()
        await client.send("subscribe", {"channel": "executions", "token": token, "snap_trades": True}, req_id=1)
        assert (await client.reply(1))["result"] == {"channel": "executions", "snapshot": True}
        trades, orders = await client.data("executions", "snapshot"), await client.data("executions", "snapshot")
        assert (trades["sequence"], orders["sequence"]) == (1, 2) and trades["data"] == orders["data"] == []
        await client.send("subscribe", {"channel": "balances", "token": token}, req_id=2)
        await client.reply(2)
        held = {item["asset"]: item["balance"] for item in (await client.data("balances", "snapshot"))["data"]}
        assert held == {"USD": 10000, "BTC": Decimal("0.25")}

        low = (Decimal(str(venue.sim.ticker("XBT/USD").last)) / 2).quantize(Decimal("0.1"))
        limit = {"order_type": "limit", "side": "buy", "symbol": "BTC/USD", "token": token, "post_only": True}
        await client.send("add_order", limit | {"order_qty": 0.001, "limit_price": low, "cl_ord_id": "abc-1",
                                                "order_userref": 42}, req_id=10)
        placed = await client.reply(10)
        assert placed["success"] and placed["result"]["cl_ord_id"] == "abc-1"
        assert placed["result"]["order_userref"] == 42
        order_id = placed["result"]["order_id"]
        for exec_type in ("pending_new", "new"):
            item = await client.execution(exec_type)
            assert (item["order_id"], item["symbol"], item["side"]) == (order_id, "BTC/USD", "buy")
            assert item["order_type"] == "limit" and item["post_only"] is True
            assert (item["order_qty"], item["limit_price"], item["order_userref"]) == (Decimal("0.001"), low, 42)

        await client.send("amend_order", {"order_id": order_id, "order_qty": 0.002, "limit_price": low - 1,
                                          "token": token}, req_id=11)
        assert (await client.reply(11))["result"]["amend_id"].startswith("T")
        amended = await client.execution("amended")
        assert (amended["order_qty"], amended["limit_price"]) == (Decimal("0.002"), low - 1)

        await client.send("edit_order", {"order_id": order_id, "symbol": "BTC/USD", "limit_price": low - 2,
                                         "token": token}, req_id=12)
        edited = (await client.reply(12))["result"]
        assert edited["original_order_id"] == order_id and (await client.execution("canceled"))["order_id"] == order_id
        await client.send("cancel_order", {"order_id": [edited["order_id"], order_id], "token": token}, req_id=13)
        cancelled, unknown = await client.reply(13), await client.reply(13)
        assert cancelled["result"] == {"order_id": edited["order_id"]} and unknown["error"] == "EOrder:Unknown order"

        batch = [{"order_type": "limit", "side": "buy", "order_qty": 0.001, "limit_price": low - step}
                 for step in (3, 4)]
        await client.send("batch_add", {"symbol": "BTC/USD", "orders": batch, "token": token}, req_id=14)
        ids = [item["order_id"] for item in (await client.reply(14))["result"]]
        await client.send("batch_cancel", {"orders": ids, "token": token}, req_id=15)
        assert (await client.reply(15))["result"] == {"count": 2}
        await client.send("add_order", limit | {"order_qty": 0.00001, "limit_price": low}, req_id=16)
        assert (await client.reply(16))["error"] == "EOrder:Order minimum not met"
        await client.send("add_order", limit | {"order_qty": 0.001, "limit_price": low}, req_id=17)
        await client.reply(17)
        await client.send("cancel_all", {"token": token}, req_id=18)
        assert (await client.reply(18))["result"] == {"count": 1}
        await client.send("cancel_all_orders_after", {"timeout": 60, "token": token}, req_id=19)
        assert is_rfc3339((await client.reply(19))["result"]["triggerTime"])

        await client.send("add_order", {"order_type": "market", "side": "buy", "order_qty": 0.001,
                                        "symbol": "BTC/USD", "token": token}, req_id=20)
        await client.reply(20)
        fill = await client.execution("trade")
        assert fill["liquidity_ind"] == "t" and fill["fees"][0]["asset"] == "USD"
        assert fill["last_qty"] == Decimal("0.001") and fill["exec_id"].startswith("T")
        assert (fill["symbol"], fill["order_type"], fill["order_qty"]) == ("BTC/USD", "market", Decimal("0.001"))
        assert (fill["order_status"], fill["cum_qty"]) == ("filled", Decimal("0.001"))  # the fill counted
        assert (await client.execution("filled"))["cum_qty"] == Decimal("0.001")
        ledger = await client.data("balances", "update")
        legs = {entry["asset"]: entry for entry in ledger["data"]}
        assert legs["BTC"]["amount"] == Decimal("0.001") and legs["BTC"]["balance"] == Decimal("0.251")
        assert legs["USD"]["amount"] == -fill["cost"] and legs["USD"]["fee"] == fill["fees"][0]["qty"]

        # the token has outlived its 15 market minutes, but a connection that used it is open: it is still good
        assert venue.tokens.account(token, venue.sim.now_ms()) is None
        async with open_websocket_url(venue.url) as ws2:
            other = Client(ws2)
            await other.send("subscribe", {"channel": "balances", "token": token}, req_id=1)
            assert (await other.reply(1))["success"]


async def test_a_client_that_cannot_keep_up_is_disconnected(nursery: trio.Nursery) -> None:
    venue = await open_venue(nursery, queue_size=2)
    async with open_websocket_url(venue.url) as ws:
        client = Client(ws)
        await client.recv()
        # four messages queued at once (two acks, two 720-candle snapshots) overflow a queue of two
        await client.send("subscribe", {"channel": "ohlc", "symbol": ["BTC/USD", "ETH/USD"], "interval": 15})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv()
        assert closed.value.reason.code == 1008 and "too slow" in closed.value.reason.reason


async def test_configured_disconnects_and_shutdown_close_connections(nursery: trio.Nursery) -> None:
    config = KrakenServerConfig(faults=Faults(ws_disconnect_interval=0.3))
    async with trio.open_nursery() as server:
        venue = await open_venue(server, config=config)
        async with open_websocket_url(venue.url) as ws:
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(2):
                while True:
                    await ws.get_message()
            assert closed.value.reason.code == 1001
        async with open_websocket_url(venue.url) as ws:  # the client reconnects; then the server shuts down
            await ws.get_message()
            server.cancel_scope.cancel()
            with pytest.raises(ConnectionClosed), trio.fail_after(2):
                while True:
                    await ws.get_message()
