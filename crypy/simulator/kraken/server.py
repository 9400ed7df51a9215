"""Run the Kraken-compatible servers (REST on hypercorn's trio worker, and WebSocket v2 when installed).

``serve_kraken`` issues one API key per account, starts both servers on free ports if asked for port 0, and
reports the real URLs and the credentials through ``task_status``, so a caller can point any Kraken client at them.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from ..config import KrakenServerConfig
from .auth import Authenticator
from .catalog import Catalog
from .credentials import ApiCredentials, KeyRing, WsTokens, new_credentials
from .faults import Faults
from .private_api import AccountApi, OrderNotebook
from .public_api import PublicApi
from .rate_limits import TIERS, OrderAges, RestLimiter, TradingLimiter
from .rest_app import KrakenRestApp
from .trading_api import DeadMansSwitch, TradingApi

_WS_MODULE = "crypy.simulator.kraken.ws_server"
GRACEFUL_SECONDS = 1.0
"""How long shutdown waits for requests in flight (a held, timed-out request must not delay it long)."""


@dataclass(frozen=True)
class KrakenEndpoints:
    """Where the servers listen and who may trade there.

    ``rest_url`` (``http://127.0.0.1:PORT``) is what ccxt's ``urls["api"]["public"]`` and ``["private"]`` take.
    ``ws_url`` (``ws://127.0.0.1:PORT``, ``None`` without the WebSocket server) serves every path: use
    ``ws_public_url`` and ``ws_private_url`` for ccxt.pro's ``publicV2``/``privateV2``.
    """

    rest_url: str
    ws_url: str | None
    credentials: dict[str, ApiCredentials]

    @property
    def ws_public_url(self) -> str | None:
        return None if self.ws_url is None else self.ws_url + "/v2"

    @property
    def ws_private_url(self) -> str | None:
        return None if self.ws_url is None else self.ws_url + "/v2auth"


def build_rest_app(
    sim: Any, config: KrakenServerConfig, keyring: KeyRing, tokens: WsTokens, nursery: trio.Nursery
) -> KrakenRestApp:
    """The REST app for ``sim``; ``nursery`` hosts the dead man's switch timers."""
    catalog = Catalog(sim)
    faults = Faults(config)
    tier = TIERS[config.rate_limit_tier]
    ages = OrderAges()
    notebook: OrderNotebook = {}
    auth = Authenticator(keyring, nonce_window=config.nonce_window, lockout_after=config.lockout_after,
                         lockout_seconds=config.lockout_seconds)
    trading = TradingApi(sim, catalog, config, faults, notebook,
                         TradingLimiter(tier, ages) if config.rate_limits else None, ages, DeadMansSwitch(sim, nursery))
    account = AccountApi(sim, catalog, notebook, tokens)
    return KrakenRestApp(
        public=PublicApi(sim, catalog, faults).methods, private=account.methods | trading.methods, auth=auth,
        rest_limiter=RestLimiter(tier) if config.rate_limits else None, faults=faults,
    )


async def serve_kraken(
    sim: Any,
    server_config: KrakenServerConfig,
    *,
    accounts: Iterable[str],
    host: str = "127.0.0.1",
    port: int = 0,
    ws_port: int = 0,
    task_status: trio.TaskStatus[KrakenEndpoints] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``sim`` as Kraken until cancelled; ``accounts`` get one API key each (``credentials_seed`` fixes them).

    Port 0 picks a free port; the ports actually bound are in the reported ``KrakenEndpoints``.
    """
    keyring, tokens = KeyRing(), WsTokens()
    credentials = {account: new_credentials(account, server_config.credentials_seed) for account in accounts}
    for entry in credentials.values():
        keyring.add(entry)
    async with trio.open_nursery() as nursery:
        app = build_rest_app(sim, server_config, keyring, tokens, nursery)
        binds: list[str] = await nursery.start(partial(serve, app, _hypercorn_config(host, port)))
        ws_url = None
        if importlib.util.find_spec(_WS_MODULE) is not None:
            ws_server = importlib.import_module(_WS_MODULE).KrakenWsServer(sim, tokens, keyring, server_config)
            bound_ws_port = await nursery.start(ws_server.serve, host, ws_port)
            ws_url = f"ws://{_url_host(host)}:{bound_ws_port}"
        task_status.started(KrakenEndpoints(rest_url=binds[0], ws_url=ws_url, credentials=credentials))


def _hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{_url_host(host)}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = GRACEFUL_SECONDS
    return config


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
