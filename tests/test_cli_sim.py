"""``crypy sim`` as a user runs it: a real process, real signals, a real telnet client."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from crypy.modes.summary import balances_from_fills
from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES
from .processes import CRYPY, RunningCrypy, crypy_sim


def _desk_port(sim: RunningCrypy) -> int:
    return int(sim.wait_for(r"desk REPL: telnet 127\.0\.0\.1 (\d+)").group(1))


def test_a_timed_run_ends_by_itself_with_trades_and_exact_balances(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    with crypy_sim("--duration", "6", "--speed", "36000", "--repl-port", "0", "--db", str(db),
                   "--template-dir", str(EAGER_TEMPLATES)) as sim:
        output = sim.finish()
    assert sim.process.returncode == 0, output[-3000:]
    trades = int(re.search(r"^trades: (\d+)$", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert trades >= 1
    assert "balances check: journal fills reproduce the exchange balances exactly" in output
    assert re.search(r"^orders: \d+ \(open: 0\)$", output, re.MULTILINE)
    assert "stopped: duration reached (6 s)" in output
    with JournalReader(db) as journal:
        assert len(journal.fills()) == trades


def test_ctrl_c_leaves_no_open_orders_and_a_complete_journal(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    with crypy_sim("--speed", "36000", "--repl-port", "0", "--db", str(db),
                   "--template-dir", str(EAGER_TEMPLATES)) as sim:
        sim.wait_for(r'"event": "fill"')
        sim.process.send_signal(signal.SIGINT)
        output = sim.finish()
    assert sim.process.returncode == 0, output[-3000:]
    assert "stopped: interrupted (Ctrl-C)" in output
    assert re.search(r"^orders: \d+ \(open: 0\)$", output, re.MULTILINE)
    with JournalReader(db) as journal:
        orders, fills = journal.orders(), journal.fills()
        assert orders and fills
        assert journal.open_orders() == []
        assert all(order.status.is_terminal for order in orders)
        requested = {request.client_id for request in journal.order_requests()}
        assert {order.client_id for order in orders} <= requested
        assert {fill.order_id for fill in fills} <= {order.id for order in orders}
        for order in orders:
            filled = sum((f.amount for f in fills if f.order_id == order.id), start=type(order.filled)(0))
            assert filled == order.filled, f"order {order.id} journaled filled={order.filled}, fills say {filled}"
        final = journal.balances()[-1].balances
    expected = balances_from_fills({"USD": Decimal(10000), "XBT": Decimal("0.25")}, fills)
    assert {asset: b.total for asset, b in final.items() if b.total or asset in expected} == {
        asset: amount for asset, amount in expected.items() if amount or asset in final}


def test_the_desk_repl_over_a_plain_socket_and_crypy_ps(tmp_path: Path) -> None:
    with crypy_sim("--speed", "3600", "--repl-port", "0", "--db", str(tmp_path / "j.db")) as sim:
        port = _desk_port(sim)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            file = conn.makefile("rwb", buffering=0)

            def ask(line: bytes) -> str:
                file.write(line + b"\r\n")
                answer = b""
                while not answer.endswith(b"sim:default> "):
                    answer += conn.recv(65536)
                return answer.decode(errors="replace")

            banner = b""
            while not banner.endswith(b"sim:default> "):
                banner += conn.recv(65536)
            assert "desk" in ask(b"status")
            assert ask(b"\xff\xfb\x01 garbage \x00\x9c").startswith("error: ")
            assert ask(b"x" * 10_000).startswith("error: ")
            assert "exchange time" in ask(b"status")
        ps = subprocess.run([*CRYPY, "ps"], capture_output=True, text=True, timeout=30)
        assert ps.returncode == 0
        assert re.search(rf"sim:default\s+desk\s+-\s+running\s+127\.0\.0\.1:{port}", ps.stdout), ps.stdout
        assert re.search(r"XBT\s+holder\s+sim:default\s+running", ps.stdout), ps.stdout
        sim.process.send_signal(signal.SIGINT)
        assert sim.finish() and sim.process.returncode == 0


@pytest.mark.skipif(shutil.which("telnet") is None, reason="no telnet client installed (apt-get install telnet)")
def test_a_real_telnet_client_gets_a_prompt_and_answers(tmp_path: Path) -> None:
    with crypy_sim("--speed", "3600", "--repl-port", "0", "--db", str(tmp_path / "j.db")) as sim:
        port = _desk_port(sim)
        telnet = subprocess.Popen(["telnet", "127.0.0.1", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        assert telnet.stdin is not None and telnet.stdout is not None
        for line in ("status", "this is not a command", "balances", "quit"):
            time.sleep(0.3)
            telnet.stdin.write(line + "\n")
            telnet.stdin.flush()
        telnet.wait(timeout=20)
        out = telnet.stdout.read()
        assert "sim:default> " in out
        assert "exchange time" in out
        assert "error: unknown command" in out
        assert re.search(r"USD\s+\d+", out)
        assert "bye" in out
        sim.process.send_signal(signal.SIGINT)
        assert "trades: " in sim.finish()
        assert sim.process.returncode == 0


def test_a_busy_repl_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*CRYPY, "sim", "--repl-port", str(port), "--db", str(tmp_path / "j.db"),
                                 "--duration", "2"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"crypy: error: sim:default could not start: [Errno 98] sim:default: cannot listen on 127.0.0.1:{port}: " \
           "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
