"""Every ``switchboard`` command shown in the README and docs works as written on a fresh local stack.

The commands of each file run in the order the file shows them, as a reader would type them into a
shell next to ``make run``: the same subprocess, the same environment a ``switchboard dev`` gives
(``$VOICE_CONNECTOR_ID`` and the like expanded from it). Lines that start a long-running program
(``dev``, ``slack``, ``demo``) or pace a call on the wall clock (``--realtime``) are not run here;
``tests/functional/test_dev_stack.py`` and ``test_realtime_call.py`` cover those.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard_local.stack import LocalStack
from tests.helpers import run_switchboard

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN_HERE = ("dev", "slack", "demo")


def shell_commands(path: Path) -> list[str]:
    """The ``switchboard …`` lines of the file's ```sh blocks, comments removed, in order."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["switchboard"]:
                commands.append(line)
    return commands


def runnable(line: str) -> bool:
    words = shlex.split(line, comments=True)
    return words[1] not in NOT_RUN_HERE and "--realtime" not in words and "<" not in line


EXAMPLES = [(path, shell_commands(path)) for path in DOCUMENTS]


def test_the_readme_shows_the_cli_in_an_order_that_works() -> None:
    readme = dict(EXAMPLES)[ROOT / "README.md"]
    assert any(" call +12025550102 --transfer-at" in line for line in readme)
    assert not [line for line in readme if "<" in line]  # no placeholders in what users copy


def test_the_readme_puts_the_switchboard_command_on_the_path_before_using_it() -> None:
    # `make` installs it in .venv, which no shell has activated: "command not found" otherwise.
    block = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    cli = next(text for text in block if "switchboard forward set" in text)
    assert cli.splitlines()[0].startswith(". .venv/bin/activate")


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    # moto keeps its tables per process: one table per file keeps each file's story on its own.
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.callspec.id or "docs")
    with LocalStack(table_name=f"switchboard-docs-{name}") as local:
        yield local


@pytest.mark.parametrize(
    ("path", "commands"),
    [(path, commands) for path, commands in EXAMPLES if any(runnable(c) for c in commands)],
    ids=[path.stem for path, commands in EXAMPLES if any(runnable(c) for c in commands)],
)
def test_every_example_in_the_file_works_in_order(stack: LocalStack, path: Path, commands: list[str]) -> None:
    env = stack.env()
    for line in filter(runnable, commands):
        # $VARS come from the stack's environment only (what `switchboard dev` exports), never from
        # this process's, which other tests may have pointed elsewhere.
        words = [
            re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), w)
            for w in shlex.split(line, comments=True)
        ]
        done = run_switchboard(stack, *words[1:])
        assert done.returncode == 0, f"{path.name}: {line}\n{done.stdout}\n{done.stderr}"
        assert "not in service" not in done.stdout, f"{path.name}: {line}\n{done.stdout}"
        assert "note:" not in done.stdout, f"{path.name}: {line}\n{done.stdout}"
