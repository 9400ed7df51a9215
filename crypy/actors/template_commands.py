"""``crypy template show|diff|reset``: see, compare and restore the templates a run reads and writes."""

from __future__ import annotations

import argparse
import difflib
import shutil
from pathlib import Path
from typing import Any

import msgspec
import tomlkit

from .template import TemplateError
from .template_files import TEMPLATE_FILES, default_template_dir, load_templates, override_name, user_template_dir
from .template_memory import clear_memory

KINDS = ("desk", "holder", "trader")


def add_template_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    template = commands.add_parser("template", help="show, diff or reset the desk/holder/trader templates")
    actions = template.add_subparsers(dest="template_command", required=True, metavar="COMMAND")
    show = actions.add_parser("show", help="print the effective templates, overrides and memory included")
    show.add_argument("kind", nargs="?", choices=KINDS, default=None, help="only this template (default: all)")
    diff = actions.add_parser("diff", help="a unified diff of the shipped templates and the template dir's files")
    reset = actions.add_parser("reset", help="restore the shipped templates (or only clear the memory)")
    reset.add_argument("--memory-only", action="store_true",
                       help="only remove the [memory] tables, keeping every other edit")
    reset.add_argument("--yes", action="store_true", help="confirm: files are overwritten or removed")
    for command in (show, diff, reset):
        command.add_argument("--template-dir", type=Path, default=None, metavar="DIR",
                             help="the run's template dir (default: the user's, where runs without one keep "
                                  "their memory)")


def run_template(args: argparse.Namespace) -> int:
    if args.template_dir is not None and not args.template_dir.is_dir():
        raise TemplateError(f"{args.template_dir}: template directory does not exist")
    if args.template_command == "show":
        print("\n".join(_show(args.template_dir, args.kind)))
    elif args.template_command == "diff":
        print("\n".join(_diff(args.template_dir)))
    else:
        print("\n".join(_reset(args.template_dir, memory_only=args.memory_only, confirmed=args.yes)))
    return 0


def _source(template_dir: Path | None) -> Path | None:
    """The directory a run with this ``--template-dir`` reads beside the shipped templates, if any."""
    if template_dir is not None:
        return template_dir
    return user_template_dir() if user_template_dir().is_dir() else None


def _show(template_dir: Path | None, kind: str | None) -> list[str]:
    templates = load_templates(template_dir)
    source = _source(template_dir)
    sections: list[tuple[str, msgspec.Struct]] = []
    if kind in (None, "desk"):
        sections.append(("desk", templates.desk))
    if kind in (None, "holder"):
        sections.append(("holder", templates.holder))
        sections += [(f"holder for {asset} ({override_name('holder', asset)})", template)
                     for asset, template in templates.holders.items()]
    if kind in (None, "trader"):
        sections.append(("trader", templates.trader))
        sections += [(f"trader for {pair} ({override_name('trader', pair)})", template)
                     for pair, template in templates.traders.items()]
    shipped = default_template_dir()
    lines = [f"# templates: {source}, over the shipped {shipped}" if source else f"# templates: the shipped {shipped}"]
    for title, template in sections:
        lines += ["", f"# ---- {title} ----", _to_toml(msgspec.to_builtins(template)).rstrip("\n")]
    return lines


def _to_toml(data: dict[str, Any]) -> str:
    """TOML as a human would write it: sections as tables, records as arrays of tables, the rest inline."""
    document = tomlkit.document()
    for key, value in _present(data).items():
        document.add(key, _section(value) if isinstance(value, dict) else _nested(value, inline=False))
    return tomlkit.dumps(document)


def _section(values: dict[str, Any]) -> tomlkit.items.Table:
    table = tomlkit.table(is_super_table=bool(values) and all(_is_records(v) for v in values.values()))
    for key, value in values.items():
        table.add(key, _nested(value, inline=False))
    return table


def _nested(value: Any, *, inline: bool) -> Any:
    if _is_records(value) and not inline:
        records = tomlkit.aot()
        for record in value:
            entry = tomlkit.table()
            entry.update({key: _nested(item, inline=True) for key, item in record.items()})
            records.append(entry)
        return records
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update({key: _nested(item, inline=True) for key, item in value.items()})
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_nested(item, inline=True) for item in value)
        return array
    return value


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _present(value: Any) -> Any:
    """Without the unset (None) settings: TOML has no null, and an absent key means unset."""
    if isinstance(value, dict):
        return {key: _present(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_present(item) for item in value]
    return value


def _overrides(directory: Path) -> list[Path]:
    return sorted([*directory.glob("holder.*.toml"), *directory.glob("trader.*.toml")])


def _diff(template_dir: Path | None) -> list[str]:
    source = _source(template_dir)
    if source is None:
        return [f"no template dir: runs read the shipped templates ({default_template_dir()})"]
    lines: list[str] = []
    for name in TEMPLATE_FILES:
        if (source / name).is_file():
            lines += _unified(default_template_dir() / name, source / name)
    for path in _overrides(source):
        lines += _unified(None, path)
    return lines or [f"{source}: no differences from the shipped templates"]


def _unified(shipped: Path | None, edited: Path) -> list[str]:
    before = shipped.read_text(encoding="utf-8").splitlines() if shipped else []
    after = edited.read_text(encoding="utf-8").splitlines()
    return list(difflib.unified_diff(before, after, fromfile=str(shipped or "/dev/null"), tofile=str(edited),
                                     lineterm=""))


def _reset(template_dir: Path | None, *, memory_only: bool, confirmed: bool) -> list[str]:
    if not confirmed:
        raise ValueError("template reset overwrites or removes files: add --yes to confirm")
    source = _source(template_dir)
    if source is None:
        return [f"nothing to reset: runs read the shipped templates ({default_template_dir()})"]
    if source.resolve() == default_template_dir().resolve():
        raise ValueError(f"{source}: the shipped templates are not to be edited; reset a copy")
    done: list[str] = []
    if memory_only:
        for path in [source / name for name in TEMPLATE_FILES if (source / name).is_file()] + _overrides(source):
            if clear_memory(path):
                done.append(f"{path}: memory cleared")
        return done or [f"{source}: no memory to clear"]
    for name in TEMPLATE_FILES:
        shutil.copyfile(default_template_dir() / name, source / name)
        done.append(f"{source / name}: restored")
    for path in _overrides(source):
        path.unlink()
        done.append(f"{path}: removed")
    return done
