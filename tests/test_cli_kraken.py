"""``crypy simulator`` and ``crypy kraken`` as a user runs them, one against the other, as real processes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES
from .processes import CRYPY, RunningCrypy, crypy


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[RunningCrypy, dict[str, str]]]:
    """A standalone ``crypy simulator`` on free ports, with its credentials file."""
    credentials = tmp_path / "credentials.json"
    with crypy("simulator", "--port", "0", "--ws-port", "0", "--speed", "3600",
               "--credentials-file", str(credentials)) as server:
        server.wait_for(r"credentials of default written")
        yield server, json.loads(credentials.read_text())


def test_the_simulator_prints_its_urls_and_writes_private_credentials(
        simulator: tuple[RunningCrypy, dict[str, str]], tmp_path: Path) -> None:
    server, credentials = simulator
    output = "".join(server.lines)
    assert re.search(r"REST\s+http://127\.0\.0\.1:\d+", output)
    assert re.search(r"WebSocket ws://127\.0\.0\.1:\d+/v2 \(public\)", output)
    assert f"API key {credentials['apiKey']}" in output
    assert credentials["secret"] not in output, "the secret goes to the credentials file only"
    assert set(credentials) >= {"apiKey", "secret", "rest", "ws"}
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600


def test_paper_trading_against_a_running_simulator(simulator: tuple[RunningCrypy, dict[str, str]],
                                                   tmp_path: Path) -> None:
    _, credentials = simulator
    db = tmp_path / "paper.db"
    with crypy("kraken", "--paper", "--api-url", credentials["rest"], "--ws-url", credentials["ws"],
               "--paper-balance", "USD=5000", "--duration", "12", "--db", str(db), "--repl-port", "0",
               "--template-dir", str(EAGER_TEMPLATES)) as paper:
        output = paper.finish(timeout=90)
    assert paper.process.returncode == 0, output[-3000:]
    assert re.search(r"^kraken:paper\s+desk", output, re.MULTILINE)
    assert "balances check: journal fills reproduce the exchange balances exactly" in output
    trades = int(re.search(r"^trades: (\d+)$", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert trades >= 1
    assert re.search(r"^USD\s+5000\s", output, re.MULTILINE), "the paper balance starts from --paper-balance"
    with JournalReader(db) as journal:
        assert len(journal.fills()) == trades and journal.open_orders() == []


def test_live_trading_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    env = {"CRYPY_KRAKEN_KEY": "", "CRYPY_KRAKEN_SECRET": ""}
    result = subprocess.run([*CRYPY, "kraken", "--db", str(tmp_path / "j.db"), "--repl-port", "0"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert result.returncode == 2
    assert "live trading needs an API key: set CRYPY_KRAKEN_KEY and CRYPY_KRAKEN_SECRET" in result.stderr
    assert not (tmp_path / "j.db").exists()


def test_live_trading_with_a_key_file_never_shows_the_secret(simulator: tuple[RunningCrypy, dict[str, str]],
                                                             tmp_path: Path) -> None:
    _, credentials = simulator
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"apiKey": credentials["apiKey"], "secret": credentials["secret"]}))
    with crypy("--log-level", "debug", "kraken", "--api-url", credentials["rest"], "--key-file", str(key_file),
               "--duration", "5", "--db", str(tmp_path / "live.db"), "--repl-port", "0") as live:
        output = live.finish(timeout=90)
    assert live.process.returncode == 0, output[-3000:]
    assert re.search(r"^kraken:main\s+desk", output, re.MULTILINE)
    assert re.search(r"^USD\s+10000", output, re.MULTILINE), "the live balances are the simulator account's"
    assert credentials["secret"] not in output
    with JournalReader(tmp_path / "live.db") as journal:
        text = " ".join(str(row) for row in journal.recent(1000))
    assert credentials["secret"] not in text and credentials["apiKey"] not in text


def test_an_unreachable_exchange_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = subprocess.run([*CRYPY, "kraken", "--paper", "--api-url", f"http://127.0.0.1:{port}", "--db",
                             str(tmp_path / "j.db"), "--repl-port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 20
    assert f"cannot reach kraken at http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
