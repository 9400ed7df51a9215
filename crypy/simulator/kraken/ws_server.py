"""Kraken's WebSocket v2 API in front of a ``SimExchange``, so ccxt.pro (or any v2 client) streams and trades over it.

One endpoint serves every path: ``/v2`` (public) and ``/v2auth`` (private) behave the same, and private
channels and methods are allowed when their ``params`` carry a token issued by the REST ``GetWebSocketsToken``
into the shared ``WsTokens``. A token must be used within its lifetime on the exchange's clock (``sim.now_ms()``,
the clock REST issues it on); once used, it stays valid while a connection that used it is open, and for a
further lifetime after the last such connection closes, as on Kraken.

Each connection has one writer task and a bounded queue: the exchange pushes with ``send_nowait`` and never
waits for a client. A client that falls ``queue_size`` messages behind is disconnected (close code 1008) and
logged. Times in replies (``time_in``/``time_out``, message timestamps) are market time.

``config`` (the ``[kraken]`` part of the capabilities file, optional) supplies the misbehaviour, drawn from its
seed like the REST server's: ``latency_ms`` delays every answer; ``faults.ws_disconnect_interval`` > 0 closes each
connection that many wall-clock seconds after it opened (code 1001), so clients must reconnect and resubscribe;
``faults.system_status`` and ``faults.endpoints`` (by REST name: ``add_order`` is ``AddOrder``) refuse trading
methods as they refuse the REST calls; ``order_types`` limits what ``add_order`` accepts. Timeouts
(``timeout_rate``) and the rate limiters are REST-only.
"""

from __future__ import annotations

import itertools
import zlib
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import structlog
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from ..config import KrakenServerConfig
from ..errors import ExchangeError
from ..ids import KrakenIds
from .credentials import KeyRing, WsTokens
from .faults import Faults
from .trading_api import DeadMansSwitch
from .ws_channels import encode, response, rfc3339, status
from .ws_feeds import PERMISSION_DENIED, Feeds
from .ws_session import Session
from .ws_trading import Trading, invalid

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 1.0
DEFAULT_QUEUE_SIZE = 10_000
CLOSE_TIMEOUT = 1.0
MAX_CANCEL_AFTER = 86_400
MALFORMED = "Malformed request"
UNKNOWN_METHOD = "EGeneral:Unknown method"
INTERNAL_ERROR = "EGeneral:Internal error"
_HEARTBEAT = encode({"channel": "heartbeat"})
_DECODER = msgspec.json.Decoder(float_hook=Decimal)  # prices and quantities stay exact


class _Outbox:
    """A connection's bounded queue of encoded messages, and the reason the server closes the connection."""

    def __init__(self, connection_id: int, size: int) -> None:
        self.connection_id = connection_id
        self.sender, self.receiver = trio.open_memory_channel[str](size)
        self.scope = trio.CancelScope()
        self.close_code, self.close_reason = 1000, ""
        self.last_queued = trio.current_time()

    def send(self, text: str) -> None:
        """Queue without waiting; a full queue means the client is too slow, and it is dropped."""
        if self.scope.cancel_called:
            return
        try:
            self.sender.send_nowait(text)
        except trio.WouldBlock:
            self.drop(1008, "client too slow: outbound queue full")
            return
        self.last_queued = trio.current_time()

    def drop(self, code: int, reason: str) -> None:
        log.warning("kraken ws: closing connection", connection=self.connection_id, code=code, reason=reason)
        self.close_code, self.close_reason = code, reason
        self.scope.cancel()


class KrakenWsServer:
    """Kraken WebSocket v2 for one simulated exchange; ``serve`` runs it until cancelled."""

    def __init__(self, sim: Any, tokens: WsTokens, keyring: KeyRing, config: KrakenServerConfig | None = None,
                 *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        config = config or KrakenServerConfig()
        self._sim = sim
        self._tokens = tokens
        self._keyring = keyring
        self._faults = Faults(config)
        self._disconnect_seconds = config.faults.ws_disconnect_interval
        self._queue_size = queue_size
        self._sessions: set[Session] = set()
        new_id = KrakenIds(zlib.crc32(b"kraken-ws")).trade  # amend and ledger ids; apart from the engine's
        self._feeds = Feeds(sim, self._sessions, new_id)
        self._trading = Trading(sim, self._feeds.symbols, new_id, config.order_types)
        self._connection_ids = itertools.count(1)
        self._held: dict[str, tuple[str, int]] = {}  # token -> (account, open connections that used it)
        self._switch: DeadMansSwitch | None = None

    async def serve(self, host: str = "127.0.0.1", port: int = 0,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen (port 0 picks a free one) and report the bound port through ``task_status``."""
        self._sim.add_candle_listener(self._feeds.on_candles)
        self._sim.add_listener(self._feeds.on_account_event)
        async with trio.open_nursery() as nursery:
            self._switch = DeadMansSwitch(self._sim, nursery)
            server = await nursery.start(partial(serve_websocket, self._connection, host, port, None,
                                                 handler_nursery=nursery))
            log.info("kraken ws: listening", host=host, port=server.port, pairs=sorted(self._feeds.symbols))
            task_status.started(server.port)

    async def _connection(self, request: WebSocketRequest) -> None:
        """Serve one client. Nothing a client does may escape this method: it would stop the whole server."""
        connection_id = next(self._connection_ids)
        try:
            ws = await request.accept()
        except ConnectionClosed:
            return
        outbox = _Outbox(connection_id, self._queue_size)
        session = Session(connection_id, outbox.send)
        self._sessions.add(session)
        try:
            with outbox.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write, ws, outbox)
                    nursery.start_soon(self._heartbeat, outbox)
                    if self._disconnect_seconds:
                        nursery.start_soon(self._fault, outbox, self._disconnect_seconds)
                    session.push(status(connection_id))
                    await self._read(ws, session)
                    nursery.cancel_scope.cancel()
        except Exception:  # a bug must cost one connection, not the server
            log.exception("kraken ws: connection failed", connection=connection_id)
            outbox.close_code, outbox.close_reason = 1011, "internal error"
        finally:
            self._sessions.discard(session)
            self._release(session.tokens)
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await ws.aclose(outbox.close_code, outbox.close_reason or None)

    async def _read(self, ws: WebSocketConnection, session: Session) -> None:
        while True:
            try:
                text = await ws.get_message()
            except ConnectionClosed:
                return
            time_in = self._now()
            delay = self._faults.latency()
            if delay:
                await trio.sleep(delay)
            for reply in self._answer(session, text, time_in):
                session.push(reply)

    @staticmethod
    async def _write(ws: WebSocketConnection, outbox: _Outbox) -> None:
        """The connection's only sender: trio-websocket does not allow concurrent sends."""
        try:
            async for text in outbox.receiver:
                await ws.send_message(text)
        except ConnectionClosed:
            outbox.scope.cancel()

    @staticmethod
    async def _heartbeat(outbox: _Outbox) -> None:
        """A heartbeat after a second with nothing sent, so a client can tell a quiet market from a dead link."""
        while True:
            await trio.sleep(HEARTBEAT_SECONDS / 4)
            if trio.current_time() - outbox.last_queued >= HEARTBEAT_SECONDS:
                outbox.send(_HEARTBEAT)

    @staticmethod
    async def _fault(outbox: _Outbox, seconds: float) -> None:
        await trio.sleep(seconds)
        outbox.drop(1001, "simulated disconnect")

    def _answer(self, session: Session, text: str | bytes, time_in: str) -> list[dict[str, object]]:
        """Every message the request calls for, in order: replies first, then any snapshots they start."""
        try:
            request = _DECODER.decode(text)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return [{"error": MALFORMED, "method": "error", "success": False, "time_in": time_in,
                     "time_out": self._now()}]
        method, req_id, params = request["method"], request.get("req_id"), request.get("params", {})
        if method == "ping":
            pong: dict[str, object] = {"method": "pong", "time_in": time_in, "time_out": self._now()}
            return [pong | ({"req_id": req_id} if req_id is not None else {})]
        if not isinstance(params, dict):
            return [response(method, req_id, time_in, self._now(), error=MALFORMED)]
        account = self._account(session, params)
        if method in ("subscribe", "unsubscribe"):
            handle = self._feeds.subscribe if method == "subscribe" else self._feeds.unsubscribe
            messages: list[dict[str, object]] = []
            for result, error, extra, snapshots in handle(session, params, account):
                messages.append(response(method, req_id, time_in, self._now(), result=result, error=error) | extra)
                messages.extend(snapshots)
            return messages
        if method not in _TRADING:
            return [response(method, req_id, time_in, self._now(), error=UNKNOWN_METHOD)]
        refusal = PERMISSION_DENIED if account is None else (
            self._faults.status_refusal(_TRADING[method]) or self._faults.injected_error(_TRADING[method]))
        if refusal is not None:
            return [response(method, req_id, time_in, self._now(), error=refusal)]
        if method == "cancel_order":
            outcomes = self._guarded(lambda: self._trading.cancel_order(account, params))
            if isinstance(outcomes, str):
                outcomes = [({}, outcomes)]
            return [response(method, req_id, time_in, self._now(), result=result, error=error)
                    for result, error in outcomes]
        outcome = self._guarded(lambda: self._trade(method, account, params))
        if isinstance(outcome, str):
            return [response(method, req_id, time_in, self._now(), error=outcome)]
        return [response(method, req_id, time_in, self._now(), result=outcome)]

    def _trade(self, method: str, account: str, params: dict[str, Any]) -> object:
        if method in ("add_order", "batch_add"):
            orders = params.get("orders") if method == "batch_add" else [params]
            for order in orders if isinstance(orders, list) else []:
                refusal = self._faults.post_only_refusal(isinstance(order, dict) and order.get("post_only") is True)
                if refusal is not None:
                    raise ExchangeError(refusal)
        if method == "cancel_all":
            return self._trading.cancel_all(account)
        if method == "cancel_all_orders_after":
            return self._arm_cancel_after(account, params.get("timeout"))
        return getattr(self._trading, method)(account, params)

    @staticmethod
    def _guarded(call: Any) -> Any:
        """The call's result, or the error string to reply with; unexpected failures are logged, not raised."""
        try:
            return call()
        except ExchangeError as exc:
            return exc.reason
        except Exception:
            log.exception("kraken ws: request failed")
            return INTERNAL_ERROR

    def _arm_cancel_after(self, account: str, timeout: object) -> dict[str, object]:
        """Kraken's dead man's switch: cancel all the account's orders unless re-armed within ``timeout`` seconds
        (wall-clock, as the REST switch counts); 0 disarms it."""
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout < MAX_CANCEL_AFTER:
            raise invalid("timeout", f"{timeout!r}: whole seconds below {MAX_CANCEL_AFTER}, 0 to disarm")
        assert self._switch is not None, "requests are only answered while serving"
        self._switch.arm(account, timeout)
        now = self._sim.now_ms()
        return {"currentTime": rfc3339(now), "triggerTime": rfc3339(now + timeout * 1000) if timeout else "0"}

    def _account(self, session: Session, params: dict[str, Any]) -> str | None:
        """The account a request's token names, if the token is valid and the account still has an API key."""
        token = params.get("token")
        if not isinstance(token, str):
            return None
        held = self._held.get(token)
        account = held[0] if held else self._tokens.account(token, self._sim.now_ms())
        if account is None:
            return None
        try:
            self._keyring.for_account(account)
        except KeyError:
            return None
        if token not in session.tokens:
            session.tokens.add(token)
            self._held[token] = (account, held[1] + 1 if held else 1)
        return account

    def _release(self, tokens: set[str]) -> None:
        """A closing connection stops holding its tokens; the last holder restarts their lifetime."""
        for token in tokens:
            account, holders = self._held.pop(token)
            if holders > 1:
                self._held[token] = (account, holders - 1)
            else:
                self._tokens.keep_alive(token, self._sim.now_ms())

    def _now(self) -> str:
        return rfc3339(self._sim.now_ms())


_TRADING = {
    "add_order": "AddOrder", "batch_add": "AddOrderBatch", "amend_order": "AmendOrder", "edit_order": "EditOrder",
    "cancel_order": "CancelOrder", "batch_cancel": "CancelOrderBatch", "cancel_all": "CancelAll",
    "cancel_all_orders_after": "CancelAllOrdersAfter",
}
"""The v2 trading methods, with the REST method each one is (for faults configured by REST name)."""
