"""The Kraken REST server's parts on their own: signing, nonces, lockout, limiters, faults, formats, order
parameters and the capabilities file."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest

from crypy.protocols import Order, OrderStatus, OrderType, Side, TimeInForce
from crypy.simulator import DEFAULT_MARKETS, ExchangeError
from crypy.simulator.config import ConfigError, EndpointFaults, Faults, KrakenServerConfig, Latency, load_config
from crypy.simulator.kraken import naming
from crypy.simulator.kraken.auth import (
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SIGNATURE,
    LOCKOUT,
    Authenticator,
    AuthError,
    sign,
)
from crypy.simulator.kraken.credentials import KeyRing, new_credentials
from crypy.simulator.kraken.faults import Faults as FaultPlan
from crypy.simulator.kraken.formats import describe, fixed, rfc1123, seconds_text
from crypy.simulator.kraken.order_params import Market, check_deadline, parse_placement
from crypy.simulator.kraken.params import Params
from crypy.simulator.kraken.rate_limits import TIERS, OrderAges, RateLimited, RestLimiter, TradingLimiter

XBT_USD = naming.pair("XBT/USD")
SPEC = DEFAULT_MARKETS["XBT/USD"]


def test_the_official_signature_vector() -> None:
    secret = base64.b64decode(
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    )
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert sign("/0/private/AddOrder", "1616492376594", body, secret) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def _authenticator(**options: int | float) -> tuple[Authenticator, bytes, str]:
    credentials = new_credentials("alice", seed=1)
    keyring = KeyRing()
    keyring.add(credentials)
    settings = {"nonce_window": 0, "lockout_after": 3, "lockout_seconds": 60.0} | options
    return Authenticator(keyring, **settings), credentials.secret_bytes, credentials.api_key  # type: ignore[arg-type]


def _call(auth: Authenticator, secret: bytes, key: str, nonce: int, *, now: float = 0.0, client: str = "c") -> str:
    body = f"nonce={nonce}".encode()
    return auth.authenticate(client=client, path="/0/private/Balance", api_key=key,
                             api_sign=sign("/0/private/Balance", str(nonce), body, secret), nonce=str(nonce), body=body,
                             now=now)


def test_nonces_must_increase_per_key() -> None:
    auth, secret, key = _authenticator()
    assert _call(auth, secret, key, 5) == "alice"
    for stale in (5, 4):
        with pytest.raises(AuthError) as refused:
            _call(auth, secret, key, stale)
        assert refused.value.reason == INVALID_NONCE
    assert _call(auth, secret, key, 6) == "alice"


def test_a_nonce_window_accepts_late_nonces_once() -> None:
    auth, secret, key = _authenticator(nonce_window=10)
    _call(auth, secret, key, 100)
    _call(auth, secret, key, 95)
    for refused_nonce in (95, 90):
        with pytest.raises(AuthError):
            _call(auth, secret, key, refused_nonce)


def test_bad_keys_and_signatures_are_refused_then_locked_out() -> None:
    auth, secret, key = _authenticator(lockout_after=3, lockout_seconds=10.0)
    with pytest.raises(AuthError) as unknown:
        _call(auth, secret, "nobody", 1)
    assert unknown.value.reason == INVALID_KEY
    with pytest.raises(AuthError) as forged:
        _call(auth, b"wrong secret", key, 2)
    assert forged.value.reason == INVALID_SIGNATURE
    with pytest.raises(AuthError):
        _call(auth, secret, "nobody", 3, now=1.0)
    with pytest.raises(AuthError) as locked:
        _call(auth, secret, key, 4, now=2.0)  # even good credentials, from the locked client
    assert locked.value.reason == LOCKOUT
    assert _call(auth, secret, key, 5, now=2.0, client="another") == "alice"
    assert _call(auth, secret, key, 6, now=12.0) == "alice"


def test_the_rest_counter_decays_and_skips_trading_calls() -> None:
    limiter = RestLimiter(TIERS["starter"])
    for _ in range(15):
        limiter.charge("k", "Balance", 0.0)
    with pytest.raises(RateLimited) as refused:
        limiter.charge("k", "Balance", 0.0)
    assert refused.value.reason == "EAPI:Rate limit exceeded"
    limiter.charge("k", "AddOrder", 0.0)
    limiter.charge("k", "Balance", 3.1)  # one point decayed (0.33/s)
    with pytest.raises(RateLimited):
        limiter.charge("k", "TradesHistory", 6.2)  # +2: one more point is not enough
    limiter.charge("other", "Balance", 0.0)


def test_cancelling_young_orders_costs_more() -> None:
    ages = OrderAges()
    limiter = TradingLimiter(TIERS["starter"], ages)
    ages.placed("O1", 0.0)
    for _ in range(7):
        limiter.cancel("a", "XBT/USD", "O1", 1.0)  # 8 each while under 5 s old: 56
    with pytest.raises(RateLimited) as refused:
        limiter.cancel("a", "XBT/USD", "O1", 1.0)
    assert refused.value.reason == "EOrder:Rate limit exceeded"
    limiter.add("a", "ETH/USD", 1.0)  # another pair has its own counter
    limiter.cancel("a", "XBT/USD", "unknown", 1.0)  # an order this server never placed counts as old: free


def test_latency_follows_the_configured_percentiles_and_the_seed() -> None:
    config = KrakenServerConfig(seed=3, latency_ms=Latency(p50=20.0, p99=80.0))
    plan = FaultPlan(config)
    samples = sorted(plan.latency() for _ in range(4000))
    assert samples[2000] == pytest.approx(0.020, rel=0.1)
    assert samples[3960] == pytest.approx(0.080, rel=0.25)
    assert FaultPlan(config).latency() == FaultPlan(config).latency()
    assert FaultPlan(KrakenServerConfig()).latency() == 0.0


def test_faults_draw_errors_per_endpoint_and_gate_by_system_status() -> None:
    faults = Faults(endpoints={"Ticker": EndpointFaults(error_rate=1.0, error="EService:Busy"),
                               "*": EndpointFaults(timeout_rate=1.0)}, system_status="cancel_only")
    plan = FaultPlan(KrakenServerConfig(faults=faults))
    assert plan.injected_error("Ticker") == "EService:Busy"
    assert plan.injected_error("Depth") is None and plan.times_out("Depth") and not plan.times_out("Ticker")
    assert plan.status_refusal("AddOrder") == "EService:Market in cancel_only mode"
    assert plan.status_refusal("CancelOrder") is None
    outcomes = {plan.executes_before_timeout() for _ in range(50)}
    assert outcomes == {True, False}


def _order(order_type: OrderType, side: Side = Side.SELL, **fields: object) -> Order:
    values: dict[str, object] = dict(ts=0, id="O", client_id="", pair="XBT/USD", side=side, order_type=order_type,
                                     amount=Decimal("0.1"), price=None, status=OrderStatus.OPEN)
    return Order(**(values | fields))  # type: ignore[arg-type]


def test_order_descriptions_are_the_sentences_ccxt_parses() -> None:
    cases = [
        (_order(OrderType.MARKET, Side.BUY), "buy 0.10000000 XBTUSD @ market"),
        (_order(OrderType.LIMIT, price=Decimal(27500)), "sell 0.10000000 XBTUSD @ limit 27500.0"),
        (_order(OrderType.STOP_LOSS, trigger_price=Decimal(55)), "sell 0.10000000 XBTUSD @ stop loss 55.0"),
        (_order(OrderType.TAKE_PROFIT_LIMIT, trigger_price=Decimal(120), price=Decimal(119)),
         "sell 0.10000000 XBTUSD @ take profit 120.0 -> limit 119.0"),
        (_order(OrderType.TRAILING_STOP, trailing_offset=Decimal(50), trailing_percent=True),
         "sell 0.10000000 XBTUSD @ trailing stop +50.0000%"),
        (_order(OrderType.TRAILING_STOP, trailing_offset=Decimal(50)), "sell 0.10000000 XBTUSD @ trailing stop +50.0"),
    ]
    for order, sentence in cases:
        assert describe(order, XBT_USD, SPEC) == sentence


def test_numbers_and_times_are_written_as_kraken_writes_them() -> None:
    assert fixed(Decimal("1E+1"), 2) == "10.00" and fixed(0.1, 3) == "0.100"
    assert seconds_text(1705259439563) == "1705259439.563000"
    assert rfc1123(1546998654000) == "Wed,  9 Jan 19 01:50:54 +0000"


def _market(now_ms: int = 1_000_000) -> Market:
    return Market(names=XBT_USD, amount_decimals=8, now_ms=now_ms, last=lambda: Decimal(20000),
                  ask=lambda: Decimal(20010))


def _parse(**values: str) -> object:
    return parse_placement(Params(values), _market(), tuple(OrderType))


def test_add_order_parameters_map_to_the_engine() -> None:
    stop = _parse(type="sell", ordertype="stop-loss-limit", volume="0.5", price="-5%", price2="-100",
                  oflags="fciq", timeinforce="gtd", expiretm="+60", cl_ord_id="abc")
    assert (stop.trigger_price, stop.price, stop.time_in_force, stop.expire_ts) == (  # type: ignore[attr-defined]
        Decimal(19000), Decimal(18900), TimeInForce.GTD, 1_060_000)
    trailing = _parse(type="sell", ordertype="trailing-stop", volume="1", price="+5%")
    assert (trailing.trailing_offset, trailing.trailing_percent) == (Decimal(5), True)  # type: ignore[attr-defined]
    cost = _parse(type="buy", ordertype="market", volume="50", oflags="viqc")
    assert cost.amount == Decimal("0.00249875") and cost.notes.quote_volume == Decimal(50)  # type: ignore[attr-defined]
    post = _parse(type="buy", ordertype="limit", volume="1", price="#100", oflags="post", userref="42")
    assert (post.price, post.post_only, post.userref) == (Decimal(19900), True, 42)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"ordertype": "iceberg"}, "EGeneral:Invalid arguments:ordertype"),
        ({"oflags": "viqc", "ordertype": "limit", "price": "1"}, "EGeneral:Invalid arguments:viqc"),
        ({"oflags": "fcib,fciq"}, "EGeneral:Invalid arguments:oflags"),
        ({"leverage": "2"}, "EGeneral:Invalid arguments:leverage"),
        ({"reduce_only": "true"}, "EOrder:Reduce only:No position exists"),
        ({"starttm": "+60"}, "EGeneral:Invalid arguments:starttm"),
        ({"close[ordertype]": "limit"}, "EGeneral:Invalid arguments:close"),
        ({"volume": "abc"}, "EGeneral:Invalid arguments:volume"),
        ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
        ({"ordertype": "trailing-stop", "price": "5%"}, "EGeneral:Invalid arguments:price"),
    ],
)
def test_parameters_the_simulator_cannot_honour_are_refused(values: dict[str, str], reason: str) -> None:
    with pytest.raises(ExchangeError) as refused:
        _parse(**({"type": "buy", "ordertype": "market", "volume": "1"} | values))
    assert refused.value.reason == reason


def test_deadlines_are_checked_on_the_wall_clock() -> None:
    check_deadline(Params({"deadline": "2030-01-01T00:00:10Z"}), wall_ms=1_893_456_000_000)
    with pytest.raises(ExchangeError, match="Deadline elapsed"):
        check_deadline(Params({"deadline": "2030-01-01T00:00:00Z"}), wall_ms=1_893_456_000_001)
    with pytest.raises(ExchangeError, match="deadline"):
        check_deadline(Params({"deadline": "2030-01-01T00:05:00Z"}), wall_ms=1_893_456_000_000)


def test_the_bundled_capabilities_file_loads_with_the_simulator_defaults() -> None:
    sim_config, server_config = load_config()
    assert sim_config.markets is None and sim_config.accounts == {"default": {"USD": 10000, "XBT": Decimal("0.25")}}
    assert server_config.rate_limit_tier == "starter" and server_config.faults.system_status == "online"
    assert set(server_config.order_types) == set(OrderType)


def test_a_capabilities_file_sets_markets_faults_and_relative_data_files(tmp_path: Path) -> None:
    (tmp_path / "exchange.toml").write_text(
        'seed = 9\nspeed = 60.0\ndata_files = ["data/kraken_BTCUSD_15m.csv.gz"]\norder_types = ["market", "limit"]\n'
        '[accounts.bob]\nUSD = "5"\n'
        '[markets."XBT/USD"]\nbase = "XBT"\nquote = "USD"\nprice_decimals = 1\namount_decimals = 8\n'
        'cost_decimals = 5\nmin_amount = "0.001"\nmin_cost = "1"\nmaker_fee = "0.001"\ntaker_fee = "0.002"\n'
        '[kraken]\nlatency_ms = { p50 = 5.0, p99 = 50.0 }\n'
        '[kraken.faults.endpoints.AddOrder]\ntimeout_rate = 0.5\n'
    )
    sim_config, server_config = load_config(tmp_path / "exchange.toml")
    assert sim_config.data_files == [str(tmp_path / "data/kraken_BTCUSD_15m.csv.gz")]
    assert sim_config.markets is not None and sim_config.markets["XBT/USD"].min_amount == Decimal("0.001")
    assert server_config.seed == 9 and server_config.order_types == (OrderType.MARKET, OrderType.LIMIT)
    assert server_config.faults.for_endpoint("AddOrder").timeout_rate == 0.5
    assert server_config.faults.for_endpoint("Ticker").timeout_rate == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speed = ", "not valid TOML"),
        ("sped = 1.0", "unknown key(s) sped"),
        ('[kraken]\nrate_limit_tier = "gold"', "rate_limit_tier"),
        ("[kraken.faults.endpoints.AddOrder]\nerror_rate = 2.0", "error_rate must be between 0 and 1"),
        ('[kraken.faults.endpoints.AddOrder]\nerror = "oops"', "Kraken error string"),
        ("[kraken]\nlatency_ms = { p50 = 9.0, p99 = 1.0 }", "p50 <= p99"),
        ('[kraken.faults]\nsystem_status = "closed"', "system_status"),
        ('[accounts.bob]\nUSD = "lots"', "accounts"),
    ],
)
def test_capabilities_file_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_missing_capabilities_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
