"""Load: concurrent calls through the SIP media application while forwards change under them.

Each call is played by its own :class:`PstnSimulator` on its own thread, all released at once,
against the real ``sma.app.handler`` and the stack's table; the calls go to a forwarded number, a
number whose forward is being changed, the Amazon Connect entry number (through the 4-pair DNIS
pool, so most find it busy) and a number without a forward. Meanwhile a changer thread sets and
removes forwards on the same numbers through the forwarding service, as admins would.

Checked: every call got only valid responses and ended cleanly (no simulator flag: invalid
response, handler raised, dead air, a leg left up); every call left its call record in the table
(0 lost); afterwards no DNIS pair is still held by one of these (finished) calls.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from botocore.config import Config

from reliability.common import Figure, quiet
from reliability.harness import (
    CALLER,
    CONNECT_ENTRY,
    DESTINATIONS,
    FORWARDED,
    SECOND_FORWARDED,
    UNFORWARDED,
    Harness,
)
from switchboard.service import ChangeFailedError, ForwardRequest, RefusedError
from switchboard_local.pstn.simulator import CallTranscript, PhoneBehaviour, PstnSimulator

# Calls arrive spread over a window at this rate (a thundering herd of 200 NEW_INBOUND_CALLs in
# the same millisecond measures the local moto server's accept queue, not the handler), and the
# simulation is paced so that a call lasts longer than the window: they are all in progress
# together. The peak is reported.
ARRIVALS_PER_SECOND = 10.0
TALK_SECONDS = 60.0
CHANGE_EVERY_SECONDS = 0.2
TARGETS = (FORWARDED, SECOND_FORWARDED, CONNECT_ENTRY, UNFORWARDED)
BEHAVIOURS = (
    PhoneBehaviour.answers(after_seconds=3.0),
    PhoneBehaviour.answers(after_seconds=3.0),
    PhoneBehaviour.no_answer(),
    PhoneBehaviour.busy(),
    PhoneBehaviour.unreachable(),
)


# The SIP media application's DynamoDB client answers PSTN Audio's 5 s budget with 1 s timeouts. The
# local moto serves one request at a time, and on a loaded 2-core machine 100 calls at once queue
# for seconds there: reads timed out, the SMA rightly ended those calls without a record, and the
# part measured the emulator's capacity. Here the SMA gets a patient client, so a lost record means
# our code lost it (a failing table is the fuzz and race parts' business).
PATIENT_TABLE = Config(connect_timeout=10, read_timeout=120, retries={"total_max_attempts": 2})


@contextlib.contextmanager
def patient_table(h: Harness) -> Iterator[None]:
    """Run ``sma.app.handler`` on an app built exactly as at import, with :data:`PATIENT_TABLE`."""
    module = h.sma
    saved_config, saved_app = module.DYNAMODB_CONFIG, module.app
    module.DYNAMODB_CONFIG = PATIENT_TABLE
    try:
        module.app, _ = module._build()
        yield
    finally:
        module.DYNAMODB_CONFIG, module.app = saved_config, saved_app


def run(h: Harness, calls: int, seed: int = 5) -> list[Figure]:
    with patient_table(h):
        return _run(h, calls, seed)


def _run(h: Harness, calls: int, seed: int) -> list[Figure]:
    rng = random.Random(seed)
    h.seed_forwards()
    h.free_pool()
    plans = [(rng.choice(TARGETS), {d: rng.choice(BEHAVIOURS) for d in DESTINATIONS}) for _ in range(calls)]
    transcripts: list[CallTranscript | None] = [None] * calls
    errors: list[str] = []
    start = threading.Barrier(calls + 1)
    stop = threading.Event()
    changes = {"applied": 0, "refused or failed": 0}
    window = calls / ARRIVALS_PER_SECOND
    realtime = TALK_SECONDS / (window + 5.0)
    arrivals = sorted(rng.uniform(0, window) for _ in range(calls))
    in_progress = {"now": 0, "peak": 0}
    counting = threading.Lock()

    def call(index: int) -> None:
        to, phones = plans[index]
        # Paced on the wall clock so the calls overlap as real ones do, rather than each
        # finishing in the milliseconds a simulated call otherwise takes.
        simulator = PstnSimulator(
            h.sma.handler, sip_media_application_id=h.stack.sip_media_application_id, realtime=realtime
        )
        start.wait()
        time.sleep(arrivals[index])
        with counting:
            in_progress["now"] += 1
            in_progress["peak"] = max(in_progress["peak"], in_progress["now"])
        try:
            transcripts[index] = simulator.place_call(to, CALLER, phones=phones)
        except Exception as error:
            errors.append(f"call {index} to {to}: the simulator raised {error!r}")
        finally:
            with counting:
                in_progress["now"] -= 1

    def changer() -> None:
        service = h.bot.forwarding_service()
        turn = 0
        while not stop.is_set():
            number = (SECOND_FORWARDED, UNFORWARDED)[turn % 2]
            try:
                if turn % 3 == 2:
                    service.remove_forward(number, actor="reliability-load")
                else:
                    destinations = [DESTINATIONS[(turn + i) % len(DESTINATIONS)] for i in range(1 + turn % 2)]
                    service.set_forward(ForwardRequest(number, destinations), actor="reliability-load")
                changes["applied"] += 1
            except (ChangeFailedError, RefusedError):
                changes["refused or failed"] += 1
            turn += 1
            stop.wait(CHANGE_EVERY_SECONDS)

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(calls)]
    changing = threading.Thread(target=changer, daemon=True)
    with quiet():
        for thread in threads:
            thread.start()
        changing.start()
        began = time.monotonic()
        start.wait()
        for thread in threads:
            thread.join(timeout=600)
        elapsed = time.monotonic() - began
        stop.set()
        changing.join(timeout=60)

    valid = Figure("load", f"{calls} concurrent calls → valid responses, clean endings")
    records = Figure("load", "every call leaves its record (0 lost)")
    pool = Figure("load", "no DNIS pair held by a finished call")
    log = h.call_log()
    outcomes: dict[str, int] = {}
    for message in errors:
        valid.fail(message)
    for index, transcript in enumerate(transcripts):
        if transcript is None:
            continue
        valid.cases += 1
        records.cases += 1
        if transcript.outcome.flags:
            valid.fail(f"call {index} to {plans[index][0]}: {transcript.outcome.flags}")
        record: dict[str, Any] | None = log.call_record(transcript.transaction_id)
        if record is None:
            records.fail(f"call {index} to {plans[index][0]} ({transcript.transaction_id}): no record")
        else:
            outcome = str(record.get("outcome", "?"))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    ours = {t.transaction_id for t in transcripts if t is not None}
    for entry in h.pool().list_pairs():
        pool.cases += 1
        if entry.claim is not None and entry.claim.transaction_id in ours:
            pool.fail(f"{entry.pair} still held by {entry.claim.transaction_id}")
    valid.cases += len(errors)
    valid.detail = (
        f"peak {in_progress['peak']} calls in progress at once; {elapsed:.1f} s wall clock; "
        f"{changes['applied']} forward changes applied under the calls "
        f"({changes['refused or failed']} refused or failed)"
    )
    records.detail = "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    pool.detail = f"{pool.cases} pairs checked after the run"
    h.seed_forwards()
    return [valid, records, pool]
