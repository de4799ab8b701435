"""``switchboard call``: one simulated call through the real ``sma.app.handler``, printed as a timeline.

The call runs against the local stack the environment points at (a running ``switchboard dev``),
or against a fresh in-process stack when none is running. It never runs against real AWS: the
simulated call writes a call record, which has no place in a production table.

Calls in progress take call updates: the simulator registers with the stack's Chime SDK Voice
emulator as a call sink (directly when the emulator is in this process, over loopback HTTP when it
belongs to a ``switchboard dev`` in another one), so a real ``UpdateSipMediaApplicationCall`` —
from a script, the Connect Lambda or the Slack bot — reaches the SMA handler as
CALL_UPDATE_REQUESTED. A take-back-and-transfer is scripted with :class:`TransferScript`: at a
simulated time the call pauses and either ``connect_lambda.app.handler`` is invoked with a Connect
``TransferCall`` event (what the contact flow does), or UpdateSipMediaApplicationCall is called
through boto3 (what the Slack bot does).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.events import CONNECT_BACKEND, AttemptResult
from switchboard.domain.hours import HoursError, resolve_timezone
from switchboard.domain.rules import MAX_DESTINATIONS
from switchboard.domain.transfer import TransferRules
from switchboard.policy import NOT_OURS, DestinationPolicy, DestinationRefusedError
from switchboard.settings import load as load_settings
from switchboard.wording import ANSWERED_AT_UNKNOWN_TIME, branch_text, utc_time
from switchboard_local.aws.chime_voice_emulator import SINKS_PATH, ChimeVoiceEmulator
from switchboard_local.http_server import LocalHttpServer
from switchboard_local.pstn.simulator import (
    CallerBehaviour,
    CallTranscript,
    PhoneBehaviour,
    PstnSimulator,
    ScriptedAction,
    SimulatedCall,
    TimelineEntry,
    render_entry,
)
from switchboard_local.stack import LocalStack, prompt_seconds

Via = Literal["connect", "api"]
VoicemailEnd = Literal["#", "silence", "hangup"]
# S3 metadata key of a simulated recording: the caller's scripted words (percent-encoded UTF-8).
SAID_METADATA = "said"
BEHAVIOURS = ("answer", "no-answer", "busy", "unreachable")


@dataclass(frozen=True, slots=True)
class TransferScript:
    """Take the call back and transfer it at ``at_seconds`` (simulated time from the call's start).

    ``via``: ``connect`` invokes ``connect_lambda.app.handler`` with a ``TransferCall`` event from
    the DNIS pair on LEG-B (as the contact flow does); ``api`` calls UpdateSipMediaApplicationCall
    with ``{"Transfer": "true", "TransferTarget"[, "TransferTargetArn"]}`` through boto3 (as the
    Slack bot does). ``None`` picks ``connect`` for an Amazon Connect entry number, else ``api``.
    ``target_behaviour`` is what the target's phone does (one of :data:`BEHAVIOURS`).
    """

    at_seconds: float
    target: str
    arn: str = ""
    via: Via | None = None
    target_behaviour: str = "answer"


@dataclass(slots=True)
class TransferAttempt:
    """What a scripted transfer sent and the answer it got (``status`` ok / error, ``reason``)."""

    via: Via
    at_seconds: float
    request: dict[str, Any]
    answer: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.answer.get("status") == "ok"


@dataclass(frozen=True, slots=True)
class CallResult:
    transcript: CallTranscript
    record: dict[str, Any] | None
    transfer: TransferAttempt | None = None
    # Why the call went the way it did when that is the stack's state, not the call: a number with
    # no forward, a Connect entry number with an empty DNIS pool.
    notes: tuple[str, ...] = ()
    # For a forward with business hours: which branch the rule had at the call's moment, and until when.
    branch: str = ""


def phone(kind: str, ring_seconds: float, talk_seconds: float | None) -> PhoneBehaviour:
    if kind == "no-answer":
        return PhoneBehaviour.no_answer()
    if kind == "busy":
        return PhoneBehaviour.busy()
    if kind == "unreachable":
        return PhoneBehaviour.unreachable()
    return PhoneBehaviour.answers(after_seconds=ring_seconds, hangs_up_after=talk_seconds)


def sma_handler() -> Any:
    """``sma.app`` bound to the current environment (it builds its client at import)."""
    import sma.app

    return sma.app


_CONNECT_ENV = (
    "TABLE_NAME",
    "SIP_MEDIA_APPLICATION_ID",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CHIME_SDK_VOICE",
)
_connect_bound: dict[str, Any] = {}


def connect_handler() -> Any:
    """``connect_lambda.app`` bound to the current environment. It builds its clients at import,
    so it is loaded again unless this process last loaded it here, for this stack."""
    import connect_lambda.app

    wanted = tuple(os.environ.get(key, "") for key in _CONNECT_ENV)
    if _connect_bound.get("env") != wanted or _connect_bound.get("app") is not connect_lambda.app.app:
        importlib.reload(connect_lambda.app)
        _connect_bound.update(env=wanted, app=connect_lambda.app.app)
    return connect_lambda.app


def connect_event(purpose: str, calling: str, called: str, **parameters: str) -> dict[str, Any]:
    """An Amazon Connect contact-flow event (``Invoke AWS Lambda function`` block) for a call that
    reached Connect from ``calling`` (the SMA number of the DNIS pair: Connect's customer) on
    ``called`` (the Connect number), with ``Details.Parameters`` as the example flow sets them."""
    contact_id = str(uuid.uuid4())
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return {
        "Details": {
            "ContactData": {
                "Attributes": {},
                "AwsRegion": region,
                "Channel": "VOICE",
                "ContactId": contact_id,
                "CustomerEndpoint": {"Address": calling, "Type": "TELEPHONE_NUMBER"},
                "Description": None,
                "InitialContactId": contact_id,
                "InitiationMethod": "INBOUND",
                "InstanceARN": f"arn:aws:connect:{region}:123456789012:instance/{uuid.uuid4()}",
                "LanguageCode": "en-US",
                "MediaStreams": {"Customer": {"Audio": None}},
                "Name": None,
                "PreviousContactId": contact_id,
                "Queue": None,
                "References": {},
                "SystemEndpoint": {"Address": called, "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": {
                "CallingNumber": calling,
                "CalledNumber": called,
                "Purpose": purpose,
                **parameters,
            },
        },
        "Name": "ContactFlowEvent",
    }


def transfer_action(script: TransferScript, via: Via, attempt: TransferAttempt) -> ScriptedAction:
    """The scripted action that asks for the transfer; it fills in ``attempt``."""
    arguments = {"Transfer": "true", "TransferTarget": script.target}
    if script.arn:
        arguments["TransferTargetArn"] = script.arn

    def connect_transfer_call(live: SimulatedCall) -> str:
        leg_b = live.bridged()
        if leg_b is None:
            attempt.answer = {"status": "error", "reason": "no call in Amazon Connect (LEG-B is not bridged)"}
            return "Amazon Connect: nothing to transfer, the call is not in Connect"
        parameters = {"TransferTarget": script.target}
        if script.arn:
            parameters["TransferTargetArn"] = script.arn
        # Connect knows the call only by its DNIS pair: the caller ID it sees and the number called.
        event = connect_event("TransferCall", leg_b["From"], leg_b["To"], **parameters)
        attempt.request = event
        attempt.answer = dict(connect_handler().handler(event, None))
        return (
            f"Amazon Connect asks connect_lambda.app.handler to transfer the call: {_answer(attempt.answer)}"
        )

    def update_sip_media_application_call(live: SimulatedCall) -> str:
        request: dict[str, Any] = {
            "SipMediaApplicationId": os.environ.get("SIP_MEDIA_APPLICATION_ID", ""),
            "TransactionId": live.transaction_id,
            "Arguments": arguments,
        }
        attempt.request = request
        try:
            boto3.client("chime-sdk-voice").update_sip_media_application_call(**request)
            attempt.answer = {"status": "ok", "transaction_id": live.transaction_id}
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            attempt.answer = {"status": "error", "reason": f"{code}: {message}"}
        except BotoCoreError as error:
            attempt.answer = {"status": "error", "reason": str(error)}
        where = arguments.get("TransferTarget", "")
        via_arn = (
            f" (SIP user on {arguments['TransferTargetArn']})" if arguments.get("TransferTargetArn") else ""
        )
        return f"UpdateSipMediaApplicationCall: transfer to {where}{via_arn}: {_answer(attempt.answer)}"

    return connect_transfer_call if via == "connect" else update_sip_media_application_call


def _answer(answer: Mapping[str, str]) -> str:
    """What the Connect Lambda (or the API) answered, as a sentence rather than a raw map."""
    status = answer.get("status", "")
    target = answer.get("transfer_target") or answer.get("TransferTarget") or ""
    if status == "ok":
        to = f" to {target}" if target else ""
        call = f" (call {answer['transaction_id']})" if answer.get("transaction_id") else ""
        return f"accepted: the call is taken back and transferred{to}{call}"
    if status:
        reason = answer.get("reason") or answer.get("message") or "no reason given"
        return f"refused ({status}): {reason}"
    return "; ".join(f"{key} {value}" for key, value in answer.items()) or "no answer"


# -- call updates into the simulator -------------------------------------------------------------


class _UpdateReceiver(LocalHttpServer):
    """Takes the updates a Chime SDK Voice emulator in another process forwards to this process."""

    server_name = "call update receiver"

    def __init__(self, simulator: PstnSimulator) -> None:
        super().__init__()
        self.simulator = simulator

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        simulator = self.simulator

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    update = json.loads(self.rfile.read(length) or b"{}")
                    simulator.on_call_update(
                        str(update["SipMediaApplicationId"]),
                        str(update["TransactionId"]),
                        update.get("Arguments") or {},
                    )
                except LookupError as error:  # also a body without the keys: nothing of ours
                    self._answer(404, str(error))
                except (ValueError, TypeError) as error:
                    self._answer(400, str(error))
                else:
                    self._answer(202, "")

            def _answer(self, status: int, message: str) -> None:
                data = message.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the call's timeline says what happened."""

        return Handler


@contextlib.contextmanager
def call_updates_to(simulator: PstnSimulator, chime: ChimeVoiceEmulator | None = None) -> Iterator[str]:
    """Deliver UpdateSipMediaApplicationCall for this simulator's calls while the block runs.

    ``chime``: the stack's emulator, when it is in this process. Otherwise the emulator at
    ``AWS_ENDPOINT_URL_CHIME_SDK_VOICE`` (a ``switchboard dev`` in another process) is asked to
    forward updates to a loopback server here. Yields how updates arrive, for the timeline.
    """
    if chime is not None:
        sink_id = chime.call_sinks.add(simulator.on_call_update)
        try:
            yield "in-process"
        finally:
            chime.call_sinks.remove(sink_id)
        return
    endpoint = os.environ.get("AWS_ENDPOINT_URL_CHIME_SDK_VOICE", "").rstrip("/")
    if not endpoint:
        yield "not delivered (no Chime SDK Voice emulator configured)"
        return
    receiver = _UpdateReceiver(simulator).start()
    sink_id = ""
    try:
        try:
            registered = _local_request("POST", f"{endpoint}{SINKS_PATH}", {"url": f"{receiver.origin}/"})
            sink_id = str(registered["SinkId"])
            how = f"forwarded by the emulator at {endpoint}"
        except (OSError, ValueError, KeyError) as error:
            how = f"not delivered (the emulator at {endpoint} refused the call sink: {error})"
        yield how
    finally:
        if sink_id:
            with contextlib.suppress(OSError, ValueError):
                _local_request("DELETE", f"{endpoint}{SINKS_PATH}/{sink_id}", None)
        receiver.stop()


def _local_request(method: str, url: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    if not url.startswith("http://"):
        raise ValueError(f"the local emulator is plain http on loopback, not {url!r}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - http only, checked above
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        text = response.read()
    answer: dict[str, Any] = json.loads(text) if text else {}
    return answer


# -- the call ------------------------------------------------------------------------------------


def simulate_call(
    number: str,
    caller: str,
    behaviours: Sequence[str] = (),
    *,
    ring_seconds: float = 4.0,
    talk_seconds: float | None = 20.0,
    caller_hangs_up_after: float | None = None,
    transfer: TransferScript | None = None,
    during: Sequence[tuple[float, ScriptedAction]] = (),
    chime: ChimeVoiceEmulator | None = None,
    realtime: float | None = None,
    on_entry: Callable[[TimelineEntry], None] | None = None,
    voicemail: str | None = None,
    voicemail_ends: VoicemailEnd = "#",
    at_ms: int | None = None,
) -> CallResult:
    """Place the call with the environment's stack; behaviours apply to the rule's destinations in
    order (for an Amazon Connect entry number, the first one is what Connect does when it rings).
    ``voicemail`` is what the caller says if they get to leave a message, ending it with
    ``voicemail_ends``; the recording lands in ``RECORDINGS_BUCKET`` of the local stack.
    ``at_ms`` is when (epoch ms) the call happens on simulated time (default now): the SIP media
    application decides with that clock, so business hours pick the branch of that moment.

    ``transfer`` scripts a take-back-and-transfer, ``during`` any other actions while the call runs
    (:meth:`PstnSimulator.place_call`); ``chime`` is the stack's emulator if it is in this process.
    """
    table = os.environ["TABLE_NAME"]
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    rule = DynamoForwardRepository(dynamodb, table).get(number)
    phones: dict[str, PhoneBehaviour] = {}
    notes: list[str] = []
    branch = ""
    when_s = (at_ms if at_ms is not None else int(time.time() * 1000)) / 1000
    if rule is None:
        notes.append(
            f'{number} has no forward, so the caller hears "not in service": set one first '
            f"(switchboard forward set {number} DESTINATION)"
        )
    elif rule.hours is not None:
        branch = branch_text(rule, when_s, when=f"at {utc_time(when_s)}")
    to_connect = rule is not None and rule.connect_entry_at(when_s)
    if rule is not None and to_connect:
        from switchboard.adapters.pool import DynamoDnisPool

        connect = phone(behaviours[0] if behaviours else "answer", ring_seconds, talk_seconds)
        phones = {
            entry.pair.connect_number: connect for entry in DynamoDnisPool(dynamodb, table).list_pairs()
        }
        if not phones:
            notes.append(
                f"{number} forwards to Amazon Connect, but the DNIS pool has no pair to carry the call: "
                "add one first (switchboard pool add SMA_NUMBER CONNECT_NUMBER)"
            )
    elif rule is not None:
        phones = {
            destination: phone(kind, ring_seconds, talk_seconds)
            for destination, kind in zip(rule.destinations_at(when_s), behaviours, strict=False)
        }

    scripted = list(during)
    attempt: TransferAttempt | None = None
    if transfer is not None:
        via: Via = transfer.via or ("connect" if to_connect else "api")
        attempt = TransferAttempt(via, transfer.at_seconds, {})
        phones[transfer.target] = phone(transfer.target_behaviour, ring_seconds, talk_seconds)
        scripted.append((transfer.at_seconds, transfer_action(transfer, via, attempt)))

    def prompt_exists(bucket_name: str, key: str) -> bool:
        try:
            s3.head_object(Bucket=bucket_name, Key=key)
        except ClientError:
            return False
        return True

    def save_recording(bucket_name: str, key: str, audio: bytes, words: str) -> None:
        # The words said ride along (local only, percent-encoded: S3 metadata is ASCII) so the
        # transcription stand-in can return them; real PSTN Audio writes just the audio.
        s3.put_object(
            Bucket=bucket_name,
            Key=key,
            Body=audio,
            ContentType="audio/wav",
            Metadata={SAID_METADATA: urllib.parse.quote(words)},
        )

    def recordings_writable(bucket_name: str) -> bool:
        try:
            s3.head_bucket(Bucket=bucket_name)
        except ClientError:
            return False
        return True

    module = sma_handler()
    simulator = PstnSimulator(
        module.handler,
        sip_media_application_id=os.environ.get("SIP_MEDIA_APPLICATION_ID", "sma-local"),
        prompt_exists=prompt_exists,
        prompt_seconds=prompt_seconds,
        realtime=realtime,
        on_entry=on_entry,
        save_recording=save_recording,
        recordings_writable=recordings_writable,
    )
    app = module.app
    real_clock = app.clock
    app.clock = simulator.clock  # record ring and talk times in simulated time
    try:
        # A call paced in real time can be transferred by anyone meanwhile (Slack, the Connect Lambda).
        takes_updates = bool(scripted) or realtime is not None
        with call_updates_to(simulator, chime) if takes_updates else contextlib.nullcontext("unused"):
            transcript = simulator.place_call(
                number,
                caller,
                phones=phones,
                caller=CallerBehaviour(
                    hangs_up_after=caller_hangs_up_after,
                    talks_for=talk_seconds or 60.0,
                    message=voicemail or "",
                    message_ends=voicemail_ends,
                ),
                during=scripted,
                epoch_ms=at_ms,
            )
    finally:
        app.clock = real_clock
    record = DynamoCallLog(dynamodb, table).call_record(transcript.transaction_id)
    return CallResult(transcript, record, attempt, tuple(notes), branch)


@contextlib.contextmanager
def local_environment() -> Iterator[tuple[str, ChimeVoiceEmulator | None]]:
    """Use the local stack the environment points at, or start a fresh one; yields a description
    and the stack's emulator when it runs in this process."""
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("TABLE_NAME"):
        yield f"local stack at {os.environ['AWS_ENDPOINT_URL']}", None
        return
    with LocalStack() as stack, stack.applied():
        yield (
            "a fresh in-process local stack (no forwards yet: start `switchboard dev` to keep state)",
            stack.chime,
        )


def format_record(record: dict[str, Any] | None) -> str:
    if record is None:
        return "call record: none stored"
    # Amazon Connect records count from the dial: an answer's moment is unknown (as bot.alerts says),
    # so the talk time includes the ringing.
    unknown_answer = record.get("backend") == CONNECT_BACKEND or record.get("timing") == "approximate"
    text = f"call record: outcome {record['outcome']}, {record['duration_ms'] / 1000:.1f}s"
    if record.get("talk_ms"):
        text += f", talked {'up to ' if unknown_answer else ''}{record['talk_ms'] / 1000:.1f}s"
    attempts = [
        f"{a['destination']} {ANSWERED_AT_UNKNOWN_TIME}"
        if unknown_answer and a["result"] == AttemptResult.ANSWERED
        else f"{a['destination']} {a['result']} after {a['ring_ms'] / 1000:.1f}s"
        for a in record.get("attempts", [])
    ]
    if attempts:
        text += "; attempts: " + ", ".join(attempts)
    return text


def format_voicemail(record: dict[str, Any] | None) -> str:
    """Where the caller's message went, or why there is none."""
    message = (record or {}).get("voicemail")
    if not isinstance(message, dict):
        return "voicemail: none left (no voicemail on this forward, someone answered, or nothing was said)"
    where = f"s3://{message['bucket']}/{message['key'] or message['prefix']}"
    return f"voicemail: {where} ({message['duration_seconds']}s, ended by {message['ended_by']})"


def format_transfer(attempt: TransferAttempt | None) -> str:
    if attempt is None:
        return ""
    how = "Connect Lambda TransferCall" if attempt.via == "connect" else "UpdateSipMediaApplicationCall"
    if not attempt.request and not attempt.answer:
        return f"transfer ({how}) at {attempt.at_seconds:g}s: not asked (the call had ended)"
    return f"transfer ({how}) at {attempt.at_seconds:g}s: {_answer(attempt.answer)}"


def checked_transfer(policy: DestinationPolicy, target: str, arn: str) -> str:
    """The transfer target as it will be sent; ``ValueError`` says why it is refused.

    The same check as the Slack bot, the Connect Lambda and (its cheap part) the SIP media
    application, configured from the environment like them (a TransferTargetError is a ValueError).
    """
    settings = load_settings()
    rules = TransferRules(
        voice_connector_arn=settings.voice_connector_arn,
        extension_pattern=settings.sip_extension_pattern,
        allowed_countries=settings.allowed_countries,
    )
    return policy.transfer_target(target, rules, arn).target


def run_call(
    *,
    number: str,
    caller: str,
    behaviours: Sequence[str],
    talk_seconds: float,
    ring_seconds: float,
    caller_hangs_up_after: float | None,
    transfer: TransferScript | None = None,
    realtime: bool = False,
    at_ms: int | None = None,
    out: Callable[[str], None] = print,
    voicemail: str | None = None,
    voicemail_ends: VoicemailEnd = "#",
) -> int:
    policy = DestinationPolicy(os.environ.get("DEFAULT_COUNTRY", "US") or "US")
    try:
        ours = policy.our_number(number)
        calling = policy.our_number(caller)
        if transfer is not None:
            transfer = TransferScript(
                transfer.at_seconds,
                checked_transfer(policy, transfer.target, transfer.arn),
                transfer.arn,
                transfer.via,
                transfer.target_behaviour,
            )
    except (DestinationRefusedError, ValueError) as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return 2
    if voicemail is not None and not behaviours:
        behaviours = ["no-answer"] * MAX_DESTINATIONS  # a caller leaving a message reached nobody
    # The SMA's JSON logs and EMF metrics are meant for CloudWatch; here the timeline says it all.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with local_environment() as (where, chime):
        if not _is_ours(ours):
            # The phone network would never hand such a call to switchboard: nothing to simulate.
            print(f"switchboard: {ours} {NOT_OURS}", file=sys.stderr)
            return 2
        when = f" at {utc_time(at_ms / 1000)} (simulated time)" if at_ms is not None else ""
        out(f"Simulated call {calling} → {ours}{when} on {where}\n")
        if realtime:
            out(
                "The call runs in real time: while it is connected, `/forward calls` in "
                "`switchboard slack` lists it and `/forward transfer` hands it over.\n"
            )
        result = simulate_call(
            ours,
            calling,
            behaviours,
            ring_seconds=ring_seconds,
            talk_seconds=talk_seconds,
            caller_hangs_up_after=caller_hangs_up_after,
            transfer=transfer,
            chime=chime,
            realtime=1.0 if realtime else None,
            # In real time the timeline is printed as it happens, not 90 s later in one go.
            on_entry=(lambda entry: out("\n".join(render_entry(entry)))) if realtime else None,
            voicemail=voicemail,
            voicemail_ends=voicemail_ends,
            at_ms=at_ms,
        )
    out(result.transcript.render(timeline=not realtime))
    out(format_record(result.record))
    if voicemail is not None:
        out(format_voicemail(result.record))
    if result.transfer is not None:
        out(format_transfer(result.transfer))
    if result.branch:
        out(f"business hours: {result.branch}")
    for note in result.notes:
        out(f"note: {note}")
    return 0


def _is_ours(number: str) -> bool:
    """Whether the stack the environment points at holds ``number`` (MANAGED_NUMBERS or its
    Chime SDK Voice inventory)."""
    from switchboard.adapters.call_control import ChimeOwnNumbers
    from switchboard.errors import CallControlError

    try:
        return ChimeOwnNumbers(boto3.client("chime-sdk-voice"), load_settings().managed_numbers)(number)
    except CallControlError:
        return True  # cannot tell: the call itself will show what happens


def parse_call_time(text: str) -> int:
    """``--at``: ``2026-12-01 20:00 America/Chicago``, ``2026-12-01T20:00-06:00`` or
    ``2026-12-02T02:00Z`` → epoch ms; a time with neither offset nor zone is UTC."""
    cleaned = text.strip()
    moment, _, zone = cleaned.rpartition(" ")
    tz: tzinfo = UTC
    if moment and ("/" in zone or zone.upper() == "UTC"):
        try:
            tz = ZoneInfo(resolve_timezone(zone))
        except HoursError as error:
            raise ValueError(str(error)) from None
        cleaned = moment
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"--at {text!r} is not a time; use e.g. '2026-12-01 20:00 America/Chicago' or 2026-12-02T02:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return int(parsed.timestamp() * 1000)
