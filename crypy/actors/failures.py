"""Finding the real error inside trio's exception groups, to report it in words a person can act on."""

from __future__ import annotations

import trio


def single_cause(error: BaseException) -> BaseException | None:
    """The one non-cancellation error inside ``error`` (itself when it is not a group), or None if several."""
    leaves: list[BaseException] = []

    def walk(inner: BaseException) -> None:
        if isinstance(inner, BaseExceptionGroup):
            for nested in inner.exceptions:
                walk(nested)
        elif not isinstance(inner, trio.Cancelled):
            leaves.append(inner)

    walk(error)
    return leaves[0] if len(leaves) == 1 else None
