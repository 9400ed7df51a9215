"""ccxt's exceptions as crypy's, with Kraken's own reason kept and credentials scrubbed.

ccxt words an exchange error as ``kraken {"error":["EOrder:Insufficient funds"]}`` and a network error as
``kraken POST <url>``; crypy keeps just Kraken's reason (``EOrder:Insufficient funds``) so the desk can show
and match it as it does the simulator's. Messages never carry the API key or secret: ccxt's own do not, but
a proxy URL, a server echoing a header or a future ccxt version might, so every message is scrubbed, and so
is every line ccxt logs (its debug log shows request headers, the API key among them).
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Iterable

import ccxt

from .base import ExchangeAuthError, ExchangeError, ExchangeUnavailable, OrderRejected

REDACTED = "***"

_AUTH_REASONS = ("EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Permission denied",
                 "EAccount:Invalid permissions", "EGeneral:Temporary lockout")
_MARKET_CLOSED = "EService:Market in"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every credential replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def kraken_reason(exc: BaseException) -> str:
    """Kraken's error strings from a ccxt exception (``EOrder:Insufficient funds``), else its message."""
    message = str(exc)
    _, _, body = message.partition(" ")
    if body.startswith("{"):
        try:
            errors = json.loads(body).get("error") or []
        except (ValueError, AttributeError):
            errors = []
        if errors and all(isinstance(error, str) for error in errors):
            return "; ".join(errors)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def translate(exc: BaseException, secrets: Iterable[str], *, order: bool = False) -> ExchangeError:
    """The crypy exception for ``exc`` raised by a ccxt call. ``order`` when the call placed or amended an order:
    then every definite refusal (insufficient funds, invalid order, market closed...) is ``OrderRejected``."""
    if isinstance(exc, ExchangeError):
        return exc
    if isinstance(exc, binascii.Error):
        return ExchangeAuthError("the API secret is not valid base64")
    reason = kraken_reason(exc)
    message = scrub(reason, secrets)
    if not isinstance(exc, ccxt.BaseError):
        return ExchangeError(f"unexpected answer from the exchange: {message}")
    if isinstance(exc, ccxt.AuthenticationError) or reason.startswith(_AUTH_REASONS):
        return ExchangeAuthError(message)
    if order and (reason.startswith(_MARKET_CLOSED) or not isinstance(exc, ccxt.OperationFailed)):
        return OrderRejected(message)
    if isinstance(exc, ccxt.OperationFailed):  # network, timeout, busy, rate limit, nonce, garbled answer
        return ExchangeUnavailable(message)
    return ExchangeError(message)


def connect_failure(exc: OSError) -> str:
    """The reason a connection failed: trio groups one error per address tried; the first says it best."""
    group = exc.__cause__
    first = group.exceptions[0] if isinstance(group, BaseExceptionGroup) and group.exceptions else exc
    return (first.strerror if isinstance(first, OSError) else None) or str(first)


class Scrubbed(logging.Filter):
    """ccxt logs request headers (the API key among them) at debug level: replace credentials before any handler."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage(), self._secrets), None
        return True
