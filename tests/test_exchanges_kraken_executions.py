"""KrakenExecutions (order-change hints from the private WebSocket v2) against the simulator's real Kraken servers.

The frames in ``FRAMES`` were captured from the simulator's server; the malformed ones are those frames broken
on purpose, since the simulator never sends a broken frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import trio
from structlog.testing import capture_logs
from trio_websocket import WebSocketRequest, serve_websocket

from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.kraken_executions import RECONNECTED, ExecutionNotice, KrakenExecutions, notices_in
from crypy.protocols import OrderStatus, OrderType, Side
from crypy.simulator import SimExchange
from crypy.simulator.config import Faults

from . import test_exchanges_kraken
from .test_exchanges_kraken import PAIR, adapter, sim_config, start

opened = test_exchanges_kraken.opened  # the fixture that closes adapters

CLIENT_ID = "XBT/USD@USD:entry:000001"  # too long for a cl_ord_id: the adapter sends a UUID derived from it
CL_ORD_ID = "0aa9a80a-90d6-5ed7-b713-1c305e69d451"
FRAMES = {
    "status": '{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2",'
              '"connection_id":1}]}',
    "ack": '{"method":"subscribe","result":{"channel":"executions","snapshot":true},"success":true,'
           '"time_in":"2023-01-08T12:00:00.000000Z","time_out":"2023-01-08T12:00:00.000000Z","req_id":1}',
    "snapshot": '{"channel":"executions","type":"snapshot","data":[],"sequence":1}',
    "refused": '{"method":"subscribe","error":"EAccount:Invalid permissions","success":false,'
               '"time_in":"2023-01-08T12:00:00.000000Z","time_out":"2023-01-08T12:00:00.000000Z","req_id":2}',
    "new": '{"channel":"executions","type":"update","data":[{"exec_type":"new","order_id":"O41PJS-O2KRV-6SK1WJ",'
           '"symbol":"BTC/USD","side":"buy","order_type":"limit","order_qty":0.01000000,"order_status":"new",'
           '"time_in_force":"GTC","order_userref":0,"post_only":false,"cum_qty":0,"cum_cost":0,"avg_price":0,'
           '"fee_ccy_pref":"fciq","timestamp":"2023-01-08T12:00:00.000000Z","fee_usd_equiv":0,'
           '"cl_ord_id":"0aa9a80a-90d6-5ed7-b713-1c305e69d451","limit_price":17275.7}],"sequence":3}',
    "trade": '{"channel":"executions","type":"update","data":[{"exec_type":"trade","exec_id":"T6936L-06YQD-PV68R5",'
             '"trade_id":2363272358,"order_id":"O41PJS-O2KRV-6SK1WJ","symbol":"BTC/USD","side":"buy",'
             '"order_type":"limit","order_qty":0.01000000,"order_userref":0,"order_status":"filled",'
             '"last_qty":0.01000000,"last_price":16941.2,"cost":169.412000000,"liquidity_ind":"t",'
             '"fees":[{"asset":"USD","qty":0.44047}],"cum_qty":0.01000000,"cum_cost":169.412000000,'
             '"avg_price":16941.2,"fee_ccy_pref":"fciq","timestamp":"2023-01-08T12:15:00.000000Z",'
             '"fee_usd_equiv":0.44047,"cl_ord_id":"0aa9a80a-90d6-5ed7-b713-1c305e69d451"}],"sequence":4}',
    "heartbeat": '{"channel":"heartbeat"}',
}
NEW = ExecutionNotice(order_id="O41PJS-O2KRV-6SK1WJ", client_id=CL_ORD_ID, exec_type="new", order_status="new",
                      ts=1673179200000)


def frame(name: str) -> Any:
    return json.loads(FRAMES[name], parse_float=Decimal)


def broken(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A captured frame whose only item ``change`` breaks."""
    message = frame(name)
    change(message["data"][0])
    return message


def test_real_frames_become_notices_and_broken_ones_are_logged_and_skipped() -> None:
    assert [notices_in(frame(name)) for name in ("status", "ack", "snapshot", "refused", "heartbeat")] == [[]] * 5
    assert notices_in(frame("new")) == [NEW]
    [trade] = notices_in(frame("trade"), {CL_ORD_ID: CLIENT_ID}.get)
    assert (trade.exec_type, trade.order_status, trade.client_id, trade.ts) == ("trade", "filled", CLIENT_ID,
                                                                                1673180100000)
    no_client = broken("new", lambda item: item.pop("cl_ord_id"))
    assert notices_in(no_client, lambda _: "never asked") == [msgspec.structs.replace(NEW, client_id="")]
    malformed = [
        [1, 2, 3], "text", {"channel": "executions", "type": "update", "data": "oops"},
        broken("new", lambda item: item.pop("order_id")), broken("new", lambda item: item.update(order_id=7)),
        broken("new", lambda item: item.update(timestamp="yesterday")), broken("new", lambda item: item.clear()),
    ]
    with capture_logs() as logs:
        assert [notices_in(message) for message in malformed] == [[]] * len(malformed)
    assert len(logs) == len(malformed) and {entry["log_level"] for entry in logs} == {"warning"}
    mixed = frame("new")
    mixed["data"] = ["not an item", *mixed["data"], {"exec_type": "new"}]
    with capture_logs() as logs:
        assert notices_in(mixed) == [NEW]  # the good item among bad ones still counts
    assert [entry["event"] for entry in logs] == ["kraken executions: malformed item skipped"] * 2


async def test_garbage_on_the_wire_neither_stops_nor_reconnects_the_client(nursery: trio.Nursery) -> None:
    """A stand-in server (the simulator sends no garbage) acknowledges, then sends broken frames, then a good one."""
    async def serve(request: WebSocketRequest) -> None:
        ws = await request.accept()
        subscribe = json.loads(await ws.get_message())
        assert subscribe["params"] == {"channel": "executions", "token": "T", "snap_orders": True,
                                       "snap_trades": False}
        await ws.send_message(FRAMES["ack"].replace('"req_id":1', f'"req_id":{subscribe["req_id"]}'))
        for text in ("not json {", "[1, 2]", '{"channel":"executions","data":{}}', FRAMES["heartbeat"],
                     msgspec.json.encode(broken("new", lambda item: item.pop("order_id"))).decode(), FRAMES["new"]):
            await ws.send_message(text)
        await trio.sleep_forever()

    server = await nursery.start(serve_websocket, serve, "127.0.0.1", 0, None)

    async def token() -> str:
        return "T"

    executions = KrakenExecutions(f"ws://127.0.0.1:{server.port}/v2auth", token)
    send, receive = trio.open_memory_channel[ExecutionNotice](100)
    with capture_logs() as logs:
        await nursery.start(executions.run, send)
        with trio.fail_after(5):
            assert await receive.receive() == NEW
    assert executions.connects == 1 and executions.disconnects == 0 and executions.notices == 1
    assert len([entry for entry in logs if entry["log_level"] == "warning"]) == 4


async def test_an_order_placed_through_the_adapter_is_announced_under_its_crypy_client_id(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    endpoints = await start(nursery, sim)
    exchange = adapter(endpoints, opened, ws_private_url=endpoints.ws_private_url)
    send, receive = trio.open_memory_channel[ExecutionNotice](100)
    await nursery.start(exchange.watch_orders, send)  # subscribed: nothing placed from now on goes unannounced
    last = Decimal(str(sim.ticker(PAIR).last))
    placed = await exchange.place_order(client_id=CLIENT_ID, pair=PAIR, side=Side.BUY, order_type=OrderType.LIMIT,
                                        amount=Decimal("0.01"), price=(last * Decimal("1.02")).quantize(Decimal("0.1")))
    await nursery.start(sim.run)
    notices: list[ExecutionNotice] = []
    with trio.fail_after(10):
        async for notice in receive:
            notices.append(notice)
            if notice.exec_type == "filled":
                break
    assert [(n.exec_type, n.order_status) for n in notices] == [
        ("pending_new", "pending_new"), ("new", "new"), ("trade", "filled"), ("filled", "filled")]
    assert {(n.order_id, n.client_id) for n in notices} == {(placed.id, CLIENT_ID)}
    assert notices[-1].ts == sim.order("main", placed.id).ts
    assert exchange.executions.connects == 1 and exchange.executions.notices == 4


async def test_without_a_private_websocket_watching_orders_reports_started_and_ends() -> None:
    exchange = KrakenCcxtExchange(None, None)
    send, _ = trio.open_memory_channel[ExecutionNotice](1)
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.watch_orders, send)
    assert exchange.executions.connects == 0
    await exchange.close()


async def test_forced_disconnects_are_reconnected_announced_and_later_orders_still_announced(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    endpoints = await start(nursery, sim, faults=Faults(ws_disconnect_interval=1.0))
    exchange = adapter(endpoints, opened)
    assert endpoints.ws_private_url
    tokens: list[str] = []

    async def token() -> str:
        tokens.append(await exchange.ws_token())
        return tokens[-1]

    executions = KrakenExecutions(endpoints.ws_private_url, token, client_id_for=exchange.client_id_for,
                                  clock=sim.now_ms, ping_s=0.5, reconnect_s=0.05)
    send, receive = trio.open_memory_channel[ExecutionNotice](1000)
    await nursery.start(executions.run, send)
    await nursery.start(sim.run)
    placed: dict[str, str] = {}  # order id -> client id

    async def place(client_id: str) -> None:
        order = await exchange.place_order(client_id=client_id, pair=PAIR, side=Side.BUY,
                                           order_type=OrderType.MARKET, amount=Decimal("0.001"))
        placed[order.id] = client_id

    notices: list[ExecutionNotice] = []
    with trio.move_on_after(5.5):
        async for notice in receive:
            notices.append(notice)
            if notice.exec_type == RECONNECTED:
                nursery.start_soon(place, f"after-reconnect-{len(placed)}")
    reconnections = [i for i, n in enumerate(notices) if n.exec_type == RECONNECTED]
    assert executions.connects >= 4 and executions.disconnects >= executions.connects - 1
    # (the last connection may have opened just before the end, not yet subscribed)
    assert executions.connects - 2 <= len(reconnections) <= executions.connects - 1
    assert len(set(tokens)) == len(tokens) and executions.connects - 1 <= len(tokens) <= executions.connects
    assert len(placed) >= 3
    for order_id, client_id in placed.items():
        about = [i for i, n in enumerate(notices) if n.order_id == order_id]
        assert about and {notices[i].client_id for i in about} == {client_id}
        # each order is announced up to its fill, or a later reconnection tells the desk to look again
        assert notices[about[-1]].exec_type == "filled" or reconnections[-1] > about[-1]
        assert sim.order("main", order_id).status is OrderStatus.FILLED or order_id == list(placed)[-1]
    assert executions.notices == len(notices)


async def test_an_invalid_token_is_logged_as_an_error_and_retried_with_a_fresh_one(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    endpoints = await start(nursery, sim)
    exchange = adapter(endpoints, opened)
    assert endpoints.ws_private_url
    asked: list[int] = []

    async def token() -> str:  # two stale tokens first, then good ones
        asked.append(len(asked))
        return "expired-token" if len(asked) <= 2 else await exchange.ws_token()

    executions = KrakenExecutions(endpoints.ws_private_url, token, client_id_for=exchange.client_id_for,
                                  reconnect_s=0.05)
    send, receive = trio.open_memory_channel[ExecutionNotice](100)
    with capture_logs() as logs:
        with trio.fail_after(5):
            await nursery.start(executions.run, send)
    refusals = [entry for entry in logs if entry["event"] == "kraken ws: request refused"]
    assert len(refusals) == 2 and {entry["log_level"] for entry in refusals} == {"error"}
    assert all("EAccount:Invalid permissions" in entry["error"] for entry in refusals)
    assert [entry["retry_in"] for entry in refusals] == [0.05, 0.1]  # the pause grows while refused
    assert len(asked) == executions.connects == 3
    placed = await exchange.place_order(client_id="after-refusals", pair=PAIR, side=Side.BUY,
                                        order_type=OrderType.MARKET, amount=Decimal("0.001"))
    with trio.fail_after(5):
        notice = await receive.receive()
    assert (notice.order_id, notice.client_id, notice.exec_type) == (placed.id, "after-refusals", "pending_new")


async def test_a_token_that_is_always_refused_is_retried_with_capped_pauses(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    endpoints = await start(nursery, sim)
    assert endpoints.ws_private_url

    async def token() -> str:
        return "bogus"

    executions = KrakenExecutions(endpoints.ws_private_url, token, reconnect_s=0.02, max_reconnect_s=0.1)
    send, _ = trio.open_memory_channel[ExecutionNotice](1)
    with capture_logs() as logs:
        with trio.move_on_after(1.0):
            await executions.run(send)  # never started: it keeps trying
    pauses = [entry["retry_in"] for entry in logs if entry["event"] == "kraken ws: request refused"]
    assert pauses[:4] == [0.02, 0.04, 0.08, 0.1] and set(pauses[3:]) == {0.1}
    assert executions.connects == len(pauses) >= 6 and executions.notices == 0
