"""Run Amazon Connect Flow-language JSON on simulated time, against the real Lambda.

No public emulator of the Flow language exists, so this runs the subset the shipped forwarding flow
(``connect_lambda/forwarding_flow.json``) uses, with a scripted caller (hangs up at *t*) and
scripted destinations (answer after *s* and talk for *t*, no answer, busy, unreachable). It invokes
the Lambda with the documented contact-flow event shape and enforces what Connect enforces: a flat
string-map reply under 32 KB, contact attributes under 32 KB in total, only documented error
branches. It flags what a caller would suffer: an unknown action, a Lambda failure, a flow that
ends without disconnecting, a caller ID that is not a claimed number, a runaway flow.

When the caller hangs up, the contact simply ends (Connect stops the flow) and a ``DISCONNECTED``
contact event in the EventBridge envelope goes to ``on_disconnected`` (the real
``connect_lambda.contact_events.handler`` in the tests and the local stack).

``InvocationType`` ``ASYNCHRONOUS``: the flow goes to the next action at once, at the same instant;
the Lambda runs ``async_delay_seconds`` later on the simulated clock, without the flow waiting,
even after the call has ended (Connect has invoked it already), in time order with scripted hooks
and the ``DISCONNECTED`` event. Its reply is checked like any other but never becomes
``$.External``: what an asynchronous invocation leaves there is not documented, so ``$.External``
is cleared, and a flow that reads it afterwards shows it at once.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_RESPONSE_BYTES = 32 * 1024
MAX_ATTRIBUTE_BYTES = 32_768
MAX_STEPS = 500
LAMBDA_SECONDS = 0.05
DEFAULT_INSTANCE_ARN = "arn:aws:connect:us-east-1:123456789012:instance/00000000-0000-0000-0000-000000000000"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class ThirdParty:
    """How a destination behaves when the flow dials it."""

    kind: str  # answers | no_answer | busy | unreachable
    after: float = 0.0
    talks_for: float = 0.0

    @classmethod
    def answers(cls, after: float = 5.0, talks_for: float = 30.0) -> ThirdParty:
        return cls("answers", after, talks_for)

    @classmethod
    def no_answer(cls) -> ThirdParty:
        return cls("no_answer")

    @classmethod
    def busy(cls) -> ThirdParty:
        return cls("busy", 2.0)

    @classmethod
    def unreachable(cls) -> ThirdParty:
        return cls("unreachable", 1.0)


@dataclass
class Transcript:
    contact_id: str
    timeline: list[tuple[float, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    dials: list[tuple[str, str]] = field(default_factory=list)  # (destination, caller ID shown)
    prompts: list[str] = field(default_factory=list)
    disconnected_by_flow: bool = False
    caller_hung_up: bool = False

    def lines(self) -> list[str]:
        return [timeline_line(t, text) for t, text in self.timeline]


def timeline_line(seconds: float, text: str) -> str:
    """One line of a call's timeline: the call's age, then what happened."""
    return f"{seconds:7.1f}s  {text}"


class _CallerGoneError(Exception):
    """The caller hung up: Connect stops the flow where it is."""


class FlowInterpreter:
    """Runs one flow for one Connect instance (its claimed numbers are the allowed caller IDs)."""

    def __init__(
        self,
        flow: Mapping[str, Any],
        handler: Handler,
        *,
        claimed: set[str],
        instance_arn: str = DEFAULT_INSTANCE_ARN,
        prompt_seconds: Callable[[str], float | None] = lambda uri: 3.0,
        start_ms: int = 1_700_000_000_000,
        on_disconnected: Handler | None = None,
        async_delay_seconds: float = LAMBDA_SECONDS,
        realtime: float | None = None,
        on_note: Callable[[float, str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``realtime``: pace simulated time on the wall clock at this speed (1.0 = real time), so
        people can act on the call while it lasts; ``on_note`` sees each timeline entry as it is
        made (to print it then, not when the call is over)."""
        if realtime is not None and realtime <= 0:
            raise ValueError("realtime must be a positive speed (1.0 = real time)")
        self._actions = {a["Identifier"]: a for a in flow["Actions"]}
        self._start_action = str(flow["StartAction"])
        self._handler = handler
        self._claimed = claimed
        self._instance_arn = instance_arn
        self._prompt_seconds = prompt_seconds
        self._start_ms = start_ms
        self._on_disconnected = on_disconnected
        self._async_delay = async_delay_seconds
        self._realtime = realtime
        self._on_note = on_note
        self._sleep = sleep
        self._monotonic = monotonic
        self._paced_from = (0.0, 0.0)  # (wall clock, simulated seconds) when the call began
        self.elapsed = 0.0

    def now_ms(self) -> int:
        """Simulated wall clock: give it to the Lambda so records carry simulated times."""
        return self._start_ms + int(self.elapsed * 1000)

    # ------------------------------------------------------------------------------ a call

    def place_call(
        self,
        dialed: str,
        caller: str,
        *,
        phones: Mapping[str, ThirdParty],
        caller_hangs_up_after: float | None = None,
        start_offset: float = 0.0,
        during: Sequence[tuple[float, Callable[[], str | None]]] = (),
    ) -> Transcript:
        """``during``: ``(t, hook)`` pairs; each hook runs once the call is ``t`` seconds old (a
        scripted Slack transfer, say), while the flow waits where it is at that moment. What a hook
        returns, if anything, goes into the timeline at that moment."""
        self.elapsed = start_offset
        begun = self.elapsed
        self._paced_from = (self._monotonic(), begun)
        transcript = Transcript(str(uuid.uuid4()))
        contact: dict[str, Any] = {
            "transcript": transcript,
            "dialed": dialed,
            "caller": caller,
            "attributes": {},
            "external": {},
            "hangup_at": None if caller_hangs_up_after is None else begun + caller_hangs_up_after,
            "during": sorted(((begun + t, hook) for t, hook in during), key=lambda pair: pair[0]),
            # Asynchronous invocations not yet run: (moment, Lambda run).
            "async": [],
        }
        name: str | None = self._start_action
        steps = 0
        try:
            while name is not None:
                steps += 1
                if steps > MAX_STEPS:
                    transcript.flags.append(f"runaway flow: more than {MAX_STEPS} actions")
                    break
                action = self._actions.get(name)
                if action is None:
                    transcript.flags.append(f"NextAction {name!r} does not exist")
                    break
                name = self._run(action, contact, transcript, phones)
            if not transcript.disconnected_by_flow and not transcript.flags:
                transcript.flags.append("the flow ended without DisconnectParticipant")
        except _CallerGoneError:
            transcript.caller_hung_up = True
            self._note(transcript, "caller hangs up")
        # Invocations already under way when the contact ended still run, in time order.
        self._run_async_until(self.elapsed, contact)
        self._disconnected(transcript, begun)
        self._run_async_until(None, contact)
        return transcript

    def _run_async_until(self, moment: float | None, contact: dict[str, Any]) -> None:
        pending: list[tuple[float, Callable[[], None]]] = contact["async"]
        while pending and (moment is None or pending[0][0] <= moment):
            at, run = pending.pop(0)
            self.elapsed = max(self.elapsed, at)
            run()

    # ------------------------------------------------------------------------------ actions

    def _run(
        self,
        action: Mapping[str, Any],
        contact: dict[str, Any],
        transcript: Transcript,
        phones: Mapping[str, ThirdParty],
    ) -> str | None:
        kind = action["Type"]
        parameters = action.get("Parameters", {})
        transitions = action.get("Transitions", {})
        if kind == "UpdateFlowLoggingBehavior":
            return str(transitions["NextAction"])
        if kind == "InvokeLambdaFunction":
            return self._invoke(parameters, transitions, contact, transcript)
        if kind == "UpdateContactAttributes":
            return self._update_attributes(parameters, transitions, contact, transcript)
        if kind == "Compare":
            value = self._resolve(parameters["ComparisonValue"], contact)
            for condition in transitions.get("Conditions", []):
                operator, operands = condition["Condition"]["Operator"], condition["Condition"]["Operands"]
                if operator == "Equals" and value == operands[0]:
                    return str(condition["NextAction"])
            return _error(transitions, "NoMatchingCondition") or transitions.get("NextAction")
        if kind == "MessageParticipant":
            return self._message(parameters, transitions, contact, transcript)
        if kind == "TransferParticipantToThirdParty":
            return self._transfer(parameters, transitions, contact, transcript, phones)
        if kind == "DisconnectParticipant":
            self._note(transcript, "flow disconnects the caller")
            transcript.disconnected_by_flow = True
            return None
        transcript.flags.append(f"unknown action type {kind!r}")
        return None

    def _invoke(
        self,
        parameters: Mapping[str, Any],
        transitions: Mapping[str, Any],
        contact: dict[str, Any],
        transcript: Transcript,
    ) -> str | None:
        attributes = {
            k: self._resolve(v, contact) for k, v in parameters.get("LambdaInvocationAttributes", {}).items()
        }
        event = self._event(contact, transcript.contact_id, attributes)
        if parameters.get("InvocationType") == "ASYNCHRONOUS":
            self._invoke_async(event, attributes, contact, transcript)
            contact["external"] = {}
            return str(transitions["NextAction"])
        self._advance(LAMBDA_SECONDS, contact)
        try:
            result = self._handler(event, None)
        except Exception as error:
            transcript.flags.append(f"the Lambda raised {error!r}")
            return _error(transitions, "NoMatchingError")
        problem = _check_reply(result)
        if problem:
            transcript.flags.append(f"Lambda reply refused by Connect: {problem}")
            return _error(transitions, "NoMatchingError")
        contact["external"] = {k: "" if v is None else v for k, v in result.items()}
        self._note(transcript, f"Lambda {attributes.get('Purpose', '?')} → op={result.get('op', '')}")
        return str(transitions["NextAction"])

    def _invoke_async(
        self,
        event: dict[str, Any],
        attributes: Mapping[str, str],
        contact: dict[str, Any],
        transcript: Transcript,
    ) -> None:
        purpose = attributes.get("Purpose", "?")

        def run() -> None:
            try:
                result = self._handler(event, None)
            except Exception as error:
                transcript.flags.append(f"the Lambda raised {error!r} (asynchronous {purpose})")
                return
            problem = _check_reply(result)
            if problem:
                transcript.flags.append(f"Lambda reply refused by Connect: {problem}")
            self._note(transcript, f"Lambda {purpose} ran (asynchronous; the flow did not wait)")

        pending: list[tuple[float, Callable[[], None]]] = contact["async"]
        pending.append((self.elapsed + self._async_delay, run))
        pending.sort(key=lambda pair: pair[0])

    def _update_attributes(
        self,
        parameters: Mapping[str, Any],
        transitions: Mapping[str, Any],
        contact: dict[str, Any],
        transcript: Transcript,
    ) -> str | None:
        updated = dict(contact["attributes"])
        for key, path in parameters["Attributes"].items():
            if not _KEY.match(key):
                transcript.flags.append(f"attribute key {key!r} is not allowed")
                return _error(transitions, "NoMatchingError")
            value = self._resolve(path, contact)
            if value:
                updated[key] = value
            else:
                updated.pop(key, None)  # an empty value clears the attribute
        size = sum(len(k.encode()) + len(v.encode()) for k, v in updated.items())
        if size > MAX_ATTRIBUTE_BYTES:
            transcript.flags.append(f"contact attributes of {size} bytes, over Connect's limit")
            return _error(transitions, "NoMatchingError")
        contact["attributes"] = updated
        return str(transitions["NextAction"])

    def _message(
        self,
        parameters: Mapping[str, Any],
        transitions: Mapping[str, Any],
        contact: dict[str, Any],
        transcript: Transcript,
    ) -> str | None:
        if "Media" in parameters:
            uri = self._resolve(parameters["Media"]["Uri"], contact)
            seconds = self._prompt_seconds(uri) if uri else None
            if seconds is None:
                self._note(transcript, f"prompt {uri or '(none)'} cannot be played")
                return _error(transitions, "NoMatchingError")
            transcript.prompts.append(uri.rsplit("/", 1)[-1])
            self._note(transcript, f"plays {uri.rsplit('/', 1)[-1]}")
        else:
            text = self._resolve(str(parameters.get("Text", "")), contact)
            seconds = len(text) / 15
            transcript.prompts.append("text")
            self._note(transcript, f"says {text!r}")
        self._advance(seconds, contact)
        return str(transitions["NextAction"])

    def _transfer(
        self,
        parameters: Mapping[str, Any],
        transitions: Mapping[str, Any],
        contact: dict[str, Any],
        transcript: Transcript,
        phones: Mapping[str, ThirdParty],
    ) -> str | None:
        number = self._resolve(parameters["ThirdPartyPhoneNumber"], contact)
        timeout_text = self._resolve(
            str(parameters.get("ThirdPartyConnectionTimeLimitSeconds", "30")), contact
        )
        timeout = float(timeout_text) if timeout_text.isdigit() and int(timeout_text) <= 600 else -1.0
        if timeout < 0:
            transcript.flags.append(f"transfer timeout {timeout_text!r} is not 0-600 seconds")
            return _error(transitions, "NoMatchingError")
        shown = contact["caller"]
        if "CallerId" in parameters:
            shown = self._resolve(parameters["CallerId"]["Number"], contact)
            if shown not in self._claimed:
                transcript.flags.append(f"caller ID {shown} is not a claimed number of the instance")
        transcript.dials.append((number, shown))
        self._note(transcript, f"dials {number} (caller ID {shown or 'withheld'}, {timeout:.0f}s)")
        phone = phones.get(number) if _E164.match(number) else None
        if phone is None or phone.kind == "unreachable":
            self._advance(1.0, contact)
            self._note(transcript, f"{number} cannot be reached")
            return _error(transitions, "CallFailed")
        if phone.kind == "busy":
            self._advance(phone.after, contact)
            self._note(transcript, f"{number} is busy")
            return _error(transitions, "CallFailed")
        if phone.kind == "no_answer" or phone.after >= timeout:
            self._advance(timeout, contact)
            self._note(transcript, f"{number} does not answer")
            return _error(transitions, "ConnectionTimeLimitExceeded")
        self._advance(phone.after, contact)
        self._note(transcript, f"{number} answers")
        self._advance(phone.talks_for, contact)
        self._note(transcript, f"{number} hangs up; the flow resumes")
        return str(transitions["NextAction"])

    # ------------------------------------------------------------------------------ helpers

    def _advance(self, seconds: float, contact: dict[str, Any]) -> None:
        end = self.elapsed + seconds
        hangup_at = contact["hangup_at"]
        until = end if hangup_at is None else min(end, hangup_at)
        hooks: list[tuple[float, Callable[[], str | None]]] = contact["during"]
        runs: list[tuple[float, Callable[[], str | None]]] = contact["async"]
        while (hooks and hooks[0][0] <= until) or (runs and runs[0][0] <= until):
            # Whichever comes first; a scripted hook before a Lambda run at the same moment.
            queue = hooks if hooks and (not runs or hooks[0][0] <= runs[0][0]) else runs
            moment, hook = queue.pop(0)
            self.elapsed = max(self.elapsed, moment)
            self._pace()
            said = hook()
            if said:
                self._note(contact["transcript"], said)
        if hangup_at is not None and end >= hangup_at:
            self.elapsed = max(self.elapsed, hangup_at)
            self._pace()
            raise _CallerGoneError
        self.elapsed = end
        self._pace()

    def _pace(self) -> None:
        """With ``realtime``, wait until the wall clock has caught up with simulated time."""
        if self._realtime is None:
            return
        wall, simulated = self._paced_from
        due = wall + (self.elapsed - simulated) / self._realtime
        ahead = due - self._monotonic()
        if ahead > 0:
            self._sleep(ahead)

    def _note(self, transcript: Transcript, text: str) -> None:
        transcript.timeline.append((self.elapsed, text))
        if self._on_note is not None:
            self._on_note(self.elapsed, text)

    def _resolve(self, value: Any, contact: dict[str, Any]) -> str:
        text = str(value)
        if not text.startswith("$."):
            return text
        if text.startswith("$.Attributes."):
            return str(contact["attributes"].get(text[len("$.Attributes.") :], ""))
        if text.startswith("$.External."):
            return str(contact["external"].get(text[len("$.External.") :], ""))
        endpoints = {
            "$.SystemEndpoint.Address": contact["dialed"],
            "$.CustomerEndpoint.Address": contact["caller"],
        }
        return str(endpoints.get(text, ""))

    def _event(self, contact: dict[str, Any], contact_id: str, parameters: dict[str, str]) -> dict[str, Any]:
        def endpoint(address: str) -> dict[str, str] | None:
            return {"Address": address, "Type": "TELEPHONE_NUMBER"} if address else None

        return {
            "Name": "ContactFlowEvent",
            "Details": {
                "ContactData": {
                    "Attributes": dict(contact["attributes"]),
                    "AwsRegion": self._instance_arn.split(":")[3],
                    "Channel": "VOICE",
                    "ContactId": contact_id,
                    "CustomerEndpoint": endpoint(contact["caller"]),
                    "Description": None,
                    "InitialContactId": contact_id,
                    "InitiationMethod": "INBOUND",
                    "InstanceARN": self._instance_arn,
                    "LanguageCode": "en-US",
                    "MediaStreams": {"Customer": {"Audio": None}},
                    "Name": None,
                    "PreviousContactId": contact_id,
                    "Queue": None,
                    "References": {},
                    "SystemEndpoint": endpoint(contact["dialed"]),
                },
                "Parameters": parameters,
            },
        }

    def _disconnected(self, transcript: Transcript, begun: float) -> None:
        if self._on_disconnected is None:
            return

        def iso(seconds: float) -> str:
            moment = datetime.fromtimestamp((self._start_ms + seconds * 1000) / 1000, UTC)
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "time": iso(self.elapsed)[:-5] + "Z",
            "region": self._instance_arn.split(":")[3],
            "resources": [f"{self._instance_arn}/contact/{transcript.contact_id}"],
            "detail": {
                "eventType": "DISCONNECTED",
                "contactId": transcript.contact_id,
                "channel": "VOICE",
                "instanceArn": self._instance_arn,
                "initiationMethod": "INBOUND",
                "initiationTimestamp": iso(begun),
                "disconnectTimestamp": iso(self.elapsed),
            },
        }
        self._on_disconnected(event, None)


def _error(transitions: Mapping[str, Any], error_type: str) -> str | None:
    for error in transitions.get("Errors", []):
        if error["ErrorType"] == error_type:
            return str(error["NextAction"])
    return None


def _check_reply(result: Any) -> str:
    if not isinstance(result, dict):
        return f"a {type(result).__name__}, not a map"
    if not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in result.items()):
        return "not a flat string map"
    size = len(json.dumps(result).encode())
    if size >= MAX_RESPONSE_BYTES:
        return f"{size} bytes, over 32 KB"
    return ""


# ---------------------------------------------------------------------------------- static checks

MAX_CONTENT = 256_000
MAX_IDENTIFIER = 50
_BAD_IDENTIFIER = re.compile(r"[%:()\\/=$,;\[\]{}]")
_COMMON_ERRORS = {"NoMatchingError", "NoMatchingCondition"}
# Error types each action may branch on, besides the common ones (Connect refuses others on publish).
ERROR_TYPES: dict[str, set[str]] = {
    "UpdateFlowLoggingBehavior": set(),
    "InvokeLambdaFunction": set(),
    "UpdateContactAttributes": set(),
    "Compare": set(),
    "Loop": set(),
    "MessageParticipant": set(),
    "TransferParticipantToThirdParty": {"CallFailed", "ConnectionTimeLimitExceeded"},
    "DisconnectParticipant": set(),
    "EndFlowExecution": set(),
    "UpdateContactEventHooks": set(),
}
_TERMINAL = {"DisconnectParticipant", "EndFlowExecution"}


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$.")


def _targets(action: Mapping[str, Any]) -> list[str]:
    transitions = action.get("Transitions") or {}
    found = [transitions["NextAction"]] if "NextAction" in transitions else []
    found += [e.get("NextAction") for e in transitions.get("Errors", [])]
    found += [c.get("NextAction") for c in transitions.get("Conditions", [])]
    return [str(t) for t in found]


def validate_flow(flow: Mapping[str, Any]) -> list[str]:
    """Problems Connect would refuse on publish, or that would leave a caller in dead air (empty:
    none found). Checks the subset of the Flow language :class:`FlowInterpreter` runs."""
    problems: list[str] = []
    content = json.dumps(flow, separators=(",", ":"))
    if len(content) > MAX_CONTENT:
        problems.append(f"content of {len(content)} characters, over {MAX_CONTENT}")
    if flow.get("Version") != "2019-10-30":
        problems.append("Version must be 2019-10-30")
    actions = {str(a.get("Identifier")): a for a in flow.get("Actions", [])}
    if len(actions) != len(flow.get("Actions", [])):
        problems.append("identifiers are not unique")
    start = str(flow.get("StartAction", ""))
    if start not in actions:
        problems.append(f"StartAction {start!r} does not exist")
    for name, action in actions.items():
        problems += [f"{name}: {p}" for p in _action_problems(name, action, actions)]
    reachable: set[str] = set()
    todo = [start] if start in actions else []
    while todo:
        name = todo.pop()
        if name not in reachable and name in actions:
            reachable.add(name)
            todo.extend(_targets(actions[name]))
    problems += [f"{name}: unreachable" for name in actions if name not in reachable]
    ends = {n for n, a in actions.items() if a.get("Type") in _TERMINAL}
    changed = True
    while changed:
        changed = False
        for name, action in actions.items():
            if name not in ends and set(_targets(action)) & ends:
                ends.add(name)
                changed = True
    problems += [f"{name}: no path to a disconnect" for name in actions if name not in ends]
    return problems


def _action_problems(name: str, action: Mapping[str, Any], actions: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if len(name) > MAX_IDENTIFIER or _BAD_IDENTIFIER.search(name):
        problems.append("identifier is too long or has a character Connect refuses")
    kind = str(action.get("Type"))
    if kind not in ERROR_TYPES:
        return [*problems, f"unknown action type {kind!r}"]
    parameters = action.get("Parameters") or {}
    transitions = action.get("Transitions") or {}
    problems += [f"NextAction {t!r} does not exist" for t in _targets(action) if t not in actions]
    allowed = _COMMON_ERRORS | ERROR_TYPES[kind]
    problems += [
        f"error branch {e.get('ErrorType')!r} is not one {kind} has"
        for e in transitions.get("Errors", [])
        if e.get("ErrorType") not in allowed
    ]
    if kind in _TERMINAL and transitions:
        problems.append("a terminal action has transitions")
    if kind not in _TERMINAL and "NextAction" not in transitions:
        problems.append("no NextAction")
    if kind == "InvokeLambdaFunction":
        invocation = parameters.get("InvocationType", "SYNCHRONOUS")
        if invocation not in ("SYNCHRONOUS", "ASYNCHRONOUS"):
            problems.append("InvocationType must be SYNCHRONOUS or ASYNCHRONOUS")
        # The flow language reference says 1-8 for both; the flow designer's page lets an
        # asynchronous invocation have up to 60 (how long Connect retries it). Both refuse more.
        most = 60 if invocation == "ASYNCHRONOUS" else 8
        limit = parameters.get("InvocationTimeLimitSeconds")
        if not (isinstance(limit, str) and limit.isdigit() and 1 <= int(limit) <= most):
            problems.append(f"InvocationTimeLimitSeconds must be a static 1-{most}")
        if (parameters.get("ResponseValidation") or {}).get("ResponseType") not in ("STRING_MAP", "JSON"):
            problems.append("ResponseValidation.ResponseType must be STRING_MAP or JSON")
    if kind == "TransferParticipantToThirdParty":
        if parameters.get("ContinueFlowExecution") not in ("True", "False"):
            problems.append('ContinueFlowExecution must be "True" or "False"')
        timeout = parameters.get("ThirdPartyConnectionTimeLimitSeconds", "30")
        if not (_is_path(timeout) or (str(timeout).isdigit() and int(timeout) <= 600)):
            problems.append("the timeout must be 0-600 seconds or one JSONPath")
    if kind == "Compare":
        for condition in transitions.get("Conditions", []):
            if any(operand == "" for operand in condition.get("Condition", {}).get("Operands", [])):
                problems.append("an empty Compare operand (refused on publish)")
    if kind == "Loop":
        operands = sorted(
            str(c.get("Condition", {}).get("Operands", [""])[0]) for c in transitions.get("Conditions", [])
        )
        if operands != ["ContinueLooping", "DoneLooping"]:
            problems.append("a Loop has exactly the ContinueLooping and DoneLooping conditions")
    return problems
