"""Many people at one desk: 200 concurrent REPL sessions of 20 commands each, every answer complete and correct."""

from __future__ import annotations

from pathlib import Path

import trio

from crypy.modes.sim import SimOptions, open_sim_system
from crypy.repl.line_client import LineClient

COMMANDS = {"status": "exchange time", "balances": "available", "orders all": "", "fills 3": "", "actors": "holder",
            "help": "balances", "refusals 2": "", "orders open": ""}


async def test_200_sessions_of_20_commands_against_one_desk(tmp_path: Path) -> None:
    answered: list[str] = []
    wrong: list[str] = []

    async def session(address: str, prompt: str, number: int) -> None:
        async with await LineClient.connect(address, prompt) as client:
            for i in range(20):
                line = list(COMMANDS)[(number + i) % len(COMMANDS)]
                answer = await client.ask(line)
                answered.append(line)
                if answer.startswith("error:") or COMMANDS[line] not in answer:
                    wrong.append(f"{line!r} -> {answer[:200]!r}")

    options = SimOptions(db=tmp_path / "journal.db", repl_port=0, in_process=True)
    async with open_sim_system(options) as (system, _):
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for number in range(200):
                    nursery.start_soon(session, system.desk.repl_address, system.desk.prompt, number)
        assert system.runtime.registry.get("sim:default").state == "running"
    assert len(answered) == 4000
    assert wrong == []
