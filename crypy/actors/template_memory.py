"""Templates that learn: outcomes written into the holder's and desk's template files, and what they teach.

A holder's memory lives in the file it reads its template from: ``holder.ASSET.toml`` when the template dir has
one (its ``[memory]`` then replaces the shared one, since overrides merge key by key), else ``holder.toml``. The
desk's lives in ``desk.toml``. Records are appended with tomlkit, so a human's comments and layout survive, and
the file is replaced by a rename, so a crash never leaves half a template. The functions here block on files:
call them from a thread (``trio.to_thread.run_sync``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec
import tomlkit
from tomlkit.items import AoT, Table

from .template import DeskMemory, HolderMemory, HolderTemplate, TemplateError, TraderTemplate
from .template_files import default_template_dir, override_name, writable_template_dir

_writing = threading.Lock()
"""Holders share holder.toml: one read-modify-write at a time within the process."""


def holder_memory_file(template_dir: Path | None, asset: str) -> Path:
    """The file whose memory the holder of ``asset`` reads (see the module docstring); created when missing."""
    directory = writable_template_dir(template_dir)
    own = directory / override_name("holder", asset)
    return own if own.is_file() else _ensure(directory / "holder.toml")


def desk_memory_file(template_dir: Path | None) -> Path:
    return _ensure(writable_template_dir(template_dir) / "desk.toml")


def _ensure(path: Path) -> Path:
    """A template dir without this file reads the shipped one: start from a copy of it, comments included."""
    if not path.exists():
        shutil.copyfile(default_template_dir() / path.name, path)
    return path


def record_outcome(path: Path, *, trader: str, pair: str, strategy: str, params: Mapping[str, int | float],
                   result: float, ts: int) -> None:
    """Append a trader's end of life to ``[[memory.outcomes]]`` of a holder template file."""
    entry = tomlkit.table()
    entry.update({"trader": trader, "pair": pair, "strategy": strategy})
    entry.add("params", tomlkit.inline_table())
    entry["params"].update(dict(params))
    entry.update({"result": float(result), "ts": ts})
    _append(path, "outcomes", entry)


def record_asset_outcome(path: Path, *, asset: str, result: float, ts: int) -> None:
    """Append what trading ``asset`` gave (a trader's result) to ``[[memory.assets]]`` of the desk template."""
    entry = tomlkit.table()
    entry.update({"asset": asset, "result": float(result), "ts": ts})
    _append(path, "assets", entry)


def clear_memory(path: Path) -> bool:
    """Remove the ``[memory]`` of a template file, keeping everything else; False when it had none."""
    return _edit(path, lambda document: document.pop("memory", None) is not None)


def _append(path: Path, name: str, entry: Table) -> None:
    def append(document: tomlkit.TOMLDocument) -> bool:
        memory = document.get("memory")
        if memory is None:
            memory = tomlkit.table(is_super_table=True)
            document.add("memory", memory)
        records = memory.get(name) if isinstance(memory, Table) else None
        if records is None and isinstance(memory, Table):
            records = tomlkit.aot()
            memory.add(name, records)
        if not isinstance(records, AoT):
            raise TemplateError(f"{path}: memory.{name} must be an array of tables ([[memory.{name}]])")
        if records:
            entry.trivia.indent = "\n"  # a blank line between records, as a human would write them
        records.append(entry)
        return True

    _edit(path, append)


def _edit(path: Path, change: Callable[[tomlkit.TOMLDocument], bool]) -> bool:
    """Parse, change and (when changed) atomically replace a TOML file."""
    with _writing:
        try:
            document = tomlkit.parse(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read template: {exc.strerror}") from None
        except tomlkit.exceptions.ParseError as exc:
            raise TemplateError(f"{path}: not valid TOML: {exc}") from None
        if not change(document):
            return False
        _replace(path, document.as_string().rstrip("\n") + "\n")  # removing a table leaves its blank lines
        return True


def _replace(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def avoided_strategies(memory: HolderMemory, *, min_pairs: int = 2, max_result: float = 0.0) -> set[str]:
    """Strategies whose result was at most ``max_result`` on at least ``min_pairs`` distinct pairs (0: none)."""
    if min_pairs < 1:
        return set()
    failed_on: defaultdict[str, set[str]] = defaultdict(set)
    for outcome in memory.outcomes:
        if outcome.result <= max_result:
            failed_on[outcome.strategy].add(outcome.pair)
    return {strategy for strategy, pairs in failed_on.items() if len(pairs) >= min_pairs}


def usable_strategies(holder: HolderTemplate, trader: TraderTemplate) -> TraderTemplate:
    """The trader template with only the strategies the holder lets it try.

    Banned and not-allowed strategies are a human's choice and always go; the ones memory avoids go only while
    another remains, so learning never leaves a pair without a trader. The result may have no strategy when the
    human's lists exclude them all."""
    criteria = holder.criteria
    chosen = [s for s in trader.strategies if s.name not in criteria.banned_strategies
              and (not criteria.allowed_strategies or s.name in criteria.allowed_strategies)]
    avoided = avoided_strategies(holder.memory, min_pairs=criteria.avoid_after_failures)
    fresh = [s for s in chosen if s.name not in avoided]
    return msgspec.structs.replace(trader, strategies=fresh or chosen)


def bad_assets(memory: DeskMemory, *, after_losses: int = 2, min_result: float = 0.0) -> set[str]:
    """Assets whose ``after_losses`` most recent outcomes were all below ``min_result`` (0: none).

    Recent, not summed: an asset that has since given a good result gets capital again."""
    if after_losses < 1:
        return set()
    by_asset: defaultdict[str, list[float]] = defaultdict(list)
    for outcome in sorted(memory.assets, key=lambda outcome: outcome.ts):
        by_asset[outcome.asset].append(outcome.result)
    return {asset for asset, results in by_asset.items()
            if len(results) >= after_losses and all(result < min_result for result in results[-after_losses:])}
