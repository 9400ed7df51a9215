"""``crypy simulator``: the local exchange as a standalone Kraken-compatible server.

Any Kraken client (ccxt, ccxt.pro, crypy's own desk in another process) can trade against it by pointing
its REST and WebSocket URLs at the addresses printed at start. The API keys of the configured accounts are
printed too (the secret only goes to ``--credentials-file``, written readable by its owner only).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import msgspec
import trio

from crypy.simulator import SimExchange
from crypy.simulator.config import load_config
from crypy.simulator.kraken.server import KrakenEndpoints, serve_kraken

from .system import wait_for_stop

DEFAULT_ACCOUNT = "default"


@dataclass
class SimulatorOptions:
    host: str = "127.0.0.1"
    port: int = 8900
    ws_port: int = 8901
    data: list[Path] | None = None
    speed: float | None = None
    config: Path | None = None
    seed: int | None = None
    credentials_file: Path | None = None
    duration: float | None = None


def write_credentials(path: Path, endpoints: KrakenEndpoints, account: str) -> None:
    """``{"apiKey", "secret", "rest", "ws", "ws_private", "account"}`` for scripts, mode 0600 (it holds a secret)."""
    credentials = endpoints.credentials[account]
    payload = {"apiKey": credentials.api_key, "secret": credentials.secret, "rest": endpoints.rest_url,
               "ws": endpoints.ws_public_url, "ws_private": endpoints.ws_private_url, "account": account}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(payload, file, indent=2)


async def run_simulator(options: SimulatorOptions, out: TextIO = sys.stdout) -> None:
    """Serve until Ctrl-C (or ``duration``); the replay keeps answering queries after its data ends."""
    sim_config, server_config = load_config(options.config)
    overrides: dict[str, object] = {}
    if options.data:
        overrides["data_files"] = [str(path) for path in options.data]
    if options.speed is not None:
        overrides["speed"] = options.speed
    if options.seed is not None:
        overrides["seed"] = options.seed
    sim_config = msgspec.structs.replace(sim_config, **overrides)
    sim = SimExchange(sim_config)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.run)
        endpoints: KrakenEndpoints = await nursery.start(
            lambda task_status: serve_kraken(sim, server_config, accounts=list(sim_config.accounts), host=options.host,
                                             port=options.port, ws_port=options.ws_port, task_status=task_status))
        print(f"REST      {endpoints.rest_url}", file=out)
        print(f"WebSocket {endpoints.ws_public_url} (public), {endpoints.ws_private_url} (private)", file=out)
        print(f"pairs     {', '.join(sim.pairs)}", file=out)
        for account, credentials in endpoints.credentials.items():
            print(f"account   {account}: API key {credentials.api_key}", file=out)
        if options.credentials_file is not None:
            account = DEFAULT_ACCOUNT if DEFAULT_ACCOUNT in endpoints.credentials else next(iter(endpoints.credentials))
            write_credentials(options.credentials_file, endpoints, account)
            print(f"credentials of {account} written to {options.credentials_file}", file=out)
        out.flush()
        await wait_for_stop(options.duration)
        nursery.cancel_scope.cancel()
