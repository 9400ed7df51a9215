"""Parsing, errors and help of the command registry, without sockets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypy.repl import BUILTINS, Arg, Command, CommandError, CommandRegistry
from crypy.repl.help_text import format_command_help, format_command_list


async def _echo(session: object, **arguments: object) -> str:
    return repr(arguments)


def _registry() -> CommandRegistry:
    registry = CommandRegistry(parents=[BUILTINS])
    registry.add(
        Command("balances", _echo, "Show balances\nmore detail", (Arg("asset", default=None), Arg("json", bool)))
    )
    registry.add(
        Command(
            "buy",
            _echo,
            "Buy at a limit price",
            (
                Arg("symbol", help="pair"),
                Arg("amount", Decimal),
                Arg("price", Decimal, default=None),
                Arg("dry_run", bool),
            ),
        )
    )
    registry.add(
        Command("set limit", _echo, "Set a risk limit", (Arg("kind", choices=["daily", "order"]), Arg("value", int)))
    )
    registry.add(Command("scale", _echo, "Scale", (Arg("factor", float),)))
    registry.add(Command("note", _echo, "Free text", (Arg("text", rest=True),)))
    return registry


def test_typed_arguments_and_flags() -> None:
    invocation = _registry().parse("buy BTC/EUR 0.5 --dry-run")
    assert invocation.command.name == "buy"
    assert invocation.arguments == {"symbol": "BTC/EUR", "amount": Decimal("0.5"), "price": None, "dry_run": True}


def test_multi_word_command_and_choices() -> None:
    invocation = _registry().parse("set limit daily -3")
    assert invocation.command.name == "set limit"
    assert invocation.arguments == {"kind": "daily", "value": -3}
    with pytest.raises(CommandError, match=r"kind: expected one of daily, order, got 'weekly'"):
        _registry().parse("set limit weekly 3")


def test_quotes_and_rest_argument() -> None:
    assert _registry().parse("note 'hello  world' again").arguments == {"text": "hello  world again"}
    assert _registry().parse("buy 'A B' 1").arguments["symbol"] == "A B"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("buy BTC abc", "amount: expected a decimal number, got 'abc'"),
        ("buy BTC NaN", "amount: expected a decimal number, got 'NaN'"),
        ("set limit daily x", "value: expected an integer, got 'x'"),
        ("scale inf", "factor: expected a number, got 'inf'"),
        ("buy BTC", "missing argument 'amount' (usage: buy <symbol> <amount> [price] [--dry-run])"),
        ("balances BTC ETH", "too many arguments: 'ETH'"),
        ("balances --yaml", "unknown option '--yaml'"),
        ("buy 'BTC 1", "unbalanced quotes"),
        ("balnces", "unknown command 'balnces'; did you mean: balances?"),
        ("set", "unknown command 'set'; did you mean: set limit?"),
        ("set limt daily 1", "unknown command 'set limt'; did you mean: set limit?"),
        ("zzz", "unknown command 'zzz'"),
    ],
)
def test_errors_are_clear(line: str, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        _registry().parse(line)
    assert message in str(caught.value)


def test_double_dash_ends_flags() -> None:
    assert _registry().parse("note -- --not-a-flag").arguments == {"text": "--not-a-flag"}


def test_composition_is_live_and_own_commands_override() -> None:
    base = CommandRegistry()
    child = CommandRegistry(parents=[base])
    base.add(Command("status", _echo, "base status"))
    assert child.find("status").help == "base status"
    child.add(Command("status", _echo, "child status"))
    assert child.find("status").help == "child status"
    with pytest.raises(ValueError, match="cycle"):
        base.include(child)
    with pytest.raises(ValueError, match="already registered"):
        child.add(Command("status", _echo))


def test_decorator_registers_and_returns_handler() -> None:
    registry = CommandRegistry()

    @registry.command("ping", help="Answer pong", args=[Arg("count", int, default=1)])
    async def ping(session: object, count: int) -> str:
        return "pong" * count

    assert registry.find("ping").handler is ping
    assert registry.parse("ping 2").arguments == {"count": 2}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((Arg("a", default=1), Arg("b")), ValueError),
        ((Arg("a", rest=True), Arg("b", default=1)), ValueError),
        ((Arg("a"), Arg("a")), ValueError),
    ],
)
def test_bad_declarations_are_refused(args: tuple[Arg, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        Command("x", _echo, "", args)


def test_bad_arg_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="unsupported type"):
        Arg("when", type=list)
    with pytest.raises(ValueError, match="identifier"):
        Arg("dry-run")


def test_help_list_is_aligned() -> None:
    text = format_command_list(_registry().commands())
    lines = text.splitlines()
    assert lines[0] == "commands:"
    assert "  balances   Show balances" in lines
    assert "  set limit  Set a risk limit" in lines
    assert "  quit       Close this session" in lines


def test_help_for_one_command_shows_usage_and_args() -> None:
    text = format_command_help(_registry().find("buy"))
    assert text.startswith("usage: buy <symbol> <amount> [price] [--dry-run]\n\nBuy at a limit price")
    assert "  symbol     pair (a string)" in text
    assert "  amount     (a decimal number)" in text
    assert "  --dry-run  (a flag)" in text
