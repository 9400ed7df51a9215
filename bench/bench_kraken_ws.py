"""How many OHLC updates per second the Kraken WebSocket v2 server delivers to one client.

The exchange and its WebSocket server run in a child process (so the client does not share their GIL); the client
subscribes to 15-minute OHLC for BTC/USD and ETH/USD, then the replay of the bundled market runs as fast as it
can (speed 1e9). The figure is ohlc update messages received by the client per second, from the replay's start
until the last candle's update arrives. ``replay_seconds`` is when the exchange finished replaying (the server
queues what the socket cannot take yet, so the client may still be receiving); the same replay with nobody
subscribed gives the exchange's own pace. Each update is one WebSocket message and one ``send`` system call.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from multiprocessing.connection import Connection
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

from crypy.simulator import SimConfig, SimExchange
from crypy.simulator.kraken.credentials import KeyRing, WsTokens
from crypy.simulator.kraken.ws_server import KrakenWsServer

RESULTS = Path(__file__).parent / "results" / "kraken_ws.json"
SYMBOLS = ["BTC/USD", "ETH/USD"]
SPEED = 1e9


def _exchange(pipe: Connection, subscribed: bool) -> None:
    trio.run(_serve, pipe, subscribed)


async def _serve(pipe: Connection, subscribed: bool) -> None:
    """Serve until told to go, replay everything, report how many candles closed and how long it took."""
    sim = SimExchange(SimConfig(speed=SPEED))
    closed: list[int] = []
    sim.add_candle_listener(lambda candle: closed.append(candle.ts))
    server = KrakenWsServer(sim, WsTokens(), KeyRing(), queue_size=10_000_000)  # measure, never drop
    async with trio.open_nursery() as nursery:
        pipe.send(await nursery.start(server.serve, "127.0.0.1", 0))
        if subscribed:
            await trio.to_thread.run_sync(pipe.recv)
        start = time.perf_counter()
        await sim.run()
        pipe.send((len(closed), time.perf_counter() - start))
        await trio.to_thread.run_sync(pipe.recv)
        nursery.cancel_scope.cancel()


async def _client(port: int, pipe: Connection) -> tuple[int, float, tuple[int, float]]:
    """Subscribe, start the replay, count updates until as many arrived as candles closed.

    The client reads in 64 KiB chunks and queues decoded messages generously, so that it is not what limits.
    """
    url = f"ws://127.0.0.1:{port}/v2"
    async with open_websocket_url(url, max_message_size=2**24, message_queue_size=4096,
                                  receive_buffer_size=2**16) as ws:
        await ws.send_message(json.dumps({"method": "subscribe", "req_id": 1,
                                          "params": {"channel": "ohlc", "symbol": SYMBOLS, "interval": 15}}))
        snapshots = 0
        while snapshots < len(SYMBOLS):
            snapshots += '"type":"snapshot"' in await ws.get_message()
        pipe.send("go")
        start = time.perf_counter()
        replayed: list[tuple[int, float]] = []
        received, last = 0, start
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_wait_for_replay, pipe, replayed)
            while not replayed or received < replayed[0][0]:
                message = await ws.get_message()
                if message.startswith('{"channel":"ohlc","type":"update"'):
                    received += 1
                    last = time.perf_counter()
        return received, last - start, replayed[0]


async def _wait_for_replay(pipe: Connection, replayed: list[tuple[int, float]]) -> None:
    """The child reports (candles closed, seconds) when its replay ends; heartbeats keep the reader going."""
    replayed.append(await trio.to_thread.run_sync(pipe.recv))


def _run(subscribed: bool) -> dict[str, float]:
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_exchange, args=(there, subscribed))
    child.start()
    try:
        port = here.recv()
        if subscribed:
            received, seconds, (candles, replay_seconds) = trio.run(_client, port, here)
            figures = {"updates": received, "candles": candles, "seconds": round(seconds, 3),
                       "updates_per_second": round(received / seconds), "replay_seconds": round(replay_seconds, 3)}
        else:
            candles, seconds = here.recv()
            figures = {"candles": candles, "seconds": round(seconds, 3), "candles_per_second": round(candles / seconds)}
        here.send("stop")
    finally:
        child.join(30)
    return figures


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    delivered, alone = _run(subscribed=True), _run(subscribed=False)
    if delivered["updates"] != delivered["candles"]:
        raise SystemExit(f"the client missed updates: {delivered}")
    figures = {"client": delivered, "replay_without_clients": alone, "speed": SPEED, "symbols": SYMBOLS,
               "python": platform.python_version(), "machine": platform.machine()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"kraken ws: {delivered['updates']} ohlc updates in {delivered['seconds']:.2f} s = "
          f"{delivered['updates_per_second']:,} updates/s to one client "
          f"(replay alone: {alone['candles_per_second']:,} candles/s) -> {RESULTS}")


if __name__ == "__main__":
    main()
