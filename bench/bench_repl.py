"""How many REPL commands per second one desk answers, and at what latency, with many sessions at once.

A real ``crypy sim`` system (in-process simulator, default templates) runs while N sessions each send M commands
(status, balances, orders all, fills, actors, help...) over TCP in line mode. Prints commands/s and latency
percentiles, and writes them to ``bench/results/repl.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import trio

from crypy.logs import configure_logging
from crypy.modes.sim import SimOptions, open_sim_system
from crypy.repl.line_client import LineClient

RESULTS = Path(__file__).parent / "results" / "repl.json"
COMMANDS = ("status", "balances", "orders all", "fills 5", "actors", "help", "refusals 3", "orders open")


async def session(address: str, prompt: str, count: int, latencies: list[float], errors: list[str]) -> None:
    async with await LineClient.connect(address, prompt) as client:
        for i in range(count):
            started = time.perf_counter()
            answer = await client.ask(COMMANDS[i % len(COMMANDS)])
            latencies.append(time.perf_counter() - started)
            if answer.startswith("error:"):
                errors.append(answer)


async def measure(sessions: int, commands: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        options = SimOptions(db=Path(tmp) / "journal.db", repl_port=0, in_process=True)
        async with open_sim_system(options) as (system, _):
            latencies: list[float] = []
            errors: list[str] = []
            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(sessions):
                    nursery.start_soon(session, system.desk.repl_address, system.desk.prompt, commands, latencies,
                                       errors)
            elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "sessions": sessions, "commands_per_session": commands, "commands": len(latencies), "errors": len(errors),
        "seconds": round(elapsed, 3), "commands_per_second": round(len(latencies) / elapsed),
        "latency_ms": {"p50": round(statistics.median(ordered) * 1000, 2),
                       "p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
                       "max": round(ordered[-1] * 1000, 2)},
        "python": platform.python_version(), "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--commands", type=int, default=20)
    args = parser.parse_args()
    configure_logging(level="warning")
    figures = trio.run(measure, args.sessions, args.commands)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
