"""A simulated exchange with its Kraken servers on a background thread, for clients that cannot run inside trio.

ccxt's sync client, scripts and benchmarks block on their HTTP calls, so the exchange needs its own thread and
trio loop. ``SimExchangeThread`` owns both; ``serve_kraken`` starts a Kraken front on it (several may share one
exchange, e.g. one well-behaved and one faulty) and ``call`` runs a function on the exchange's thread, because
the exchange is not thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

import trio

from ..config import KrakenServerConfig
from ..exchange import SimConfig, SimExchange
from .server import KrakenEndpoints, serve_kraken

T = TypeVar("T")
START_TIMEOUT = 60.0


class SimExchangeThread:
    """Runs ``SimExchange(config)`` (and its replay, unless ``run_market`` is false) on a thread of its own."""

    def __init__(self, config: SimConfig, *, run_market: bool = True) -> None:
        self._config = config
        self._run_market = run_market
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="sim-exchange", daemon=True)
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._error: BaseException | None = None
        self.sim: SimExchange | None = None

    def __enter__(self) -> SimExchangeThread:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"the simulated exchange did not start within {START_TIMEOUT} s")
        if self._error is not None:
            raise RuntimeError("the simulated exchange failed to start") from self._error
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._nursery is not None and self._token is not None:
            try:
                trio.from_thread.run_sync(self._nursery.cancel_scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(START_TIMEOUT)

    def serve_kraken(
        self, server_config: KrakenServerConfig, *, host: str = "127.0.0.1", port: int = 0, ws_port: int = 0
    ) -> KrakenEndpoints:
        """Start a Kraken front (REST and WebSocket) for every configured account; returns where it listens."""
        nursery, sim = self._running()
        serving = partial(serve_kraken, sim, server_config, accounts=list(self._config.accounts), host=host,
                          port=port, ws_port=ws_port)
        endpoints: KrakenEndpoints = trio.from_thread.run(nursery.start, serving, trio_token=self._token)
        return endpoints

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the exchange's thread, e.g. ``call(thread.sim.balances, "default")``."""
        self._running()
        return trio.from_thread.run_sync(function, *args, trio_token=self._token)

    def _running(self) -> tuple[trio.Nursery, SimExchange]:
        if self._nursery is None or self.sim is None:
            raise RuntimeError("use SimExchangeThread as a context manager")
        return self._nursery, self.sim

    def _main(self) -> None:
        try:
            trio.run(self._run)
        except BaseException as exc:  # reported by __enter__, or lost with the thread at shutdown
            self._error = exc
            self._ready.set()

    async def _run(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self.sim = SimExchange(self._config)
        async with trio.open_nursery() as nursery:
            if self._run_market:
                await nursery.start(self.sim.run)
            self._nursery = nursery
            self._ready.set()
            await trio.sleep_forever()
