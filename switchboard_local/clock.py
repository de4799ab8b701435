"""One wall clock for a scripted story (``make demo``): real time plus the simulated time of calls.

Simulated calls take no real time: a call that rings out twice lasts a minute on its own clock and
a few milliseconds on the wall. Without one clock for everything, the alert of such a call says it
happened a minute after the announcement printed next. :class:`StoryClock` is that one clock:
while :meth:`installed`, ``time.time()`` everywhere in the process (the bot, the notifier, the
call handlers, the Slack stand-in and the signature check of Slack requests) reads it, and the
story moves it forward to the moment a call has reached (:meth:`advance_to`), never back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from unittest import mock


class StoryClock:
    def __init__(self, real: Callable[[], float] = time.time) -> None:
        self._real = real
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._real() + self._offset

    def now_ms(self) -> int:
        return int(self() * 1000)

    def advance_to(self, epoch_seconds: float) -> None:
        """Move the clock to ``epoch_seconds`` if it is later than now (a clock never goes back)."""
        with self._lock:
            ahead = epoch_seconds - self()
            if ahead > 0:
                self._offset += ahead

    @contextlib.contextmanager
    def installed(self) -> Iterator[StoryClock]:
        """``time.time`` (and slack_sdk's request-signature clock, which imported it by name) read
        this clock until the block ends."""
        with mock.patch.object(time, "time", self), mock.patch("slack_sdk.signature.time", self):
            yield self
