"""Request parameters as Kraken accepts them: form or JSON values, read leniently and refused precisely.

A form body makes every value a string and a JSON body may not, so each getter accepts both spellings (``True``,
``true``, ``1``; ``"a,b"`` or ``["a", "b"]``). A value that does not parse is refused with Kraken's
``EGeneral:Invalid arguments:<name>``, so a client learns which parameter was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ExchangeError

INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def invalid(name: str, detail: str = "") -> ExchangeError:
    return ExchangeError(f"{INVALID_ARGUMENTS}:{name}", detail)


class Params:
    """One request's parameters (query, form or JSON object), with typed getters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            raise invalid(name, "expected a single value")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None or value == "":
            raise invalid(name, "missing")
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name, "false")
        lowered = (value or "").lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise invalid(name, f"{value!r} is not a boolean")

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.text(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise invalid(name, f"{value!r} is not a number") from None
            if not number.is_finite():
                raise invalid(name, f"{value!r} is not a number") from None
            return int(number)

    def decimal(self, name: str) -> Decimal | None:
        value = self.text(name)
        if value is None or value == "":
            return None
        return parse_decimal(value, name)

    def names(self, name: str) -> list[str]:
        """A list given as JSON array or comma-separated text; empty when absent."""
        value = self._values.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(item) for item in value]
        text = self.text(name) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


def parse_decimal(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise invalid(name, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise invalid(name, f"{value!r} is not a number")
    return number
