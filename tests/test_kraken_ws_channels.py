"""Kraken WebSocket v2 message building: the book checksum against Kraken's own example, book diffs a client can
apply, and the exec_type an order state reports."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal

from crypy.protocols import Order, OrderStatus, OrderType, Side
from crypy.simulator.kraken.ws_channels import BookView, book_checksum, book_levels, encode, rfc3339
from crypy.simulator.kraken.ws_executions import OrderTracker

# The example of docs.kraken.com "Spot Websockets (v2) Book Checksum": this BTC/USD snapshot has checksum 3310070434.
KRAKEN_BIDS = [("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"),
               ("45281.0", "0.10000000"), ("45280.3", "1.54592586"), ("45279.0", "0.07990000"),
               ("45277.6", "0.03310103"), ("45277.5", "0.30000000"), ("45277.3", "1.54602737"),
               ("45276.6", "0.15445238")]
KRAKEN_ASKS = [("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"),
               ("45289.6", "1.54560911"), ("45290.2", "0.15890660"), ("45291.8", "1.54553491"),
               ("45294.7", "0.04454749"), ("45296.1", "0.35380000"), ("45297.5", "0.09945542"),
               ("45299.5", "0.18772827")]
KRAKEN_CHECKSUM = 3310070434


def independent_checksum(book: dict[str, list[dict[str, Decimal]]]) -> int:
    """Kraken's algorithm as its docs state it, over a book parsed from JSON with ``parse_float=Decimal``."""
    def text(value: Decimal) -> str:
        return str(value).replace(".", "").lstrip("0")
    asks = sorted(book["asks"], key=lambda level: level["price"])[:10]
    bids = sorted(book["bids"], key=lambda level: level["price"], reverse=True)[:10]
    return zlib.crc32("".join(text(level["price"]) + text(level["qty"]) for level in asks + bids).encode())


def test_checksum_matches_krakens_documented_example() -> None:
    assert book_checksum(KRAKEN_ASKS, KRAKEN_BIDS) == KRAKEN_CHECKSUM
    assert book_checksum([*KRAKEN_ASKS, ("45300.0", "1.00000000")], KRAKEN_BIDS) == KRAKEN_CHECKSUM  # top 10 only


def test_snapshot_is_written_with_full_precision_and_its_checksum_recomputes() -> None:
    levels = book_levels([(Decimal("45285.2"), Decimal("0.001"))], price_decimals=1, qty_decimals=8)
    assert levels == [("45285.2", "0.00100000")]
    view = BookView("BTC/USD", depth=10)
    wire = encode({"channel": "book", "type": "snapshot", "data": [view.snapshot(KRAKEN_ASKS, KRAKEN_BIDS)]})
    assert '"qty":0.00100000' in wire
    book = json.loads(wire, parse_float=Decimal)["data"][0]
    assert book["checksum"] == KRAKEN_CHECKSUM == independent_checksum(book)


def test_updates_bring_a_client_book_to_the_new_state() -> None:
    """Apply updates as a client does (qty 0 deletes, then truncate to depth) and check the checksum each time."""
    view = BookView("BTC/USD", depth=10)
    client = json.loads(encode(view.snapshot(KRAKEN_ASKS, KRAKEN_BIDS)), parse_float=Decimal)
    books = [
        (KRAKEN_ASKS[1:], KRAKEN_BIDS),  # best ask taken
        ([("45284.0", "0.50000000"), *KRAKEN_ASKS[1:]],
         [*KRAKEN_BIDS[:5], ("45280.0", "2.00000000"), *KRAKEN_BIDS[5:]]),  # levels inserted
        (KRAKEN_ASKS, [(price, "9.00000000") for price, _ in KRAKEN_BIDS]),  # every quantity changed
    ]
    for step, (asks, bids) in enumerate(books):
        update = view.update(asks, bids, ts_ms=1_700_000_000_000 + step)
        assert update is not None
        parsed = json.loads(encode(update), parse_float=Decimal)
        for side in ("asks", "bids"):
            levels = {level["price"]: level["qty"] for level in client[side]}
            for level in parsed[side]:
                if level["qty"] == 0:
                    levels.pop(level["price"], None)
                else:
                    levels[level["price"]] = level["qty"]
            ordered = sorted(levels.items(), reverse=side == "bids")[:10]
            client[side] = [{"price": price, "qty": qty} for price, qty in ordered]
        assert [(str(level["price"]), str(level["qty"])) for level in client["asks"]] == asks[:10]
        assert parsed["checksum"] == independent_checksum(client)
        assert parsed["timestamp"] == rfc3339(1_700_000_000_000 + step)
    assert view.update(*books[-1], ts_ms=0) is None  # nothing changed: nothing to send


def _order(status: OrderStatus, **changes: object) -> Order:
    fields: dict[str, object] = dict(ts=1, id="OABCDE-FGHIJ-KLMNOP", client_id="", pair="XBT/USD", side=Side.BUY,
                                     order_type=OrderType.LIMIT, amount=Decimal("0.01"), price=Decimal("30000"),
                                     status=status)
    return Order(**(fields | changes))  # type: ignore[arg-type]


def test_tracker_tells_events_from_states() -> None:
    tracker = OrderTracker()
    assert tracker.exec_types("a", _order(OrderStatus.OPEN)) == ["pending_new", "new"]
    assert tracker.exec_types("a", _order(OrderStatus.OPEN, price=Decimal("31000"))) == ["amended"]
    assert tracker.exec_types("a", _order(OrderStatus.PARTIALLY_FILLED, price=Decimal("31000"),
                                          filled=Decimal("0.005"))) == ["status"]
    assert tracker.exec_types("a", _order(OrderStatus.CANCELLED)) == ["canceled"]
    assert tracker.get("a", "OABCDE-FGHIJ-KLMNOP") is None
    market = _order(OrderStatus.PENDING, order_type=OrderType.MARKET, price=None)
    assert tracker.exec_types("a", market) == ["pending_new"]
    filled = _order(OrderStatus.FILLED, order_type=OrderType.MARKET, price=None, filled=Decimal("0.01"))
    assert tracker.exec_types("a", filled) == ["filled"]
