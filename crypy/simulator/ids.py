"""Kraken-shaped ids (``OUF4EM-FRGI2-MQMWZD`` for orders, ``T...`` for trades), reproducible from a seed.

A seeded generator makes two runs of the same scenario produce the same ids, so logs and tests can be compared.
"""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_uppercase + string.digits


class KrakenIds:
    """Issues unique ids in Kraken's 6-5-6 layout, the first letter telling the kind."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._issued: set[str] = set()

    def order(self) -> str:
        return self._next("O")

    def trade(self) -> str:
        return self._next("T")

    def _next(self, kind: str) -> str:
        while True:
            chars = "".join(self._random.choices(_ALPHABET, k=16))
            candidate = f"{kind}{chars[:5]}-{chars[5:10]}-{chars[10:]}"
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate
