"""Races: a hypothesis state machine over the forwarding service with several actors and faults.

Each change (set, edit, remove, expiry run) runs on its own thread against the in-memory fakes of
``tests/fakes.py``, wrapped so that the thread stops *before every port call* and waits for the
machine. The machine's rules start changes, let one actor take its next port call (possibly with
a failure injected into that call: ``StorageError`` on the table, ``RoutingError`` on Chime SDK
Voice), move the clock, or let everything finish. Hypothesis picks the order, so it explores
interleavings at port-call granularity: exactly the windows in which two admins, a double click
and the expiry job can collide.

Checked after every step (each check is one figure of the report):

* **no loop**: the stored rules never forward in a circle.
* **agreement**: whenever no change is in flight, a number has a stored rule iff it is routed to
  the SIP media application — unless the last answer about that number warned that it is not
  (``ChangeFailedError.consistent is False``).
* **expiry**: the expiry job deletes a rule only while that rule is expired.
* **true answers**: a success is in effect when it returns; a failure or refusal (and a bare
  ``StorageError``, which the bot reports as "nothing was changed") left no rule of this actor's
  in the table and table and routing agreeing; only the service's documented errors
  (``RefusedError``, ``ChangeFailedError``, ``StorageError``) reach the caller; the expiry job
  raises nothing once it has written; no change hangs.

``run`` drives the machine in *counting* mode (violations become figures, the search goes on);
``tests/unit/test_reliability_races.py`` drives it in *strict* mode, so hypothesis shrinks a
violation to a minimal interleaving.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from reliability.common import Figure, quiet
from switchboard.policy import DestinationPolicy
from switchboard.ports import RoutingError, StorageError
from switchboard.service import (
    ChangeFailedError,
    ChangeResult,
    ForwardingService,
    ForwardRequest,
    RefusedError,
)
from switchboard.settings import Settings
from tests.fakes import MemoryRouting, MemoryRules, StaticInventory

NUMBERS = ("+12025550100", "+12025550101", "+12025550102")
EXTERNAL = ("+12065550111", "+13125550122")
ACTORS = ("U1", "U2", "U3")
EXPIRY = "expiry"
START = 1_800_000_000.0
STEP_TIMEOUT = 10.0
READ_PREFIXES = ("get", "list", "our_", "find", "current", "history", "is_")

CHECKS = {
    "loop": "no forwarding loop is ever stored",
    "agreement": "quiescent: stored rule ⇔ routed to the SMA",
    "expiry": "expiry removes only a rule expired at that moment",
    "truth": "every answer is true when it is given",
    "errors": "only documented errors reach the caller",
    "hang": "no change hangs",
}


@dataclass
class Stats:
    """What one run explored, over all of hypothesis's examples."""

    examples: int = 0
    steps: int = 0
    port_calls: int = 0
    faults: int = 0
    completed: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    schedules: set[int] = field(default_factory=set)
    figures: dict[str, Figure] = field(
        default_factory=lambda: {key: Figure("races", text) for key, text in CHECKS.items()}
    )
    strict: bool = False

    def violation(self, check: str, text: str) -> None:
        self.figures[check].fail(text)
        if self.strict:
            raise AssertionError(f"{CHECKS[check]}: {text}")

    def checked(self, check: str) -> None:
        self.figures[check].cases += 1


STATS = Stats()  # this run's counters; run() resets them in place


class Op:
    """One change running on its own thread, stopping before each port call."""

    def __init__(self, actor: str, kind: str, number: str | None, body: Callable[[], Any]) -> None:
        self.actor = actor
        self.kind = kind
        self.number = number
        self.body = body
        self.pending: str | None = None
        self.fault: Exception | None = None
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.writes = 0  # successful port calls that change something
        self.saved_version: int | None = None  # the version this op's own save stored, if any
        self.hung = False
        self._go = threading.Semaphore(0)
        self._arrived = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"{actor}-{kind}")

    def _run(self) -> None:
        LOCAL.op = self
        try:
            self.result = self.body()
        except BaseException as error:
            self.error = error
        finally:
            self.done = True
            self.pending = None
            self._arrived.release()

    def start(self) -> None:
        self._thread.start()
        self._wait()

    def checkpoint(self, name: str) -> Exception | None:
        """Called on the op's thread: wait for the machine's go, get the fault to raise (if any)."""
        self.pending = name
        self._arrived.release()
        self._go.acquire()
        fault, self.fault = self.fault, None
        self.pending = None
        return fault

    def advance(self, fault: Exception | None) -> None:
        self.fault = fault
        self._go.release()
        self._wait()

    def _wait(self) -> None:
        if not self._arrived.acquire(timeout=STEP_TIMEOUT):
            self.hung = True


LOCAL = threading.local()


class Gated:
    """A port whose calls stop at a checkpoint when made from an op's thread."""

    def __init__(
        self, target: Any, port: str, on_call: Callable[[Op, str, str, tuple[Any, ...], dict[str, Any]], None]
    ):
        self._target = target
        self._port = port
        self._on_call = on_call

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            op: Op | None = getattr(LOCAL, "op", None)
            if op is None:
                return attribute(*args, **kwargs)
            fault = op.checkpoint(f"{self._port}.{name}")
            if fault is not None:
                raise fault
            self._on_call(op, self._port, name, args, kwargs)
            result = attribute(*args, **kwargs)
            if not name.startswith(READ_PREFIXES):
                op.writes += 1
            if self._port == "table" and name == "save":
                op.saved_version = getattr(result, "version", None)
            return result

        return call


def _accepts(function: Callable[..., Any], parameter: str) -> bool:
    return parameter in inspect.signature(function).parameters


class ForwardingRaces(RuleBasedStateMachine):
    """Several actors changing forwards on three numbers at once, with faults injected."""

    def __init__(self) -> None:
        super().__init__()
        STATS.examples += 1
        self.now = START
        self.table = MemoryRules()
        self.chime = MemoryRouting()
        self.service = ForwardingService(
            Gated(self.table, "table", self._before_call),
            Gated(self.chime, "chime", self._before_call),
            StaticInventory(*NUMBERS),
            DestinationPolicy(),
            clock=lambda: self.now,
        )
        self.ops: dict[str, Op] = {}
        self.warned: set[str] = set()  # numbers whose last answer said routing may be inconsistent
        self.schedule: list[tuple[str, str, bool]] = []
        self.reported: set[str] = set()  # state violations already counted in this run

    def _state_violation(self, check: str, key: str, text: str) -> None:
        """A broken state is counted once per run, not again at every later step it persists."""
        if key not in self.reported:
            self.reported.add(key)
            STATS.violation(check, text)

    # -- plumbing --------------------------------------------------------------------------

    def _before_call(
        self, op: Op, port: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        STATS.port_calls += 1
        if op.kind == "expire" and port == "table" and name == "delete":
            number = str(kwargs.get("number") or (args[0] if args else ""))
            stored = self.table.get(number)
            STATS.checked("expiry")
            if stored is not None and stored.is_active(self.now):
                expected = kwargs.get("expected_version")
                if expected is None or expected == stored.version:
                    STATS.violation(
                        "expiry",
                        f"the expiry job deleted the active forward {stored.summary()} "
                        f"(version {stored.version})",
                    )

    def _launch(self, actor: str, kind: str, number: str | None, body: Callable[[], Any]) -> None:
        if actor in self.ops:
            return
        op = Op(actor, kind, number, body)
        self.ops[actor] = op
        op.start()
        self._after(op)

    def _advance(self, actor: str, fault: bool) -> None:
        op = self.ops.get(actor)
        if op is None or op.done:
            return
        injected: Exception | None = None
        if fault and op.pending:
            STATS.faults += 1
            injected = (
                StorageError("injected: the table throttled the request")
                if op.pending.startswith("table.")
                else RoutingError("injected: Chime SDK Voice failed", undone=True)
            )
        self.schedule.append((actor, op.pending or "", injected is not None))
        STATS.steps += 1
        op.advance(injected)
        self._after(op)

    def _after(self, op: Op) -> None:
        if op.hung:
            STATS.violation("hang", f"{op.actor}'s {op.kind} on {op.number} did not reach its next step")
            self.ops.pop(op.actor, None)
            return
        if op.done:
            self.ops.pop(op.actor, None)
            self._judge(op)

    def _others_on(self, op: Op) -> bool:
        return any(
            other is not op and (other.number in (op.number, None)) and other.writes
            for other in self.ops.values()
        )

    def _agrees(self, number: str) -> bool:
        return (number in self.table.rules) == (number in self.chime.to_sma)

    # -- judging an answer -------------------------------------------------------------------

    def _judge(self, op: Op) -> None:
        STATS.completed[op.kind] = STATS.completed.get(op.kind, 0) + 1
        error = op.error
        outcome = type(error).__name__ if error else "ok"
        STATS.outcomes[outcome] = STATS.outcomes.get(outcome, 0) + 1
        STATS.checked("truth")
        STATS.checked("errors")
        if op.kind == "expire":
            # A table that cannot even list the rules fails the run, and the scheduled
            # invocation is retried; once it has started on the rules, nothing may escape.
            if error is not None and not (isinstance(error, StorageError) and not op.writes):
                STATS.violation("errors", f"the expiry job raised {error!r} after {op.writes} write(s)")
            return
        number = op.number or ""
        stored = self.table.rules.get(number)
        if error is None:
            result = op.result
            if not isinstance(result, ChangeResult):
                STATS.violation("truth", f"{op.kind} returned {result!r}")
                return
            self.warned.discard(number)
            if result.action == "set":
                assert result.new is not None
                if stored is None or stored.destinations != result.new.destinations:
                    STATS.violation(
                        "truth",
                        f"{op.actor} was told '{result.message}' but the table holds "
                        f"{stored.summary() if stored else 'no forward'}",
                    )
                elif number not in self.chime.to_sma:
                    STATS.violation(
                        "truth", f"{op.actor} was told '{result.message}' but {number} is not routed"
                    )
            elif stored is not None or number in self.chime.to_sma:
                STATS.violation(
                    "truth",
                    f"{op.actor} was told '{result.message}' but the table holds "
                    f"{stored.summary() if stored else 'no forward'} and routing to the SMA is "
                    f"{number in self.chime.to_sma}",
                )
            return
        if isinstance(error, ChangeFailedError) and not error.consistent:
            self.warned.add(number)
            return
        if isinstance(error, RefusedError | ChangeFailedError | StorageError):
            if stored is not None and op.saved_version is not None and stored.version == op.saved_version:
                STATS.violation(
                    "truth",
                    f"{op.actor} was told '{error}' but the table holds its change {stored.summary()}",
                )
            elif not self._others_on(op) and not self._agrees(number) and number not in self.warned:
                STATS.violation(
                    "truth",
                    f"{op.actor} was told '{error}' (consistent) but {number} has "
                    f"{'a' if stored else 'no'} stored rule and is "
                    f"{'' if number in self.chime.to_sma else 'not '}routed to the SMA",
                )
            return
        STATS.violation("errors", f"{op.actor}'s {op.kind} on {number} raised {error!r}")

    # -- rules: what actors do -----------------------------------------------------------------

    @rule(
        actor=st.sampled_from(ACTORS),
        number=st.sampled_from(NUMBERS),
        destinations=st.lists(st.sampled_from(EXTERNAL + NUMBERS), min_size=1, max_size=2, unique=True),
        expires=st.sampled_from((None, "1h", "3h")),
    )
    def set_forward(self, actor: str, number: str, destinations: list[str], expires: str | None) -> None:
        request = ForwardRequest(number, destinations, expires_in=expires)
        self._launch(actor, "set", number, lambda: self.service.set_forward(request, actor=actor))

    @rule(
        actor=st.sampled_from(ACTORS),
        number=st.sampled_from(NUMBERS),
        destination=st.sampled_from(EXTERNAL + NUMBERS),
    )
    def edit_forward(self, actor: str, number: str, destination: str) -> None:
        """An edit form opened now (it carries the version it shows), submitted later."""
        current = self.table.rules.get(number)
        request = ForwardRequest(number, [destination], expected_version=current.version if current else 0)
        self._launch(actor, "edit", number, lambda: self.service.set_forward(request, actor=actor))

    @rule(actor=st.sampled_from(ACTORS), number=st.sampled_from(NUMBERS), from_button=st.booleans())
    def remove_forward(self, actor: str, number: str, from_button: bool) -> None:
        """A remove by command (no version) or by a button that shows one version of the rule."""
        kwargs: dict[str, Any] = {"actor": actor}
        current = self.table.rules.get(number)
        if from_button and current is not None and _accepts(self.service.remove_forward, "expected_version"):
            kwargs["expected_version"] = current.version
        self._launch(actor, "remove", number, lambda: self.service.remove_forward(number, **kwargs))

    @rule()
    def expiry_run(self) -> None:
        from bot.expiry import expire_forwards

        self._launch(EXPIRY, "expire", None, lambda: expire_forwards(self.service, Settings(), None))

    @precondition(lambda self: bool(self.ops))
    @rule(data=st.data(), fault=st.sampled_from((False, False, True)))
    def step(self, data: st.DataObject, fault: bool) -> None:
        """One in-flight change takes its next port call, which fails if ``fault``."""
        self._advance(data.draw(st.sampled_from(sorted(self.ops)), label="actor"), fault)

    @rule(minutes=st.sampled_from((30, 90, 240)))
    def time_passes(self, minutes: int) -> None:
        self.now += minutes * 60

    @rule()
    def everyone_finishes(self) -> None:
        self._finish()

    def _finish(self) -> None:
        for _ in range(200):
            if not self.ops:
                return
            for actor in list(self.ops):
                self._advance(actor, fault=False)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def no_loop(self) -> None:
        STATS.checked("loop")
        graph = {
            number: [d for d in rule.destinations if d in NUMBERS]
            for number, rule in self.table.rules.items()
        }
        for start in graph:
            seen, frontier = set(), [start]
            while frontier:
                node = frontier.pop()
                for nxt in graph.get(node, []):
                    if nxt == start:
                        self._state_violation(
                            "loop",
                            "loop:" + ",".join(sorted(graph)),
                            "stored rules loop: " + "; ".join(r.summary() for r in self.table.rules.values()),
                        )
                        return
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)

    @invariant()
    def quiescent_agreement(self) -> None:
        if self.ops:
            return
        STATS.checked("agreement")
        for number in NUMBERS:
            if not self._agrees(number) and number not in self.warned:
                stored = self.table.rules.get(number)
                self._state_violation(
                    "agreement",
                    f"agreement:{number}",
                    f"{number}: {'stored ' + stored.summary() if stored else 'no stored rule'} but "
                    f"{'' if number in self.chime.to_sma else 'not '}routed to the SMA "
                    f"(nobody was warned); schedule {self.schedule[-12:]}",
                )

    def teardown(self) -> None:
        self._finish()
        self.quiescent_agreement()
        STATS.schedules.add(hash(tuple(self.schedule)))


def run(examples: int, *, steps: int = 40, strict: bool = False) -> list[Figure]:
    """Explore ``examples`` state-machine runs of up to ``steps`` steps; the figures of the run."""
    fresh = Stats(strict=strict)
    for name in fresh.__dataclass_fields__:
        setattr(STATS, name, getattr(fresh, name))
    with quiet():
        run_state_machine_as_test(
            ForwardingRaces,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                database=None,
                deadline=None,
                phases=[Phase.generate] if not strict else [Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            ),
        )
    summary = (
        f"{STATS.examples} runs, {STATS.steps} interleaved steps, {STATS.port_calls} port calls, "
        f"{len(STATS.schedules)} distinct schedules, {STATS.faults} injected faults; changes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(STATS.completed.items()))
        + "; answers: "
        + ", ".join(f"{k} {v}" for k, v in sorted(STATS.outcomes.items()))
    )
    figures = list(STATS.figures.values())
    figures[0].detail = summary
    return figures
