"""Simulating a strategy's targets over history, valued in the holder's own asset.

Execution rule (no look-ahead): the target decided at candle ``i``'s close is traded by a market order filled at
candle ``i + 1``'s open, half a spread worse than that open, less a taker fee on the notional; a decision on the
last candle has no next open and is not traded. Positions follow the target's level: the holder is "in position"
(away from its own asset) while the target says so, from the first decision after warmup on.

A holder of the base asset is the quote holder's mirror image: valued in base, quote is priced ``1 / close``,
selling base at the bid buys quote at ``1 / bid``, and buying base back at the ask sells quote at ``1 / ask``.
One computation therefore serves both, on mirrored prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec
import numpy as np

from .strategy import Strategy


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """What a holder judges a proposal by. Fractions, not percents; equity is in the holder's asset.

    A position still open at the end counts as a round trip closed at the last close (marked, no exit cost).
    ``win_rate`` is 0 when there are no round trips.
    """

    total_return: float
    trades: int
    win_rate: float
    max_drawdown: float
    exposure: float
    final_equity: float

    def as_dict(self) -> dict[str, float]:
        return {field: float(getattr(self, field)) for field in self.__struct_fields__}


def simulate(open_: np.ndarray, close: np.ndarray, targets: np.ndarray, *, fee: float, spread: float,
             holder_holds_quote: bool, start_value: float = 1.0, warmup: int = 0) -> Metrics:
    """Run ``targets`` over the candles; ``targets[:warmup - 1]`` carry no view and are ignored."""
    open_ = np.asarray(open_, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    targets = np.asarray(targets)
    count = close.shape[0]
    if count == 0 or open_.shape != close.shape or targets.shape != close.shape:
        raise ValueError(f"need equal, non-empty 1-D arrays, got open {open_.shape}, close {close.shape}, "
                         f"targets {targets.shape}")
    if not (0 <= fee < 1 and 0 <= spread < 2):
        raise ValueError(f"fee must be in [0, 1) and spread in [0, 2), got fee={fee}, spread={spread}")

    want = targets == (1 if holder_holds_quote else 0)  # after candle i: be away from the holder's asset
    want[:max(warmup - 1, 0)] = False
    held = np.zeros(count, dtype=bool)
    held[1:] = want[:-1]  # decided at close i, filled at open i + 1
    before = np.concatenate(([False], held[:-1]))
    enter, leave, stay = held & ~before, before & ~held, held & before

    ask, bid = open_ * (1 + spread / 2), open_ * (1 - spread / 2)
    mark, buy, sell = (close, ask, bid) if holder_holds_quote else (1 / close, 1 / bid, 1 / ask)
    prev_mark = np.concatenate(([np.nan], mark[:-1]))  # candle 0 can only be flat
    growth = np.ones(count)
    growth[stay] = mark[stay] / prev_mark[stay]
    growth[enter] = (1 - fee) * mark[enter] / buy[enter]
    growth[leave] = (1 - fee) * sell[leave] / prev_mark[leave]
    equity = start_value * np.cumprod(growth)

    entries, exits = np.flatnonzero(enter), np.flatnonzero(leave)
    if exits.shape[0] < entries.shape[0]:
        exits = np.append(exits, count - 1)
    wins = int(np.count_nonzero(equity[exits] > equity[entries - 1]))
    curve = np.concatenate(([start_value], equity))
    drawdown = 1 - curve / np.maximum.accumulate(curve)
    return Metrics(
        total_return=float(equity[-1] / start_value - 1),
        trades=int(entries.shape[0]),
        win_rate=wins / entries.shape[0] if entries.shape[0] else 0.0,
        max_drawdown=float(drawdown.max()),
        exposure=float(held.mean()),
        final_equity=float(equity[-1]),
    )


def evaluate_grid(strategy_cls: type[Strategy], grid: Iterable[Mapping[str, float]], open_: np.ndarray,
                  close: np.ndarray, *, fee: float, spread: float, holder_holds_quote: bool,
                  start_value: float = 1.0) -> list[tuple[dict[str, int | float], Metrics]]:
    """Simulate every parameter set; best total return first, ties to the smaller drawdown, then fewer trades,
    then grid order (the sort is stable), so the same grid always ranks the same way."""
    results = []
    for params in grid:
        strategy = strategy_cls(**params)
        metrics = simulate(open_, close, strategy.targets(close), fee=fee, spread=spread,
                           holder_holds_quote=holder_holds_quote, start_value=start_value, warmup=strategy.warmup)
        results.append((strategy.params, metrics))
    return sorted(results, key=lambda result: (-result[1].total_return, result[1].max_drawdown, result[1].trades))
