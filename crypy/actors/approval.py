"""Signing and checking holder approvals.

A holder signs each approval with its own secret key (HMAC-SHA256). The desk, which gave the holder that
key when it created it, verifies the signature on every order request, so a trader cannot forge or widen
its own permission, and a tampered field (amount, pair, expiry) breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from decimal import Decimal

import msgspec

from crypy.protocols import Approval


def new_key() -> bytes:
    return secrets.token_bytes(32)


def _message(approval: Approval) -> bytes:
    fields = (approval.id, approval.holder, approval.trader, approval.pair, approval.asset,
              str(approval.amount), str(approval.expires))
    return "|".join(fields).encode()


def sign(key: bytes, *, id: str, holder: str, trader: str, pair: str, asset: str, amount: Decimal,
         expires: int) -> Approval:
    unsigned = Approval(id=id, holder=holder, trader=trader, pair=pair, asset=asset, amount=amount,
                        expires=expires, signature="")
    signature = hmac.new(key, _message(unsigned), hashlib.sha256).hexdigest()
    return msgspec.structs.replace(unsigned, signature=signature)


def verify(key: bytes, approval: Approval) -> bool:
    expected = hmac.new(key, _message(approval), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, approval.signature)
