"""The Kraken REST API as a small ASGI app: ``/0/public/<Method>`` and ``/0/private/<Method>``, no framework.

Every answer is HTTP 200 with Kraken's envelope ``{"error": [...], "result": ...}``, since clients (ccxt included)
read the error strings, not the status. A private request goes through the same gates as on Kraken, in order:
latency, authentication (key, signature over the raw body, nonce), system status, the per-key call counter, then
injected faults, and finally the method itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import structlog
import trio

from ..errors import ExchangeError
from .auth import Authenticator, AuthError
from .faults import UNAVAILABLE, Faults
from .params import INVALID_ARGUMENTS, Params
from .public_api import PublicHandler
from .rate_limits import RateLimited, RestLimiter

UNKNOWN_METHOD = "EGeneral:Unknown method"
INTERNAL_ERROR = "EGeneral:Internal error"
MAX_BODY = 1 << 20

PrivateHandler = Callable[[str, Params], object]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = structlog.get_logger(__name__)
_encoder = msgspec.json.Encoder()


class KrakenRestApp:
    """Routes requests to the public and private method tables and wraps every answer in Kraken's envelope."""

    def __init__(
        self, *, public: Mapping[str, PublicHandler], private: Mapping[str, PrivateHandler], auth: Authenticator,
        rest_limiter: RestLimiter | None, faults: Faults,
    ) -> None:
        self._public = dict(public)
        self._private = dict(private)
        self._auth = auth
        self._rest_limiter = rest_limiter
        self._faults = faults

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        status, envelope = await self._respond(scope, body)
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8")],
        })
        await send({"type": "http.response.body", "body": _encoder.encode(envelope)})

    async def _respond(self, scope: dict[str, Any], body: bytes | None) -> tuple[int, dict[str, object]]:
        path: str = scope["path"]
        kind, _, method = path.removeprefix("/0/").partition("/")
        if not path.startswith("/0/") or kind not in ("public", "private"):
            return 404, {"error": [UNKNOWN_METHOD]}
        try:
            if body is None:
                raise ExchangeError(INVALID_ARGUMENTS, f"body over {MAX_BODY} bytes")
            params = _params(scope, body)
            latency = self._faults.latency()
            if latency:
                await trio.sleep(latency)
            if kind == "public":
                result = await self._public_call(method, params)
            else:
                result = await self._private_call(scope, path, method, params, body)
        except (ExchangeError, AuthError, RateLimited) as exc:
            return 200, {"error": [exc.reason]}
        except Exception:
            log.exception("kraken rest method failed", method=method)
            return 200, {"error": [INTERNAL_ERROR]}
        return 200, {"error": [], "result": result}

    async def _public_call(self, method: str, params: Params) -> object:
        handler = self._public.get(method)
        if handler is None:
            raise ExchangeError(UNKNOWN_METHOD, method)
        return await self._serve(method, lambda: handler(params))

    async def _private_call(self, scope: dict[str, Any], path: str, method: str, params: Params, body: bytes) -> object:
        handler = self._private.get(method)
        if handler is None:
            raise ExchangeError(UNKNOWN_METHOD, method)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        client = scope.get("client") or ("unknown", 0)
        api_key = headers.get("api-key", "")
        now = trio.current_time()
        account = self._auth.authenticate(
            client=str(client[0]), path=path, api_key=api_key, api_sign=headers.get("api-sign", ""),
            nonce=params.raw("nonce"), body=body, now=now,
        )
        refusal = self._faults.status_refusal(method)
        if refusal is not None:
            raise ExchangeError(refusal, f"system status {self._faults.system_status}")
        if self._rest_limiter is not None:
            self._rest_limiter.charge(api_key, method, now)
        return await self._serve(method, lambda: handler(account, params))

    async def _serve(self, method: str, call: Callable[[], object]) -> object:
        """Run ``call`` unless a fault is drawn: an injected error, or a timeout that may or may not have acted."""
        error = self._faults.injected_error(method)
        if error is not None:
            raise ExchangeError(error, "injected")
        if self._faults.times_out(method):
            if self._faults.executes_before_timeout():
                try:
                    call()
                except ExchangeError:
                    pass
            await trio.sleep(self._faults.timeout_seconds)
            raise ExchangeError(UNAVAILABLE, "injected timeout")
        return call()


def _params(scope: dict[str, Any], body: bytes) -> Params:
    """Query string, then the body (form or JSON object) on top; JSON keeps its types (lists, objects)."""
    values: dict[str, Any] = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    if not body:
        return Params(values)
    content_type = next((value for name, value in scope["headers"] if name.lower() == b"content-type"), b"")
    try:
        if b"json" in content_type:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("a JSON body must be an object")
            values.update(document)
        else:
            values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExchangeError(INVALID_ARGUMENTS, f"unreadable body: {exc}") from None
    return Params(values)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` when it is larger than any Kraken request."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
