"""Where ``switchboard dev`` tells the user's other ``switchboard`` commands about the running stack.

The format: one JSON object, ``{"pid": <int>, "env": {<environment variable>: <value>}, "bot_url":
<str, optional>}``, written by ``switchboard_local.stack.LocalStack.write_state_file``; ``env`` holds
what a command needs to use that stack (``AWS_ENDPOINT_URL``, ``TABLE_NAME``, the local signing
secret, ...). The CLI reads it here, through this format, so the shipped package never imports the
local stack.

The state file holds the local stack's endpoints and its Slack signing secret, and every later
command trusts it: a file another local user could create first (a fixed name in the shared
``/tmp``) would point the CLI at that user's endpoints. So it lives in a directory only this user
can enter: ``$XDG_RUNTIME_DIR/switchboard`` (per-user and private by design) when the session has
one, else ``<temp dir>/switchboard-<uid>``, created with mode 0700. A directory or file that is not
ours, is a symbolic link, or that others may write (or, for the directory, enter) is refused with
:class:`UnsafeStateError` naming the path and what to do, never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from switchboard.settings import ConfigurationError

STATE_NAME = "dev.json"


class UnsafeStateError(ConfigurationError):
    """The state directory or file could have been made or changed by someone else."""


def state_dir(*, create: bool = False) -> Path:
    """This user's private directory for local state (checked; made 0700 when ``create``)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and _is_ours(Path(runtime)):
        path = Path(runtime) / "switchboard"
    else:
        path = Path(tempfile.gettempdir()) / f"switchboard-{os.getuid()}"
    if create:
        with contextlib.suppress(FileExistsError):  # checked below like any directory found there
            path.mkdir(mode=0o700)
    _check(path, directory=True)
    return path


def state_file(*, create_dir: bool = False) -> Path:
    return state_dir(create=create_dir) / STATE_NAME


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only, never through a planted link."""
    _check(path.parent, directory=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except OSError as error:
        raise UnsafeStateError(f"refusing to write {path}: {error.strerror}; remove it") from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.getuid():
            raise UnsafeStateError(f"refusing to write {path}: it belongs to uid {info.st_uid}; remove it")
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def create_private(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) holding ``text`` only if it does not exist yet; False if it does.

    The exclusive create is what makes "one ``switchboard dev`` at a time" hold when two start at
    the same moment: exactly one of them creates the file.
    """
    _check(path.parent, directory=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    except OSError as error:
        raise UnsafeStateError(f"refusing to write {path}: {error.strerror}; remove it") from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def read_private(path: Path) -> str | None:
    """The file's text, None when there is none; :class:`UnsafeStateError` when it is not safe."""
    if not path.parent.exists():
        return None
    _check(path.parent, directory=True)
    try:
        _check(path, directory=False)
    except FileNotFoundError:
        return None
    return path.read_text(encoding="utf-8")


def _is_ours(path: Path) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def _check(path: Path, *, directory: bool) -> None:
    info = path.lstat()  # FileNotFoundError is the caller's business
    what = "directory" if directory else "file"
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateError(f"refusing to use {path}: it is a symbolic link, not a {what}; remove it")
    if not (stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)):
        raise UnsafeStateError(f"refusing to use {path}: it is not a {what}; remove it")
    if info.st_uid != os.getuid():
        raise UnsafeStateError(
            f"refusing to use {path}: it belongs to uid {info.st_uid}, not to you (uid {os.getuid()}); "
            f"someone else may have made it: remove it, or set XDG_RUNTIME_DIR to a private directory"
        )
    loose = info.st_mode & (0o077 if directory else 0o022)
    if loose:
        raise UnsafeStateError(
            f"refusing to use {path}: others may {'enter' if directory else 'write'} it "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run chmod {'700' if directory else '600'} {path} "
            f"if you made it, else remove it"
        )


def running_stack(path: Path | None = None) -> dict[str, Any] | None:
    """The state (``pid``, ``env``, ``bot_url`` if any) of this user's ``switchboard dev`` still
    running here; :class:`~switchboard.dev_state.UnsafeStateError` when the state file or
    its directory could have been made by someone else."""
    try:
        text = read_private(path or state_file())
        if text is None:
            return None
        state = json.loads(text)
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("env"), dict) else None


def running_stack_env(path: Path | None = None) -> dict[str, str] | None:
    """The environment of a ``switchboard dev`` still running on this machine, if any."""
    state = running_stack(path)
    if state is None:
        return None
    env: dict[str, str] = state["env"]
    return env
