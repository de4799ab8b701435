"""The local state file (issue 11, item 18): private to its user, never one another user planted.

``switchboard dev`` writes where its stack is (endpoints, the local signing secret); every later
``switchboard`` command of the user trusts it. Another local user must not be able to create it
first. Ownership is tested by pretending to be another uid (``os.getuid`` patched), so the tests
need no second account and run the same as root or not.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from switchboard import dev_state as private_state
from switchboard.dev_state import UnsafeStateError, running_stack, running_stack_env, state_dir, state_file


class _Stack:
    """Just enough of LocalStack for write_state_file."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env


def _write(path: Path | None = None, env: dict[str, str] | None = None) -> None:
    from switchboard_local.stack import LocalStack

    LocalStack.write_state_file(_Stack(env or {"TABLE_NAME": "mine"}), path)  # type: ignore[arg-type]


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared-temp-directory stand-in (mode 1777, like /tmp), without XDG_RUNTIME_DIR."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return shared


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_state_lives_in_a_private_directory_of_the_user(tmp: Path) -> None:
    _write()
    directory = tmp / f"switchboard-{os.getuid()}"
    assert state_file() == directory / "dev.json"
    assert _mode(directory) == 0o700
    assert _mode(directory / "dev.json") == 0o600
    state = running_stack()
    assert state is not None
    assert state["env"] == {"TABLE_NAME": "mine"}
    assert not (tmp / f"switchboard-dev-{os.getuid()}.json").exists()  # the old, predictable name


def test_the_session_runtime_directory_is_preferred(tmp: Path, tmp_path: Path, monkeypatch: Any) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    _write()
    assert state_file() == runtime / "switchboard" / "dev.json"
    assert _mode(runtime / "switchboard") == 0o700
    assert running_stack_env() == {"TABLE_NAME": "mine"}


def test_a_file_planted_under_the_old_name_is_not_read(tmp: Path) -> None:
    planted = tmp / f"switchboard-dev-{os.getuid()}.json"
    planted.write_text(json.dumps({"pid": os.getpid(), "env": {"AWS_ENDPOINT_URL": "http://evil:1"}}))
    assert running_stack() is None


def test_a_directory_someone_else_made_is_refused(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Made by "another user" (this process), then we are uid 4242 looking for our directory.
    mine = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: 4242)
    planted = tmp / "switchboard-4242"
    planted.mkdir(mode=0o700)
    (planted / "dev.json").write_text(json.dumps({"pid": os.getpid(), "env": {"TABLE_NAME": "theirs"}}))
    with pytest.raises(UnsafeStateError, match=rf"belongs to uid {mine}, not to you \(uid 4242\)") as error:
        running_stack()
    assert str(planted) in str(error.value)
    with pytest.raises(UnsafeStateError):
        _write()
    assert "theirs" in (planted / "dev.json").read_text()  # nothing written into it


def test_a_directory_others_can_enter_is_refused(tmp: Path) -> None:
    loose = tmp / f"switchboard-{os.getuid()}"
    loose.mkdir()
    loose.chmod(0o777)
    with pytest.raises(UnsafeStateError, match="others may enter it"):
        _write()
    with pytest.raises(UnsafeStateError, match="chmod 700"):
        state_dir()


def test_a_symbolic_link_in_place_of_the_directory_is_refused(tmp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp / f"switchboard-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(UnsafeStateError, match="symbolic link"):
        _write()
    assert not (elsewhere / "dev.json").exists()


def test_a_state_file_others_may_write_is_refused(tmp: Path) -> None:
    _write()
    path = state_file()
    path.chmod(0o666)
    with pytest.raises(UnsafeStateError, match="others may write it"):
        running_stack()


def test_a_link_planted_in_place_of_the_file_is_not_followed(tmp: Path, tmp_path: Path) -> None:
    directory = state_dir(create=True)
    target = tmp_path / "target"
    target.write_text("precious")
    (directory / "dev.json").symlink_to(target)
    with pytest.raises(UnsafeStateError):
        _write()
    assert target.read_text() == "precious"
    with pytest.raises(UnsafeStateError, match="symbolic link"):
        running_stack()


def test_the_cli_says_why_it_refuses(tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from switchboard import cli

    for name in ("AWS_ENDPOINT_URL", "TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    loose = tmp / f"switchboard-{os.getuid()}"
    loose.mkdir()
    loose.chmod(0o777)
    assert cli.main(["forward", "list"]) == 2
    assert "refusing to use" in capsys.readouterr().err
    assert private_state.STATE_NAME == "dev.json"
