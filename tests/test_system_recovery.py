"""SIGKILL in the middle of trading, then a restart on the same journal: nothing lost, nothing doubled.

Real processes: ``crypy simulator`` (a Kraken-compatible server with latency on every request, so orders are
in flight) and ``crypy kraken`` live against it through the real ccxt client. The test reads the exchange's
truth with its own ccxt client and compares it with what the journal says after recovery.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from decimal import Decimal
from pathlib import Path

import ccxt

from crypy.modes.summary import balances_from_fills
from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES
from .processes import RunningCrypy, crypy

SIMULATOR_CONFIG = """
speed = 3600.0
seed = 11
[accounts.default]
USD = "10000"
XBT = "0.25"
[kraken]
rate_limits = false
latency_ms = { p50 = 40.0, p99 = 150.0 }
"""


def _ask_repl(port: int, *lines: str) -> list[str]:
    """Send lines to a REPL over TCP, one answer (up to the next prompt) per line."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        buffer = b""
        while not buffer.rstrip().endswith(b">"):
            buffer += conn.recv(65536)
        for line in lines:
            conn.sendall(line.encode() + b"\r\n")
            buffer = b""
            while not buffer.rstrip().endswith(b">"):
                buffer += conn.recv(65536)
            answers.append(buffer.decode(errors="replace"))
    return answers


def _client(credentials: dict[str, str]) -> ccxt.kraken:
    client = ccxt.kraken({"apiKey": credentials["apiKey"], "secret": credentials["secret"]})
    client.urls["api"] = {"public": credentials["rest"], "private": credentials["rest"]}
    return client


def _exchange_truth(client: ccxt.kraken) -> tuple[dict[str, str], dict[str, str], dict[str, Decimal]]:
    """Status of every order by id, open orders by id -> client id, and balances, as the exchange says."""
    statuses: dict[str, str] = {}
    for key, method in (("open", client.private_post_openorders), ("closed", client.private_post_closedorders)):
        for txid, order in method()["result"][key].items():
            statuses[txid] = order["status"]
    open_orders = {txid: o.get("cl_ord_id", "") for txid, o in client.private_post_openorders()["result"]["open"].items()}
    balances = {asset: Decimal(amount) for asset, amount in client.private_post_balance()["result"].items()}
    return statuses, open_orders, balances


def _start_desk(credentials_file: Path, db: Path) -> tuple[RunningCrypy, object]:
    credentials = json.loads(credentials_file.read_text())
    key_file = credentials_file.with_name("key.json")
    key_file.write_text(json.dumps({"apiKey": credentials["apiKey"], "secret": credentials["secret"]}))
    context = crypy("kraken", "--api-url", credentials["rest"], "--key-file", str(key_file), "--db", str(db),
                    "--repl-port", "0", "--template-dir", str(EAGER_TEMPLATES), "--no-rate-limit")
    return context.__enter__(), context


def _requests(db: Path) -> int:
    with JournalReader(db) as journal:
        return len(journal.order_requests())


def test_a_desk_killed_mid_trade_recovers_from_its_journal_and_trades_on(tmp_path: Path) -> None:
    config, credentials_file, db = tmp_path / "exchange.toml", tmp_path / "credentials.json", tmp_path / "live.db"
    config.write_text(SIMULATOR_CONFIG)
    with crypy("simulator", "--port", "0", "--ws-port", "0", "--config", str(config),
               "--credentials-file", str(credentials_file)) as server:
        server.wait_for(r"credentials of default written")
        client = _client(json.loads(credentials_file.read_text()))

        desk, context = _start_desk(credentials_file, db)
        try:
            port = int(desk.wait_for(r"desk REPL: telnet 127\.0\.0\.1 (\d+)", timeout=60).group(1))
            deadline = time.monotonic() + 90
            while _requests(db) < 8:  # traders are trading
                assert time.monotonic() < deadline, "".join(desk.lines[-30:])
                time.sleep(0.2)
            # A resting order that must survive the crash as an open order.
            answers = _ask_repl(port, "enter XBT/USD@USD", "buy 0.001 5000 --yes")
            assert "open" in answers[1] or "pending" in answers[1], answers
            seen = _requests(db)
            while _requests(db) == seen:  # the next request is journaled (durably) before it is sent ...
                assert time.monotonic() < deadline
                time.sleep(0.005)
            desk.process.send_signal(signal.SIGKILL)  # ... and is now in flight, 40+ ms from the exchange
            desk.process.wait(timeout=10)
        finally:
            context.__exit__(None, None, None)
        time.sleep(1.0)  # market orders in flight fill on the next replayed candle, with nobody watching
        with JournalReader(db) as journal:
            unanswered_at_kill = {r.client_id for r in journal.order_requests_without_orders()}
            orders_at_kill = len(journal.orders())
        statuses_down, open_down, balances_down = _exchange_truth(client)
        client.close()
        assert open_down, "the resting order is open on the exchange"

        desk, context = _start_desk(credentials_file, db)
        try:
            recovered = desk.wait_for(r"recovered from the journal: (.*?)\"?$", timeout=60).group(1)
            assert f"{orders_at_kill} journaled orders" in recovered
            desk.wait_for(r"desk REPL: telnet", timeout=30)
            with JournalReader(db) as journal:
                still = {r.client_id for r in journal.order_requests_without_orders()}
                assert not still & unanswered_at_kill, "every request unanswered at the kill is settled"
                journaled = {o.id: o for o in journal.orders()}
                fills = journal.fills()
                snapshots = journal.balances()
                refused = {r.client_id: r.reason for r in journal.refusals()}
            # Every order the exchange had when the desk came back is journaled once, in the exchange's state.
            assert set(statuses_down) <= set(journaled), "an order of the exchange is missing from the journal"
            kraken_status = {"open": "open", "pending": "pending", "closed": "filled", "canceled": "cancelled",
                             "expired": "expired"}
            for txid, status in statuses_down.items():
                assert str(journaled[txid].status) == kraken_status[status], (txid, journaled[txid], status)
            assert {o.id for o in journaled.values() if not o.status.is_terminal} >= set(open_down)
            # The request in flight at the kill was adopted (the exchange got it) or marked as never sent.
            assert unanswered_at_kill, "the kill was meant to catch a request in flight"
            adopted = {o.client_id for o in journaled.values()} & unanswered_at_kill
            unsent = {c for c, reason in refused.items() if "never reached the exchange" in reason}
            assert adopted | unsent == unanswered_at_kill and not adopted & unsent
            # Positions and balances: the journal's fills replayed on the first balances give the exchange's.
            assert len({f.id for f in fills}) == len(fills), "a fill was booked twice"
            initial = {asset: b.total for asset, b in snapshots[0].balances.items()}
            before_restart = [f for f in fills if f.order_id in statuses_down]
            expected = balances_from_fills(initial, before_restart)
            for asset, amount in balances_down.items():
                name = {"XXBT": "XBT", "ZUSD": "USD", "XETH": "ETH"}.get(asset, asset)
                assert expected.get(name, Decimal(0)) == amount, (name, expected, balances_down)
            # Trading goes on: new orders under the new run's client ids.
            deadline = time.monotonic() + 60
            while len(journaled) <= len(statuses_down) + 2:
                assert time.monotonic() < deadline, "no trading after the restart"
                time.sleep(0.3)
                with JournalReader(db) as journal:
                    journaled = {o.id: o for o in journal.orders()}
            desk.process.send_signal(signal.SIGINT)
            output = desk.finish(timeout=60)
        finally:
            context.__exit__(None, None, None)
    assert desk.process.returncode == 0, output[-3000:]
    assert "balances check: journal fills reproduce the exchange balances exactly" in output, output[-2000:]
    assert re.search(r"^orders: \d+ \(open: 0\)$", output, re.MULTILINE)
