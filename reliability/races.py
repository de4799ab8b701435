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
* **calls**: callers on an Amazon Connect entry number go through the SIP media application's call
  flow (claim a DNIS pair, Connect answers, take back and transfer, hang up anywhere) with claims
  and releases failing on injected faults: every response passes PSTN Audio's rules, and no pair
  is held by a call that has ended unless its release failed (then the stale bound frees it).
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
from switchboard.wording import rule_summary
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
    "calls": "calls: every response passes PSTN Audio's rules",
    "dnis": "no DNIS pair held by a finished call",
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
    calls: dict[str, int] = field(default_factory=dict)
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

# Calls to an Amazon Connect entry number (not in the actors' inventory) through the SIP media
# application's call flow, with the DNIS pool in memory: they read the same table as the actors.
CONNECT_ENTRY = "+12025550109"
POOL = (("+12025550180", "+18005550190"), ("+12025550181", "+18005550191"))
CALLER = "+13035550123"
TARGET = "+13125550199"


class MemoryPairs:
    """The SIP media application's view of the DNIS pool (``sma.forwarding.PairPool``) in memory,
    with a fault to inject into the next claim or release."""

    def __init__(self) -> None:
        self.holders: dict[tuple[str, str], str] = {}
        self.fail_next: Exception | None = None

    def _fault(self) -> None:
        fault, self.fail_next = self.fail_next, None
        if fault is not None:
            raise fault

    def claim_pair(self, transaction_id: str, original_calling_number: str) -> tuple[str, str] | None:
        self._fault()
        held = next((p for p, t in self.holders.items() if t == transaction_id), None)
        if held is not None:
            return held
        free = next((pair for pair in POOL if pair not in self.holders), None)
        if free is not None:
            self.holders[free] = transaction_id
        return free

    def release_pair(self, pair: tuple[str, str], transaction_id: str) -> None:
        self._fault()
        key = (pair[0], pair[1])
        if self.holders.get(key) == transaction_id:
            del self.holders[key]


class MemoryCallLog:
    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.live: dict[str, Any] = {}

    def record_call(self, transaction_id: str, record: Any) -> None:
        self.records[transaction_id] = record
        self.live.pop(transaction_id, None)

    def call_live(self, transaction_id: str, live: Any) -> None:
        self.live[transaction_id] = live


class QuietTelemetry:
    def bind(self, transaction_id: str) -> None: ...
    def count(self, metric: str) -> None: ...
    def error(self, message: str, **fields: Any) -> None: ...
    def event(self, event: Any, actions: list[dict[str, Any]], plan: Any) -> None: ...


@dataclass
class Call:
    """One caller on the Connect entry number, and where its call stands."""

    transaction_id: str
    phase: str = "new"  # new → connect-ringing → in-connect → taken-back → transferring → talking
    attributes: dict[str, str] = field(default_factory=dict)
    sequence: int = 0
    release_faulted: bool = False  # a release failed: the pair stays claimed until it is stale

    @property
    def over(self) -> bool:
        return self.phase == "over"


# What can happen next in each phase: (event fixture, overrides, phase after).
CALL_MOVES: dict[str, list[tuple[str, dict[str, str], str]]] = {
    "connect-ringing": [
        ("action_successful_call_and_bridge", {"destination": POOL[0][1]}, "in-connect"),
        ("action_failed_call_and_bridge", {"destination": POOL[0][1], "error": "SystemException"}, "over"),
        ("hangup_leg_a", {}, "over"),
    ],
    "in-connect": [
        ("call_update_requested", {}, "taken-back"),
        ("hangup_leg_a", {}, "over"),
        ("hangup_leg_b", {"destination": POOL[0][1]}, "over"),
    ],
    "taken-back": [
        ("hangup_leg_b", {"destination": POOL[0][1]}, "transferring"),
        ("hangup_leg_a", {}, "over"),
    ],
    "transferring": [
        ("action_successful_call_and_bridge", {"destination": TARGET}, "talking"),
        ("action_failed_call_and_bridge", {"destination": TARGET, "error": "CallNotAnswered"}, "over"),
        ("hangup_leg_a", {}, "over"),
    ],
    "talking": [("hangup_leg_a", {}, "over"), ("hangup_leg_b", {"destination": TARGET}, "over")],
}


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
        from sma.actions import PromptLocation
        from sma.forwarding import ForwardingApp
        from switchboard.domain.rules import ForwardRule

        self.table.rules[CONNECT_ENTRY] = ForwardRule(
            number=CONNECT_ENTRY, destinations=("connect",), version=1
        )
        self.pairs = MemoryPairs()
        self.sma = ForwardingApp(
            self.table,
            MemoryCallLog(),
            PromptLocation("prompts"),
            QuietTelemetry(),
            clock=lambda: int(self.now * 1000),
            pool=self.pairs,
        )
        self.calls: list[Call] = []
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
                        f"the expiry job deleted the active forward {rule_summary(stored)} "
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
                        f"{rule_summary(stored) if stored else 'no forward'}",
                    )
                elif number not in self.chime.to_sma:
                    STATS.violation(
                        "truth", f"{op.actor} was told '{result.message}' but {number} is not routed"
                    )
            elif stored is not None or number in self.chime.to_sma:
                STATS.violation(
                    "truth",
                    f"{op.actor} was told '{result.message}' but the table holds "
                    f"{rule_summary(stored) if stored else 'no forward'} and routing to the SMA is "
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
                    f"{op.actor} was told '{error}' but the table holds its change {rule_summary(stored)}",
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

    # -- rules: calls on the Amazon Connect entry number (take back and transfer) ---------------

    def _send(self, call: Call, fixture: str, overrides: dict[str, str]) -> dict[str, Any] | None:
        from switchboard_local.pstn.schema import response_errors
        from tests.helpers import apply_override, load_event

        event = load_event(fixture)
        call.sequence += 1
        event["Sequence"] = call.sequence
        event["CallDetails"]["TransactionId"] = call.transaction_id
        event["CallDetails"]["TransactionAttributes"] = dict(call.attributes)
        apply_override(event, "to", CONNECT_ENTRY)
        for key, value in overrides.items():
            apply_override(event, key, value)
        if fixture == "call_update_requested":
            event["ActionData"]["Parameters"]["Arguments"] = {"Transfer": "true", "TransferTarget": TARGET}
        STATS.checked("calls")
        try:
            response = self.sma.handle(event)
        except Exception as error:
            STATS.violation("calls", f"the SMA raised {error!r} on {fixture}")
            return None
        problems = response_errors(response)
        if problems:
            STATS.violation("calls", f"{fixture} in phase {call.phase}: {problems}")
        call.attributes = dict(response.get("TransactionAttributes", call.attributes))
        return response

    @precondition(lambda self: sum(not c.over for c in self.calls) < len(POOL) + 1)
    @rule(fault=st.sampled_from((False, False, False, True)))
    def call_arrives(self, fault: bool) -> None:
        call = Call(f"tx-{len(self.calls) + 1}")
        self.calls.append(call)
        if fault:
            STATS.faults += 1
            self.pairs.fail_next = StorageError("injected: the DNIS pool's table failed")
        response = self._send(call, "new_inbound_call", {})
        bridged = response is not None and any(a.get("Type") == "CallAndBridge" for a in response["Actions"])
        call.phase = "connect-ringing" if bridged else "over"
        STATS.calls["arrived"] = STATS.calls.get("arrived", 0) + 1

    @precondition(lambda self: any(not c.over for c in self.calls))
    @rule(data=st.data(), fault=st.sampled_from((False, False, False, True)))
    def call_moves(self, data: st.DataObject, fault: bool) -> None:
        """Something happens to one call in progress; a release or claim may fail (``fault``)."""
        call = data.draw(st.sampled_from([c for c in self.calls if not c.over]), label="call")
        fixture, overrides, after = data.draw(st.sampled_from(CALL_MOVES[call.phase]), label="event")
        held_before = call.transaction_id in self.pairs.holders.values()
        if fault:
            STATS.faults += 1
            self.pairs.fail_next = StorageError("injected: the DNIS pool's table failed")
        self._send(call, fixture, overrides)
        if self.pairs.fail_next is None and fault and held_before:
            call.release_faulted = call.transaction_id in self.pairs.holders.values()
        self.pairs.fail_next = None
        call.phase = after
        STATS.calls[after] = STATS.calls.get(after, 0) + 1

    @invariant()
    def no_pair_held_by_a_finished_call(self) -> None:
        STATS.checked("dnis")
        over = {c.transaction_id: c for c in self.calls if c.over}
        for pair, holder in self.pairs.holders.items():
            call = over.get(holder)
            if call is not None and not call.release_faulted:
                self._state_violation(
                    "dnis", f"dnis:{pair}", f"{pair} still held by {holder}, whose call has ended"
                )

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
                            "stored rules loop: "
                            + "; ".join(rule_summary(r) for r in self.table.rules.values()),
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
                    f"{number}: {'stored ' + rule_summary(stored) if stored else 'no stored rule'} but "
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
        + "; calls on the Connect entry number: "
        + ", ".join(f"{k} {v}" for k, v in sorted(STATS.calls.items()))
    )
    figures = list(STATS.figures.values())
    figures[0].detail = summary
    return figures
