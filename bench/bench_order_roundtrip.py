"""How long an order takes from a trader's request to its fill coming back: trader -> desk -> simulator -> trader.

A real ``crypy sim`` system runs twice: the desk reaching the simulator through the ccxt Kraken client over
Kraken's REST API on 127.0.0.1 (the default of ``crypy sim``), then in-process (``SimOptions(in_process=True)``).
The bench is the trader: ``--traders`` traders of its own publish ``OrderRequest``s on the bus under holder
approvals signed with the desk's holder key, alternating buy and sell of a minimum-size lot, and each waits for its
``Fill`` on ``Topic.FILLS`` before its next order. The system's own traders retire at once (the bench's holder
template refuses every proposal); the desk runs the shipped desk.toml, its brakes on order rate and open orders
raised for the load. The path is the real one: bus, ``OrderGate`` (signature, ledger), SQLite journal, exchange
adapter, matching engine, the desk's fill poller, journal again, bus.

The simulator fills an order only at the next candle close of the replay (market and marketable limit orders
alike: nothing fills at placement), so the round trip holds a wait for the market set by ``--speed``. The bench
stamps each order inside the system too (engine listener, a timing wrapper on the adapter's ``fills_since``):

* ``request -> exchange``: bus, gate, journal, adapter, until the matching engine holds the order;
* ``request -> acked``: until the desk's ``Order`` event for it is back at the trader;
* ``market wait``: on the exchange until the candle close that fills it (replay speed);
* ``poll wait``: filled until the desk's sync that finds it begins (woken by the exchange's pushed order news,
  Kraken's ``executions`` or the engine's listener, else by ``orders.poll_seconds``);
* ``fill -> trader``: that sync, booking, journal and bus, until the trader has the ``Fill``.

Each trader pauses a random time (up to ``--think``, one candle by default) before an order, so orders arrive at
every phase of the candle and poll cycles. ``orders/s`` is what this load achieved, not the system's ceiling.
Writes ``bench/results/order_roundtrip.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import ccxt
import tomlkit
import trio

from crypy.actors.approval import sign
from crypy.actors.bus import Subscription, Topic
from crypy.actors.template_files import default_template_dir, load_templates
from crypy.logs import configure_logging
from crypy.modes.sim import SimOptions, open_sim_system
from crypy.modes.system import RunningSystem
from crypy.protocols import Approval, Fill, MarketInfo, Order, OrderRefused, OrderRequest, OrderType, Side
from crypy.simulator import SimExchange
from crypy.store import JournalReader

RESULTS = Path(__file__).parent / "results" / "order_roundtrip.json"
PATHS = {"ccxt": False, "in-process": True}
PAIRS = ("XBT/USD", "ETH/USD")
LIMIT_MARGIN = Decimal("0.01")
"""A marketable limit buy is priced this far above the last price (a sell below), so the next open crosses it."""
TRIP_TIMEOUT = 30.0
STAGES = ("request -> exchange", "request -> acked", "market wait", "poll wait", "fill -> trader")

HOLDER_TOML = """\
# The bench's holder: no proposal can meet these criteria, so the system's own traders retire at once and do not
# come back; the bench's traders, with approvals of their own, are the only ones trading.
[criteria]
min_return = 1e9
min_trades = 1000000

[lifecycle]
respawn_seconds = 86400
"""


def write_templates(directory: Path, *, poll_seconds: float | None, max_orders: int) -> Path:
    """The shipped desk.toml and trader.toml, the bench's holder.toml; returns ``directory``.

    The desk's brakes against a runaway trader (orders per minute, open orders) are raised for the bench's load,
    and ``orders.poll_seconds`` is set when asked; everything else is the shipped desk template.
    """
    desk = tomlkit.parse((default_template_dir() / "desk.toml").read_text())
    desk["limits"]["max_orders_per_minute"] = 100 * max_orders  # type: ignore[index]
    desk["limits"]["max_open_orders"] = 10 * max_orders  # type: ignore[index]
    if poll_seconds is not None:
        desk["orders"]["poll_seconds"] = poll_seconds  # type: ignore[index]
    (directory / "desk.toml").write_text(tomlkit.dumps(desk))
    (directory / "holder.toml").write_text(HOLDER_TOML)
    templates = load_templates(directory)
    if templates.holder.criteria.min_return < 1e9 or templates.desk.limits.max_open_orders < 10 * max_orders:
        raise SystemExit(f"{directory}: the bench's templates did not load as written")
    return directory


@dataclass
class Trip:
    """One order's round trip; times are ``time.perf_counter()`` seconds."""

    client_id: str
    amount: Decimal
    sent: float = 0.0
    acked: float | None = None
    filled: float | None = None
    filled_amount: Decimal = Decimal(0)
    fills: int = 0
    maker_fills: int = 0
    order_id: str = ""
    refused: str = ""
    done: trio.Event = field(default_factory=trio.Event)


@dataclass
class Probe:
    """Stamps from inside the system, by exchange order id: the engine's listener and the desk's fill polls."""

    placed: dict[str, float] = field(default_factory=dict)
    matched: dict[str, float] = field(default_factory=dict)
    polled: dict[str, float] = field(default_factory=dict)

    def on_engine(self, account: str, event: Order | Fill) -> None:
        now = time.perf_counter()
        if isinstance(event, Fill):
            self.matched[event.order_id] = now  # the last fill: the one that completes the order
        else:
            self.placed.setdefault(event.id, now)

    def wrap_fills_since(self, exchange: Any) -> None:
        """Time each ``fills_since`` call of the desk's adapter: when the poll that found a fill began."""
        original: Callable[[int], Any] = exchange.fills_since

        async def fills_since(cursor: int) -> tuple[list[Fill], int]:
            started = time.perf_counter()
            fills, cursor = await original(cursor)
            for fill in fills:
                self.polled[fill.order_id] = started
            return fills, cursor

        exchange.fills_since = fills_since


def _lot(market: MarketInfo, last: Decimal) -> Decimal:
    """The smallest round amount above the market's minimums, with room to spare on the minimum cost."""
    amount = Decimal(market.min_amount)
    while amount * last < 2 * Decimal(market.min_cost):
        amount *= 2
    return amount


class BenchTraders:
    """The bench's traders on one running system: each sends an order, waits for its fill, and goes again."""

    def __init__(self, system: RunningSystem, sim: SimExchange, *, traders: int, think: float, seed: int) -> None:
        self.system = system
        self.sim = sim
        self.traders = traders
        self.think = think
        self.rng = random.Random(seed)
        self.trips: dict[str, Trip] = {}
        self.phase = ""
        key = system.desk._holder_keys["USD"]
        self.approvals: dict[str, Approval] = {}
        for k in range(traders):
            name, pair = f"bench{k}@USD", PAIRS[k % len(PAIRS)]
            self.approvals[name] = sign(key, id=f"USD-bench{k}", holder="USD", trader=name, pair=pair, asset="USD",
                                        amount=Decimal(2000), expires=2**62)

    async def dispatch(self, sub: Subscription) -> None:
        """Stamp the desk's answers (order acks, fills, refusals) as they reach the traders' subscription."""
        with sub:
            async for event in sub:
                trip = self.trips.get(getattr(event, "client_id", ""))
                if trip is None:
                    continue
                now = time.perf_counter()
                if isinstance(event, Order):
                    trip.acked = trip.acked or now
                    trip.order_id = event.id
                elif isinstance(event, Fill):
                    trip.order_id, trip.fills = event.order_id, trip.fills + 1
                    trip.maker_fills += event.liquidity == "maker"
                    trip.filled_amount += event.amount
                    if trip.filled_amount >= trip.amount:
                        trip.filled = now
                        trip.done.set()
                elif isinstance(event, OrderRefused):
                    trip.refused = event.reason
                    trip.done.set()

    def _request(self, name: str, seq: int, side: Side, order_type: OrderType) -> OrderRequest:
        approval = self.approvals[name]
        market = self.system.desk.markets[approval.pair]
        last = self.sim.ticker(approval.pair).last
        price = None
        if order_type is OrderType.LIMIT:
            tick = Decimal(1).scaleb(-market.price_decimals)
            away = 1 + LIMIT_MARGIN if side is Side.BUY else 1 - LIMIT_MARGIN
            price = (Decimal(repr(last)) * away).quantize(tick, rounding=ROUND_DOWN)
        return OrderRequest(ts=self.system.runtime.now_ms(), client_id=f"{self.phase}-{name}-{seq}", trader=name,
                            pair=approval.pair, side=side, order_type=order_type, price=price, approval=approval,
                            amount=_lot(market, Decimal(repr(last))))

    async def _trade(self, name: str, orders: int, order_type: OrderType, done: list[Trip]) -> None:
        bus = self.system.runtime.bus
        for seq in range(orders):
            await trio.sleep(self.rng.uniform(0, self.think))
            request = self._request(name, seq, Side.BUY if seq % 2 == 0 else Side.SELL, order_type)
            trip = self.trips[request.client_id] = Trip(request.client_id, request.amount)
            trip.sent = time.perf_counter()
            await bus.publish(Topic.ORDER_REQUESTS, request)
            with trio.fail_after(TRIP_TIMEOUT):
                await trip.done.wait()
            if trip.refused:
                raise SystemExit(f"{request.client_id} ({request.side} {request.amount} {request.pair}) was refused: "
                                 f"{trip.refused}")
            done.append(trip)

    async def run(self, phase: str, per_trader: int, order_type: OrderType) -> tuple[list[Trip], float]:
        """``per_trader`` orders (buy, sell, ...) from every trader at once; the trips and the seconds taken."""
        self.phase = phase
        done: list[Trip] = []
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for name in self.approvals:
                nursery.start_soon(self._trade, name, per_trader, order_type, done)
        return done, time.perf_counter() - started


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latency_ms(samples: list[float]) -> dict[str, float]:
    return {"count": len(samples), "p50": round(_percentile(samples, 0.5) * 1000, 2),
            "p99": round(_percentile(samples, 0.99) * 1000, 2), "mean": round(statistics.fmean(samples) * 1000, 2),
            "max": round(max(samples) * 1000, 2)}


def _figures(trips: list[Trip], seconds: float, probe: Probe) -> dict[str, Any]:
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for trip in trips:
        assert trip.filled is not None and trip.acked is not None
        placed, matched, polled = (probe.placed.get(trip.order_id), probe.matched.get(trip.order_id),
                                   probe.polled.get(trip.order_id))
        stages["request -> acked"].append(trip.acked - trip.sent)
        if placed is not None and matched is not None and polled is not None:
            stages["request -> exchange"].append(placed - trip.sent)
            stages["market wait"].append(matched - placed)
            stages["poll wait"].append(max(0.0, polled - matched))
            stages["fill -> trader"].append(trip.filled - max(polled, matched))
    return {"orders": len(trips), "seconds": round(seconds, 2), "orders_per_second": round(len(trips) / seconds, 1),
            "partial_fills": sum(trip.fills > 1 for trip in trips), "maker_fills": sum(t.maker_fills for t in trips),
            "round_trip_ms": _latency_ms([trip.filled - trip.sent for trip in trips]),
            "stages_ms": {stage: _latency_ms(samples) for stage, samples in stages.items() if samples}}


def _check_journal(db: Path, trips: list[Trip]) -> None:
    """Every bench request, order and fill is in the journal the desk wrote."""
    with JournalReader(db) as reader:
        requests = {r.client_id for r in reader.order_requests() if r.trader.startswith("bench")}
        orders = {o.client_id: o for o in reader.orders() if o.trader.startswith("bench")}
        fills = [f for f in reader.fills() if f.trader.startswith("bench")]
    sent = {trip.client_id for trip in trips}
    if not sent <= requests or not sent <= orders.keys() or len(fills) < len(trips):
        raise SystemExit(f"the journal lacks bench events: {len(sent - requests)} requests, "
                         f"{len(sent - orders.keys())} orders missing; {len(fills)} fills for {len(trips)} orders")
    if any(not order.status.is_terminal for order in orders.values()):
        raise SystemExit("a bench order is still open in the journal")


async def _wait_for_retirement(system: RunningSystem, timeout: float = 60.0) -> None:
    """Until the system's own traders have proposed, been refused and retired."""
    with trio.fail_after(timeout):
        while system.desk.traders():
            await trio.sleep(0.05)


async def measure_path(in_process: bool, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    db = tmp / f"journal-{'in-process' if in_process else 'ccxt'}.db"
    options = SimOptions(speed=args.speed, db=db, repl_port=0, template_dir=tmp / "templates", in_process=in_process,
                         seed=args.seed)
    per_trader = 2 * math.ceil(args.n / args.traders / 2)
    results: dict[str, Any] = {}
    all_trips: list[Trip] = []
    async with open_sim_system(options) as (system, sim):
        probe = Probe()
        sim.add_listener(probe.on_engine)
        probe.wrap_fills_since(system.exchange)
        await _wait_for_retirement(system)
        bench = BenchTraders(system, sim, traders=args.traders, think=args.think, seed=args.seed)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bench.dispatch, system.runtime.bus.subscribe(Topic.ORDERS, Topic.FILLS, Topic.REFUSALS))
            warm, _ = await bench.run("warmup", 2, OrderType.MARKET)
            all_trips += warm
            for order_type in args.order_types:
                trips, seconds = await bench.run(str(order_type), per_trader, order_type)
                all_trips += trips
                results[str(order_type)] = _figures(trips, seconds, probe)
            nursery.cancel_scope.cancel()
        poll_seconds = system.desk.template.orders.poll_seconds
    _check_journal(db, all_trips)
    return {"order_poll_seconds": poll_seconds, **results}


def _print_table(figures: dict[str, Any]) -> None:
    candle_ms = 900_000 / figures["speed"]
    print(f"order round trip: trader request -> desk (gate, journal) -> simulator -> fill back to the trader\n"
          f"  {figures['traders']} bench traders at once, each waiting up to {figures['think_s'] * 1000:.0f} ms, "
          f"then one order, then its fill; minimum-size lots, buy/sell alternating\n"
          f"  replay speed {figures['speed']:g}x: a 15m candle closes every {candle_ms:.0f} ms, and an order fills "
          f"only at the next close (market: at its open; marketable limit: as a taker at its open)\n"
          f"  desk fill poll every {figures['order_poll_seconds'] * 1000:.0f} ms (desk.toml [orders] poll_seconds)")
    header = f"{'path':<11} {'type':<7} {'stage':<22} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} " \
             f"{'max ms':>8} {'orders/s':>9}"
    print(header)
    print("-" * len(header))
    for path, per_type in figures["paths"].items():
        for order_type, result in per_type.items():
            if not isinstance(result, dict):
                continue
            rows = [("ROUND TRIP", result["round_trip_ms"])] + list(result["stages_ms"].items())
            for i, (stage, ms) in enumerate(rows):
                rate = f"{result['orders_per_second']:>9}" if i == 0 else ""
                print(f"{path if i == 0 else '':<11} {order_type if i == 0 else '':<7} {stage:<22} {ms['count']:>6} "
                      f"{ms['p50']:>8} {ms['p99']:>8} {ms['mean']:>8} {ms['max']:>8} {rate}")
    print("ROUND TRIP = request -> exchange + market wait (replay speed) + poll wait (until the desk syncs) "
          "+ fill -> trader; request -> acked is the desk's Order event, off the fill path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500, help="orders per path and order type (default 500)")
    parser.add_argument("--traders", type=int, default=8, help="bench traders sending orders at once (default 8)")
    parser.add_argument("--speed", type=float, default=3600.0, help="replay speed (default 3600, as crypy sim)")
    parser.add_argument("--think", type=float, default=None,
                        help="most seconds a trader waits before each order (default: one candle at --speed)")
    parser.add_argument("--poll-seconds", type=float, default=None,
                        help="the desk's orders.poll_seconds (default: the shipped desk.toml's)")
    parser.add_argument("--order-types", type=lambda text: [OrderType(t) for t in text.split(",")],
                        default=[OrderType.MARKET], help="comma-separated: market, limit (marketable limit orders)")
    parser.add_argument("--paths", type=lambda text: text.split(","), default=list(PATHS),
                        help="comma-separated: ccxt, in-process")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.think is None:
        args.think = 900 / args.speed
    configure_logging(level="warning")
    figures: dict[str, Any] = {"speed": args.speed, "traders": args.traders, "think_s": round(args.think, 4),
                               "order_types": [str(t) for t in args.order_types], "paths": {}}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ.setdefault("CRYPY_RUN_DIR", str(tmp / "run"))  # keep the bench out of a real `crypy ps`
        (tmp / "templates").mkdir()
        write_templates(tmp / "templates", poll_seconds=args.poll_seconds, max_orders=args.n)
        for path in args.paths:
            started = time.perf_counter()
            figures["paths"][path] = trio.run(functools.partial(measure_path, PATHS[path], args, tmp))
            figures["paths"][path]["wall_seconds"] = round(time.perf_counter() - started, 1)
    figures["order_poll_seconds"] = next(iter(figures["paths"].values()))["order_poll_seconds"]
    figures |= {"ccxt": ccxt.__version__, "python": platform.python_version(), "machine": platform.machine(),
                "cpus": os.cpu_count()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    _print_table(figures)
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
