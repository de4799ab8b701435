"""Keep the terminal for the person at the console; send the stack's own output to a log file.

In ``switchboard dev`` the bot, its lazy listeners and the alert notifier run on threads of the same
process as the Slack console. Their JSON log lines and CloudWatch EMF metric lines
(``{"_aws": {…}, "AlertsPosted": [1.0]}``) are for CloudWatch; printed on the terminal they land in
the middle of the prompt. While :func:`background_output_to` is active, whatever any thread other
than the console's writes to ``sys.stdout`` / ``sys.stderr`` goes to the log file instead. The
streams keep their file descriptors, so ``input()`` still gets readline's line editing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


class _ThreadRoutedStream:
    """A text stream: the console's thread writes to ``terminal``, every other thread to ``log``."""

    def __init__(self, terminal: TextIO, log: TextIO, console: threading.Thread) -> None:
        self._terminal = terminal
        self._log = log
        self._console = console
        self._lock = threading.Lock()

    @property
    def terminal(self) -> TextIO:
        """The terminal itself, for the console's other threads (its alert watcher)."""
        return self._terminal

    def _target(self) -> TextIO:
        return self._terminal if threading.current_thread() is self._console else self._log

    def write(self, text: str) -> int:
        target = self._target()
        if target is self._log:
            with self._lock:
                written = target.write(text)
                target.flush()
                return written
        return target.write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...: the terminal's
        return getattr(self._terminal, name)


@contextlib.contextmanager
def background_output_to(path: Path) -> Iterator[Path]:
    """Route other threads' stdout/stderr to ``path`` (appended) for the duration."""
    console = threading.current_thread()
    saved = sys.stdout, sys.stderr
    with path.open("a", encoding="utf-8") as log:
        sys.stdout = _ThreadRoutedStream(saved[0], log, console)
        sys.stderr = _ThreadRoutedStream(saved[1], log, console)
        try:
            yield path
        finally:
            sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send stdout/stderr to /dev/null at the file-descriptor level (benchmarks, the reliability suite).

    Lambda handlers write their logs and EMF metrics to stdout, and Powertools' handler holds the
    original ``sys.stdout`` object, hence fd-level redirection rather than ``redirect_stdout``: the
    cost of formatting stays, only the terminal's rendering goes.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
