"""API keys of the simulated accounts, and the WebSocket tokens issued to them.

Each simulated account has one API key and a base64 secret, like a Kraken key pair. ``GetWebSocketsToken``
issues a token that private WebSocket requests must carry; it must be used within 15 minutes and stays
valid while a connection using it is open.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
from dataclasses import dataclass, field

TOKEN_LIFETIME_MS = 900_000


@dataclass(frozen=True)
class ApiCredentials:
    account: str
    api_key: str
    secret: str  # base64, as Kraken hands it out

    @property
    def secret_bytes(self) -> bytes:
        return base64.b64decode(self.secret)


def new_credentials(account: str, seed: int | None = None) -> ApiCredentials:
    """Fresh random credentials, or reproducible ones for a seed (tests, scripted runs)."""
    if seed is None:
        key, secret = secrets.token_urlsafe(42), secrets.token_bytes(64)
    else:
        rng = random.Random(hashlib.sha256(f"{seed}:{account}".encode()).digest())
        key = base64.urlsafe_b64encode(rng.randbytes(42)).decode().rstrip("=")
        secret = rng.randbytes(64)
    return ApiCredentials(account=account, api_key=key, secret=base64.b64encode(secret).decode())


@dataclass
class KeyRing:
    """Credentials by API key."""

    _by_key: dict[str, ApiCredentials] = field(default_factory=dict)

    def add(self, credentials: ApiCredentials) -> None:
        self._by_key[credentials.api_key] = credentials

    def get(self, api_key: str) -> ApiCredentials | None:
        return self._by_key.get(api_key)

    def for_account(self, account: str) -> ApiCredentials:
        for credentials in self._by_key.values():
            if credentials.account == account:
                return credentials
        raise KeyError(account)


@dataclass
class WsTokens:
    """WebSocket tokens: issued by REST, checked by the WebSocket server."""

    _issued: dict[str, tuple[str, int]] = field(default_factory=dict)

    def issue(self, account: str, now_ms: int) -> str:
        token = secrets.token_urlsafe(32)
        self._issued[token] = (account, now_ms + TOKEN_LIFETIME_MS)
        return token

    def account(self, token: str, now_ms: int) -> str | None:
        """The account a token belongs to, if it is known and not expired."""
        entry = self._issued.get(token)
        if entry is None or now_ms > entry[1]:
            return None
        return entry[0]

    def keep_alive(self, token: str, now_ms: int) -> None:
        """An open connection keeps its token valid."""
        entry = self._issued.get(token)
        if entry is not None:
            self._issued[token] = (entry[0], max(entry[1], now_ms + TOKEN_LIFETIME_MS))
