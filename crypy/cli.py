"""The ``crypy`` command line: one sub-command per run mode or tool."""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from crypy.actors.failures import single_cause
from crypy.actors.registry import format_actors, live_actors
from crypy.actors.supervisor import ActorStartError
from crypy.actors.template import TemplateError
from crypy.actors.template_commands import add_template_parser, run_template
from crypy.exchanges import ExchangeError
from crypy.logs import configure_logging
from crypy.store.export import EXPORT_TABLES, FORMATS, export_journal

if TYPE_CHECKING:
    from crypy.plugins.registry import PluginError


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def _ratio(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _milliseconds(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _utc_date(text: str) -> int:
    """``YYYY-MM-DD`` or an ISO datetime, UTC unless it says otherwise, as milliseconds since the epoch."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD or ISO datetime): {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


def _balance_item(text: str) -> tuple[str, Decimal]:
    from crypy.modes.kraken import balance_item

    try:
        return balance_item(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_system_options(command: argparse.ArgumentParser, *, journal: str) -> None:
    """What every mode that runs the actor system takes: journal, desk REPL, templates, duration."""
    command.add_argument("--db", type=Path, default=Path(journal), metavar="PATH",
                         help=f"journal file (SQLite), default ./{journal}")
    command.add_argument("--repl-port", type=_port, default=7100, metavar="PORT",
                         help="desk REPL port on 127.0.0.1 (default 7100; 0 = any free port); other actors get "
                              "free ports")
    command.add_argument("--template-dir", type=Path, default=None, metavar="DIR",
                         help="directory with desk.toml / holder.toml / trader.toml overriding the shipped templates")
    command.add_argument("--duration", type=_positive, default=None, metavar="SECONDS",
                         help="stop by itself after this many real seconds and print the summary")


def _add_fee_options(command: argparse.ArgumentParser) -> None:
    for side in ("maker", "taker"):
        command.add_argument(f"--{side}-fee", type=_ratio, default=None, metavar="RATE",
                             help=f"a flat {side} fee for every market, as a fraction (0.001 = 0.1%%), instead of "
                                  "Kraken's volume tiers")


def _fees(args: argparse.Namespace) -> dict[str, Decimal]:
    return {side: rate for side in ("maker", "taker") if (rate := getattr(args, f"{side}_fee")) is not None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crypy", description="Trading system for crypto exchanges, built from "
                                                               "trio actors (Desk, Holders, Traders).")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument("--json-logs", action="store_true", default=None,
                        help="JSON log lines even on a terminal (the default when output is not a terminal)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser("sim", help="run the whole system on the embedded simulator (offline)")
    sim.add_argument("--speed", type=_positive, default=3600.0,
                     help="market seconds per real second (default 3600: a 15m candle every 0.25 s)")
    sim.add_argument("--data", type=Path, action="append", metavar="FILE",
                     help="candle file (gzip CSV: timestamp_ms,open,high,low,close,volume), repeatable; "
                          "default: the bundled Kraken XBT/USD and ETH/USD 15m candles")
    _add_system_options(sim, journal="crypy-sim.db")
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulator's ids")
    _add_fee_options(sim)
    sim.add_argument("--in-process", action="store_true",
                     help="connect the desk to the simulator directly instead of through ccxt and Kraken's API")

    backtest = commands.add_parser("backtest", help="run the actors over history on a virtual clock and write a "
                                                    "report (trades, orders, equity, statistics)")
    backtest.add_argument("--data", type=Path, action="append", required=True, metavar="FILE",
                          help="candle file (gzip CSV: timestamp_ms,open,high,low,close,volume), repeatable")
    backtest.add_argument("--from", dest="from_ms", type=_utc_date, default=None, metavar="DATE",
                          help="replay candles opening at or after DATE (YYYY-MM-DD or ISO datetime, UTC); the "
                               "720 candles before it are the exchange's history")
    backtest.add_argument("--to", dest="to_ms", type=_utc_date, default=None, metavar="DATE",
                          help="replay candles opening before DATE")
    backtest.add_argument("--template-dir", type=Path, default=None, metavar="DIR",
                          help="directory with desk.toml / holder.toml / trader.toml overriding the shipped templates")
    backtest.add_argument("--balance", type=_balance_item, action="append", default=None, metavar="ASSET=AMOUNT",
                          help="starting balance (repeatable), default USD=10000")
    backtest.add_argument("--out", type=Path, default=Path("backtest"), metavar="DIR",
                          help="report folder, created if missing, its files replaced (default ./backtest)")
    backtest.add_argument("--seed", type=int, default=0, help="seed of the simulator's ids")
    _add_fee_options(backtest)

    simulator = commands.add_parser("simulator", help="run the local exchange as a Kraken-compatible server")
    simulator.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    simulator.add_argument("--port", type=_port, default=8900, help="REST port (default 8900; 0 = any free port)")
    simulator.add_argument("--ws-port", type=_port, default=8901,
                           help="WebSocket v2 port (default 8901; 0 = any free port)")
    simulator.add_argument("--data", type=Path, action="append", metavar="FILE",
                           help="candle file to replay (repeatable); default: the config's, else the bundled ones")
    simulator.add_argument("--speed", type=_positive, default=None, help="market seconds per real second")
    simulator.add_argument("--config", type=Path, default=None, metavar="FILE",
                           help="capabilities file (TOML: markets, order types, accounts, latency, faults, limits)")
    simulator.add_argument("--seed", type=int, default=None, help="seed of ids, latency and faults")
    simulator.add_argument("--credentials-file", type=Path, default=None, metavar="PATH",
                           help='write {"apiKey", "secret", "rest", "ws"} of the default account there (mode 0600)')
    simulator.add_argument("--duration", type=_positive, default=None, metavar="SECONDS",
                           help="stop by itself after this many seconds")

    kraken = commands.add_parser("kraken", help="run the desk on Kraken: live, or --paper on live prices")
    kraken.add_argument("--paper", action="store_true",
                        help="paper trading: Kraken's public data, fills by the local matching engine, no API key")
    kraken.add_argument("--paper-balance", action="append", default=None, metavar="ASSET=AMOUNT",
                        help="paper balance (repeatable), e.g. USD=10000; default: the desk template's [paper]")
    kraken.add_argument("--api-url", default=None, metavar="URL",
                        help="another Kraken-compatible REST server (e.g. a running `crypy simulator`)")
    kraken.add_argument("--ws-url", default=None, metavar="URL",
                        help="its WebSocket v2 URL (e.g. ws://127.0.0.1:8901/v2): candles arrive as they close")
    kraken.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                        help='live API key as JSON {"apiKey": ..., "secret": ...}; default: $CRYPY_KRAKEN_KEY and '
                             '$CRYPY_KRAKEN_SECRET')
    kraken.add_argument("--no-rate-limit", dest="rate_limit", action="store_false",
                        help="do not pace requests to Kraken's published limits (only for a server without them, "
                             "such as `crypy simulator` with rate_limits = false)")
    _add_system_options(kraken, journal="crypy-kraken.db")

    attach = commands.add_parser("attach", help="an interactive prompt on a running actor's REPL (default: the desk)")
    attach.add_argument("name", nargs="?", default=None, metavar="NAME",
                        help="actor name as listed by `crypy ps`, or HOST:PORT; default: the desk")

    commands.add_parser("ps", help="list the actors of running crypy processes")
    indicators = commands.add_parser("indicators", help="list the installed indicators, their parameters and outputs")
    strategies = commands.add_parser("strategies", help="list the installed strategies and their parameters")
    for listing, kinds in ((indicators, "indicators"), (strategies, "strategies")):
        listing.add_argument("--plugin-dir", type=Path, action="append", default=[], metavar="DIR",
                             help=f"also load the {kinds} of this plugin folder (repeatable)")

    journal = commands.add_parser("journal", help="tools for a journal file")
    journal_commands = journal.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")
    export = journal_commands.add_parser("export", help="write the journal's tables as CSV or Parquet, a file each")
    export.add_argument("--db", type=Path, required=True, metavar="PATH",
                        help="journal file (SQLite); it may be in use by a running crypy")
    export.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or parquet (needs pyarrow)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="directory for NAME.csv / NAME.parquet (created if missing)")
    export.add_argument("--table", action="append", choices=EXPORT_TABLES, metavar="NAME",
                        help=f"export only this table (repeatable; default: all): {', '.join(EXPORT_TABLES)}")

    diff = commands.add_parser("diff", help="compare two runs' journals trade by trade and explain each difference "
                                           "(exit 1 when they differ)")
    diff.add_argument("run_a", type=Path, metavar="RUN_A", help="journal of the first run (e.g. a backtest)")
    diff.add_argument("run_b", type=Path, metavar="RUN_B", help="journal of the second run (e.g. paper or live)")
    diff.add_argument("--price-tolerance", type=_ratio, default=Decimal(0), metavar="X",
                      help="relative difference of prices and fees to ignore, e.g. 0.001 = 0.1%% (default: exact)")
    diff.add_argument("--time-tolerance-ms", type=_milliseconds, default=0, metavar="N",
                      help="difference of trade times to ignore, in milliseconds (default: exact)")
    diff.add_argument("--timeframe", default=None, metavar="TF",
                      help="the runs' candle timeframe, e.g. 15m, to state timing differences in candles")
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")

    data = commands.add_parser("data", help="the candle store: import candle or trade files, list what is stored")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    data_import = data_commands.add_parser("import", help="store the candles of Kraken CSV exports (OHLCVT or "
                                                          "trades) or of ../shared/data/market files")
    data_import.add_argument("files", type=Path, nargs="+", metavar="FILE")
    data_import.add_argument("--pair", default=None, help="pair of every FILE, e.g. XBT/USD (default: from its name)")
    data_import.add_argument("--timeframe", default=None, metavar="TF",
                             help="e.g. 15m (default: from the file name; trades files need it)")
    data_import.add_argument("--exchange", default="kraken", help="exchange to store them under (default kraken)")
    data_list = data_commands.add_parser("list", help="the stored series: candles, first and last, gaps")
    for command in (data_import, data_list):
        command.add_argument("--store", type=Path, default=None, metavar="PATH",
                             help="candle store (default $CRYPY_DATA_DIR/candles.db, else ~/.local/share/crypy)")
    add_template_parser(commands)
    return parser


def _sim(args: argparse.Namespace) -> int:
    from crypy.modes.sim import SimOptions, run_sim

    options = SimOptions(speed=args.speed, duration=args.duration, data=args.data, db=args.db,
                         repl_port=args.repl_port, template_dir=args.template_dir, seed=args.seed,
                         in_process=args.in_process, fees=_fees(args))
    summary = trio.run(run_sim, options)
    print(summary.render(), flush=True)
    return 0 if summary.balances_match and summary.open_orders == 0 else 1


def _backtest(args: argparse.Namespace) -> int:
    """Quiet logs (the report is the output) unless a level other than the default is asked for."""
    from crypy.modes.backtest import BacktestOptions, default_progress_stream, run_backtest

    if args.log_level == "info":
        configure_logging(level="error", json=args.json_logs, stream=sys.stderr)
    options = BacktestOptions(data=args.data, out=args.out, from_ms=args.from_ms, to_ms=args.to_ms,
                              template_dir=args.template_dir, seed=args.seed, fees=_fees(args),
                              **({"balance": dict(args.balance)} if args.balance else {}))
    report = run_backtest(options, progress=default_progress_stream())
    print(report.render(), flush=True)
    print(f"\nreport: {report.out}/  ({report.candles} candles in {report.elapsed_s:.1f} s)", flush=True)
    return 0


def _simulator(args: argparse.Namespace) -> int:
    from crypy.modes.simulator import SimulatorOptions, run_simulator

    options = SimulatorOptions(host=args.host, port=args.port, ws_port=args.ws_port, data=args.data, speed=args.speed,
                               config=args.config, seed=args.seed, credentials_file=args.credentials_file,
                               duration=args.duration)
    trio.run(run_simulator, options)
    return 0


def _kraken(args: argparse.Namespace) -> int:
    from crypy.modes.kraken import KrakenOptions, parse_balance, run_kraken

    options = KrakenOptions(paper=args.paper, api_url=args.api_url, ws_url=args.ws_url,
                            paper_balance=parse_balance(args.paper_balance) if args.paper_balance else None,
                            key_file=args.key_file, db=args.db, repl_port=args.repl_port,
                            template_dir=args.template_dir, duration=args.duration, rate_limit=args.rate_limit)
    summary = trio.run(run_kraken, options)
    print(summary.render(), flush=True)
    return 0 if summary.open_orders == 0 else 1


def _attach(args: argparse.Namespace) -> int:
    from crypy.repl.attach_client import attach_main

    return attach_main(args.name)


def _strategies(args: argparse.Namespace) -> int:
    """Every strategy with its parameters (default [range]) and origin, then the broken plugins (exit 1)."""
    from crypy.plugins.registry import REGISTRY, strategy_params
    from crypy.repl.tables import format_table

    for folder in args.plugin_dir:
        REGISTRY.load_folder(folder)
    rows = []
    for name in REGISTRY.names():
        cls = REGISTRY.classes[name]
        ranges = getattr(cls, "param_ranges", {})
        params = ", ".join(f"{param}={'?' if default is inspect.Parameter.empty else default}"
                           + (f" [{ranges[param][0]}..{ranges[param][1]}]" if param in ranges else "")
                           for param, default in strategy_params(cls).items())
        rows.append((name, params or "-", REGISTRY.sources[name]))
    print(format_table(["strategy", "parameters (default [range])", "from"], rows))
    return _report_broken(REGISTRY.errors)


def _indicators(args: argparse.Namespace) -> int:
    """Every indicator with its parameters (default [range]), outputs and origin, then the broken plugins (exit 1)."""
    from crypy.plugins.registry import INDICATOR_REGISTRY
    from crypy.repl.tables import format_table

    for folder in args.plugin_dir:
        INDICATOR_REGISTRY.load_folder(folder)
    rows = []
    for name in INDICATOR_REGISTRY.names():
        cls = INDICATOR_REGISTRY.classes[name]
        params = ", ".join(f"{p}={cls.defaults[p]} [{low}..{high}]" for p, (low, high) in cls.param_ranges.items())
        rows.append((name, params or "-", ", ".join(cls.outputs), INDICATOR_REGISTRY.sources[name]))
    print(format_table(["indicator", "parameters (default [range])", "outputs", "from"], rows))
    return _report_broken(INDICATOR_REGISTRY.errors)


def _report_broken(errors: Sequence[PluginError]) -> int:
    """The plugins a listing skipped, by name, origin and error; exit status 1 when there are any."""
    from crypy.repl.tables import format_table

    if errors:
        print("\n" + format_table(["broken plugin", "from", "error"], [(e.name, e.source, e.error) for e in errors]))
    return 1 if errors else 0


def _ps(args: argparse.Namespace) -> int:
    found = live_actors()
    if not found:
        print("no running crypy process")
        return 0
    print(format_actors([info for _, info in found]))
    return 0


def _journal_export(args: argparse.Namespace) -> int:
    for written in export_journal(args.db, args.out, args.format, args.table):
        print(f"{written.path}: {written.rows} rows")
    return 0


def _diff(args: argparse.Namespace) -> int:
    """Exit 0 when the runs traded alike, 1 when they differ (2, through ``main``, for a file that is no journal)."""
    from crypy.protocols import timeframe_ms
    from crypy.reports.diff import diff_journals, render

    frame = timeframe_ms(args.timeframe) if args.timeframe else None
    result = diff_journals(args.run_a, args.run_b, price_tolerance=args.price_tolerance,
                           time_tolerance_ms=args.time_tolerance_ms, timeframe_ms=frame)
    print(json.dumps(result.to_json(), indent=2) if args.json else render(result))
    return 1 if result.differences else 0


def _data(args: argparse.Namespace) -> int:
    from crypy.repl.tables import format_table, format_utc
    from crypy.store.candle_import import read_candle_file
    from crypy.store.candles import CandleStore, default_candle_store_path

    path = args.store or default_candle_store_path()
    if args.data_command == "list":
        if not path.exists():
            print(f"no candles stored ({path})")
            return 0
        with CandleStore(path) as store:
            rows = [(s.exchange, s.pair, s.timeframe, s.count, format_utc(s.first), format_utc(s.last), s.gaps)
                    for s in store.summary()]
        print(format_table(("exchange", "pair", "timeframe", "candles", "first", "last", "gaps"), rows,
                           empty=f"no candles stored ({path})"))
        return 0
    files = [read_candle_file(file, args.pair, args.timeframe) for file in args.files]  # all good, or nothing stored
    with CandleStore(path) as store:
        for file in files:
            new = store.put(args.exchange, file.pair, file.timeframe, file.candles)
            first, last = file.candles[0].ts, file.candles[-1].ts
            gaps = store.gaps(args.exchange, file.pair, file.timeframe, first, last + 1)
            print(f"{file.path}: {args.exchange} {file.pair} {file.timeframe} ({file.kind}): {len(file.candles)} "
                  f"candles ({new} new), {format_utc(first)} to {format_utc(last)}, {len(gaps)} gaps")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(level=args.log_level, json=args.json_logs)
    handlers = {"sim": _sim, "backtest": _backtest, "simulator": _simulator, "kraken": _kraken, "attach": _attach,
                "ps": _ps, "strategies": _strategies, "indicators": _indicators, "journal": _journal_export,
                "diff": _diff, "data": _data, "template": run_template}
    try:
        try:
            return handlers[args.command](args)
        except BaseExceptionGroup as group:
            cause = single_cause(group)
            if cause is None:
                raise
            raise cause from None
    except (TemplateError, ActorStartError, ExchangeError, ValueError, OSError) as exc:
        print(f"crypy: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
