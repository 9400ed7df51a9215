"""Kraken's private-call authentication: ``API-Key`` + ``API-Sign`` over the raw body, and per-key nonces.

The signature is checked over the exact bytes received (form or JSON), never a re-encoding, because a client
signs what it sends and any re-encoding could differ in order or escaping. A client that keeps presenting bad
credentials is locked out for a while, as Kraken does, so a misconfigured bot cannot hammer the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

from .credentials import KeyRing

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
LOCKOUT = "EGeneral:Temporary lockout"


class AuthError(Exception):
    """A private request failed authentication; ``reason`` is Kraken's error string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(path: str, nonce: str, body: bytes, secret: bytes) -> str:
    """``base64(HMAC-SHA512(secret, path + SHA256(nonce + body)))``, Kraken's ``API-Sign``."""
    digest = hashlib.sha256(nonce.encode() + body).digest()
    return base64.b64encode(hmac.new(secret, path.encode() + digest, hashlib.sha512).digest()).decode()


@dataclass
class _Nonces:
    """The nonces one key has used: the highest, and (with a window) the recent ones below it."""

    last: int = 0
    recent: set[int] = field(default_factory=set)

    def accept(self, nonce: int, window: int) -> bool:
        if nonce > self.last:
            if window:
                self.recent.add(nonce)
                self.recent = {seen for seen in self.recent if seen > nonce - window}
            self.last = nonce
            return True
        if window and nonce > self.last - window and nonce not in self.recent:
            self.recent.add(nonce)
            return True
        return False


@dataclass
class _Failures:
    """Recent authentication failures of one client, and until when it is locked out."""

    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class Authenticator:
    """Checks key, signature and nonce of private requests; locks out clients that keep failing.

    ``nonce_window`` > 0 accepts a nonce up to that much below the highest seen, once, so concurrent requests
    arriving slightly out of order still pass; 0 demands strictly increasing nonces, Kraken's default.
    ``lockout_after`` bad keys or signatures from one client within ``lockout_seconds`` lock it out for
    ``lockout_seconds`` (0 never locks out). Times are seconds on any monotonic clock the caller passes (the
    server passes trio's).
    """

    def __init__(self, keyring: KeyRing, *, nonce_window: int, lockout_after: int, lockout_seconds: float) -> None:
        self._keyring = keyring
        self._nonce_window = nonce_window
        self._lockout_after = lockout_after
        self._lockout_seconds = lockout_seconds
        self._nonces: dict[str, _Nonces] = {}
        self._failures: dict[str, _Failures] = {}

    def authenticate(
        self, *, client: str, path: str, api_key: str, api_sign: str, nonce: object, body: bytes, now: float
    ) -> str:
        """The account the request acts for, or ``AuthError`` with Kraken's reason."""
        failures = self._failures.get(client)
        if failures is not None and now < failures.locked_until:
            raise AuthError(LOCKOUT)
        credentials = self._keyring.get(api_key)
        if credentials is None:
            self._fail(client, now)
            raise AuthError(INVALID_KEY)
        nonce_text = str(nonce) if nonce is not None else ""
        if not _signature_matches(api_sign, sign(path, nonce_text, body, credentials.secret_bytes)):
            self._fail(client, now)
            raise AuthError(INVALID_SIGNATURE)
        try:
            value = int(nonce_text)
        except ValueError:
            raise AuthError(INVALID_NONCE) from None
        if not self._nonces.setdefault(api_key, _Nonces()).accept(value, self._nonce_window):
            raise AuthError(INVALID_NONCE)
        return credentials.account

    def _fail(self, client: str, now: float) -> None:
        failures = self._failures.setdefault(client, _Failures())
        failures.times = [t for t in failures.times if t > now - self._lockout_seconds] + [now]
        if self._lockout_after and len(failures.times) >= self._lockout_after:
            failures.locked_until = now + self._lockout_seconds
            failures.times.clear()


def _signature_matches(received: str, expected: str) -> bool:
    """Constant-time comparison of the decoded signatures; undecodable input never matches."""
    try:
        return hmac.compare_digest(base64.b64decode(received, validate=True), base64.b64decode(expected))
    except (binascii.Error, ValueError):
        return False
