"""The holder's sub-ledger: traders sharing one asset's capital are never promised more than is free."""

from __future__ import annotations

import itertools
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from crypy.actors.ledger import CapitalLedger
from crypy.actors.sub_ledger import SubLedger
from crypy.protocols import Fill, Side

D = Decimal
A, B = "XBT/USD@USD", "ETH/USD@USD"
_ids = itertools.count()


def _fill(trader: str, side: Side, amount: str | Decimal, price: str | Decimal, fee: str | Decimal = "0") -> Fill:
    return Fill(ts=0, id=f"F{next(_ids)}", order_id="O", client_id="c", pair="XBT/USD", side=side, price=D(price),
                amount=D(amount), fee=D(fee), fee_asset="USD", liquidity="taker", trader=trader)


def _usd_ledger() -> CapitalLedger:
    return CapitalLedger(asset="USD", other="XBT", base="XBT")


def _shared() -> SubLedger:
    book = SubLedger("USD", D(1000))
    assert book.allocate(A, D(500), _usd_ledger()) == 500
    assert book.allocate(B, D(800), _usd_ledger()) == 500  # only what A was not promised
    return book


def test_two_traders_share_1000_usd() -> None:
    book = _shared()
    assert (book.reserved, book.unallocated, book.allocated) == (1000, 0, 1000)
    book.on_fill(_fill(A, Side.BUY, "0.01", "40000", "1"))  # A pays 401
    assert (book.committed, book.own, book.uncommitted(A), book.uncommitted(B)) == (401, 599, 99, 500)
    assert book.allocate(B, D(100), _usd_ledger()) == 0  # B cannot grow into what A still may spend
    assert book.uncommitted(B) == 500
    book.check()


def test_an_exit_returns_capital_plus_profit() -> None:
    book = _shared()
    book.on_fill(_fill(A, Side.BUY, "0.01", "40000", "1"))
    book.on_fill(_fill(A, Side.SELL, "0.005", "50000", "0.5"))  # half back: receives 249.5 for 200.5 of cost
    assert (book.committed, book.realized, book.own) == (D("200.5"), 49, D("848.5"))
    book.on_fill(_fill(A, Side.SELL, "0.005", "50000", "0.5"))
    assert (book.committed, book.realized, book.own, book.free) == (0, 98, 1098, 1098)
    assert book.uncommitted(A) == 500 and book.unallocated == 98  # the profit is free for new allocations
    book.release(A)
    assert A not in book.grants and (book.realized, book.unallocated) == (98, 598)
    book.check()


def test_a_release_keeps_the_position_booked_until_its_exit() -> None:
    book = _shared()
    book.on_fill(_fill(A, Side.BUY, "0.01", "40000"))
    book.release(A)
    assert (book.committed, book.uncommitted(A), book.unallocated) == (400, 0, 100)
    book.on_fill(_fill(A, Side.SELL, "0.01", "30000"))  # a loss of 100
    assert A not in book.grants and (book.committed, book.realized, book.own, book.unallocated) == (0, -100, 900, 400)


def test_a_shrinking_balance_shrinks_the_allocations_proportionally_until_it_recovers() -> None:
    book = _shared()
    book.on_fill(_fill(A, Side.BUY, "0.01", "40000"))  # A: 400 committed, 100 reserved; B: 500 reserved
    book.on_balance(D(300))  # a withdrawal: the account has 300 where the books say 600
    assert (book.free, book.uncommitted(A), book.uncommitted(B), book.unallocated) == (300, 50, 250, 0)
    assert book.allocate(B, D(1), _usd_ledger()) == 0
    book.check()
    book.on_balance(D(5000))  # capped by the books, not by a report above them
    assert (book.free, book.uncommitted(A), book.uncommitted(B)) == (600, 100, 500)


def test_a_loss_shrinks_the_allocations_it_no_longer_covers() -> None:
    book = SubLedger("USD", D(1000))
    book.allocate(A, D(1000), _usd_ledger())
    book.on_fill(_fill(A, Side.BUY, "0.025", "40000"))
    book.on_fill(_fill(A, Side.SELL, "0.025", "36000"))  # 1000 out, 900 back
    assert (book.own, book.uncommitted(A), book.unallocated) == (900, 900, 0)
    book.check()


def test_a_holder_of_the_base_asset_commits_what_it_sells() -> None:
    book = SubLedger("XBT", D(1))
    book.allocate("XBT/USD@XBT", D("0.5"), CapitalLedger(asset="XBT", other="USD", base="XBT"))
    book.on_fill(_fill("XBT/USD@XBT", Side.SELL, "0.5", "40000", "20"))
    assert (book.committed, book.own) == (D("0.5"), D("0.5"))
    book.on_fill(_fill("XBT/USD@XBT", Side.BUY, "0.4995", "40000"))  # the 19980 USD it got buy back 0.4995
    assert (book.committed, book.realized, book.own) == (0, D("-0.0005"), D("0.9995"))
    book.check()


def test_check_names_what_does_not_fit() -> None:
    book = _shared()
    book.grants[A].ledger.committed = D(-1)
    with pytest.raises(ValueError, match="negative"):
        book.check()


TRADERS = st.sampled_from(["T1@USD", "T2@USD", "T3@USD"])
FRACTIONS = st.decimals(min_value=D("0.01"), max_value=D(1), places=2)
PRICES = st.decimals(min_value=D(100), max_value=D(100_000), places=2)
FEE_RATES = st.sampled_from([D(0), D("0.0016"), D("0.0026"), D("0.01")])
SATOSHI = D("1e-8")
ROUNDING = D("1e-18")


class SubLedgerMachine(RuleBasedStateMachine):
    """Random proposals, partial entries, exits at a profit or a loss, releases and balance reports.

    The model keeps the holder's cash independently: the capital, less what entries paid (cost + fee), plus what
    exits received (cost - fee). After every step the books must say the same (``own == cash``, up to Decimal's
    rounding of a partial exit's share of the cost: 1e-18 USD), satisfy
    ``committed + own == capital + realized``, and fit: per asset, the reserved (uncommitted, after any shrink)
    parts add up to no more than ``free``, which is the lower of ``own`` and the last report, and never negative.
    """

    CAPITAL = D(1000)

    def __init__(self) -> None:
        super().__init__()
        self.book = SubLedger("USD", self.CAPITAL)
        self.cash = self.CAPITAL
        self.withdrawn = D(0)

    @rule(trader=TRADERS, amount=st.decimals(min_value=0, max_value=2000, places=8))
    def propose(self, trader: str, amount: Decimal) -> None:
        room = self.book.unallocated
        before = self.book.grants[trader].amount if trader in self.book.grants else D(0)
        granted = self.book.allocate(trader, amount, _usd_ledger())
        assert granted == min(amount, room)
        assert self.book.grants[trader].amount == before + granted

    @rule(trader=TRADERS, fraction=FRACTIONS, price=PRICES, fee_rate=FEE_RATES)
    def entry(self, trader: str, fraction: Decimal, price: Decimal, fee_rate: Decimal) -> None:
        spend = self.book.uncommitted(trader) * fraction
        amount = (spend / (price * (1 + fee_rate))).quantize(SATOSHI, rounding=ROUND_DOWN)
        if amount <= 0:
            return
        fee = (price * amount * fee_rate).quantize(SATOSHI, rounding=ROUND_DOWN)
        assert price * amount + fee <= spend
        self.book.on_fill(_fill(trader, Side.BUY, amount, price, fee))
        self.cash -= price * amount + fee

    @rule(trader=TRADERS, fraction=FRACTIONS, price=PRICES, fee_rate=FEE_RATES)
    def exit(self, trader: str, fraction: Decimal, price: Decimal, fee_rate: Decimal) -> None:
        grant = self.book.grants.get(trader)
        held = grant.ledger.acquired if grant else D(0)
        amount = held if fraction == 1 else (held * fraction).quantize(SATOSHI, rounding=ROUND_DOWN)
        if amount <= 0:
            return
        fee = (price * amount * fee_rate).quantize(SATOSHI, rounding=ROUND_DOWN)
        self.book.on_fill(_fill(trader, Side.SELL, amount, price, fee))
        self.cash += price * amount - fee

    @rule(trader=TRADERS)
    def release(self, trader: str) -> None:
        self.book.release(trader)
        assert self.book.uncommitted(trader) == 0

    @rule(amount=st.decimals(min_value=0, max_value=1000, places=2))
    def withdraw(self, amount: Decimal) -> None:
        """Money leaves the account behind the holder's back: only the next report tells."""
        self.withdrawn += amount

    @rule(others=st.decimals(min_value=0, max_value=500, places=2))
    def report(self, others: Decimal) -> None:
        """The exchange's total: the holder's cash, other holders' traders' positions in it, less withdrawals."""
        self.book.on_balance(max(self.cash + others - self.withdrawn, D(0)))

    @invariant()
    def books_fit_and_add_up(self) -> None:
        book = self.book
        book.check()
        assert abs(book.own - self.cash) <= ROUNDING  # a partial exit's cost share is a 28-digit division
        assert book.committed + book.own == book.capital + book.realized
        assert book.committed >= 0 and book.free >= 0
        expected_free = book.own if book.reported is None else min(book.own, book.reported)
        assert book.free == max(expected_free, D(0))
        assert book.reserved <= book.free
        assert book.unallocated == book.free - book.reserved
        for name, grant in book.grants.items():
            assert 0 <= book.uncommitted(name) <= max(grant.amount - grant.ledger.committed, D(0))


TestSubLedgerMachine = SubLedgerMachine.TestCase
TestSubLedgerMachine.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)


def test_a_position_from_before_a_restart_is_adopted_without_changing_what_is_free() -> None:
    held = CapitalLedger(asset="USD", other="XBT", base="XBT", committed=Decimal("401"), acquired=Decimal("0.02"),
                         realized=Decimal("-7"))
    books = SubLedger("USD", Decimal("599"))  # the balance the restarted desk found free
    books.adopt("XBT/USD@USD", held)
    assert (books.committed, books.own, books.realized) == (Decimal("401"), Decimal("599"), Decimal(0))
    books.on_balance(Decimal("599"))
    assert books.unallocated == Decimal("599")
    books.on_fill(Fill(ts=1, id="T9", order_id="O9", client_id="c9", pair="XBT/USD", side=Side.SELL,
                       price=Decimal("21000"), amount=Decimal("0.02"), fee=Decimal("1"), fee_asset="USD",
                       liquidity="taker", trader="XBT/USD@USD"))
    assert (books.committed, books.realized, books.own) == (Decimal(0), Decimal("18"), Decimal("1018"))
    assert not books.grants, "a position given back and never funded again leaves no grant behind"
    books.on_balance(Decimal("1018"))
    assert books.unallocated == Decimal("1018")
    books.check()
