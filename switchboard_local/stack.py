"""The local stack: moto (DynamoDB, S3, Secrets Manager) + the Chime SDK Voice emulator + prompts,
and optionally the Slack side (a Slack Web API stand-in, a Lambda Invoke endpoint and the bot).

Everything the deployed system talks to, on loopback, with no AWS account and no Slack workspace.
Components find it the way they find AWS and Slack: through ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>``, ``SLACK_API_URL`` and the usual variables (``TABLE_NAME``...), which
:meth:`LocalStack.env` returns and ``switchboard dev`` prints as ``export`` lines.

With ``with_slack=True`` the stack also runs ``bot.app.handler`` as Lambda function
:data:`BOT_FUNCTION` behind a local Lambda Invoke endpoint (``AWS_ENDPOINT_URL_LAMBDA``), which is
where Bolt's lazy listeners re-invoke it, exactly as on AWS, and a :class:`StreamPump` that plays
the ``NotifierCallEvents`` event-source mapping: it polls the table's stream and hands call events
to ``bot.notifier.handler`` (as :data:`NOTIFIER_FUNCTION`), which posts the alerts in
``ALERT_CHANNEL``. ``bot.app`` and ``bot.notifier`` bind their settings when they are imported, so
the stack imports them only once its environment is in place — and only one Slack configuration
can exist per process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import moto.dynamodb.models  # noqa: F401 - registers the DynamoDB model classes in model_data
from moto.core.model_instances import model_data
from moto.server import ThreadedMotoServer

from switchboard.dev_state import create_private, read_private, running_stack, state_file, write_private
from switchboard.settings import ConfigurationError
from switchboard_local.aws import dynamodb_transactions
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.connect_emulator import ConnectEmulator, ConnectServer
from switchboard_local.aws.template import create_table
from switchboard_local.environ import patched_environ

if TYPE_CHECKING:
    from switchboard_local.aws.lambda_endpoint import LambdaEndpoint, LambdaHandler
    from switchboard_local.aws.stream_pump import StreamPump
    from switchboard_local.aws.transcribe_standin import TranscribeStandIn
    from switchboard_local.slack.standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
PROMPTS = REPO / "prompts"

# Valid North American numbers in the 555-01xx range reserved for fiction.
DEMO_NUMBERS = ("+12025550100", "+12025550101", "+12025550102", "+12025550103")
# Claimed in the emulated Amazon Connect instance, running its "Main IVR" flow until forwarded.
CONNECT_NUMBERS = ("+13125550190",)
REGION = "us-east-1"
ACCOUNT = "123456789012"

# The local Slack workspace (fictitious IDs, shaped like Slack's).
BOT_FUNCTION = "switchboard-bot"
NOTIFIER_FUNCTION = "switchboard-notifier"
TRANSCRIPTS_FUNCTION = "switchboard-transcripts"
STREAM_POLL_SECONDS = 0.25  # the mapping polls a shard about four times a second
LOCAL_BOT_TOKEN = "xoxb-local"  # noqa: S105 - the stand-in's token, not a secret
LOCAL_USER = "U0LOCALUSER"
LOCAL_OPS_GROUP = "S0LOCALOPS"
# The local workspace's on-call rotation (forwards can name it: /forward … to @sre-oncall) and its
# people, with the phone numbers in their Slack profiles (numbers the PSTN simulator can ring).
LOCAL_ONCALL_GROUP = "S0SREONCALL"
LOCAL_PEOPLE = {
    "U0ALICE": ("alice", "+1 206 555 0144"),
    "U0BOB": ("bob", "+1 312 555 0155"),
    "U0CAROL": ("carol", "+1 415 555 0166"),
    "U0NOPHONE": ("nophone", ""),
}
ALERTS_CHANNEL = "C0ALERTS"
OPERATIONS_CHANNEL = "C0OPERATIONS"  # where the console's slash commands are typed


@dataclass
class LocalStack:
    """Start with :meth:`start` (or ``with LocalStack() as stack``), read :meth:`env`, :meth:`stop`.

    ``with_slack`` adds the Slack side. By default the bot talks to a :class:`SlackStandIn` (a local
    workspace with user :data:`LOCAL_USER`, group :data:`LOCAL_OPS_GROUP` and alert channel
    :data:`ALERTS_CHANNEL`) with a per-run signing secret. With ``real_slack`` it talks to the
    workspace the user's own ``SLACK_BOT_TOKEN`` (and ``SLACK_API_URL``, ``ALERT_CHANNEL``...)
    belongs to — for Socket Mode; those secrets stay in the user's environment and out of
    :meth:`env`. ``forward_admins`` is ``FORWARD_ADMINS``; left ``None`` it is the user's own
    setting, else :data:`LOCAL_USER` with the stand-in.

    The Slack side includes :attr:`pump`, delivering call events to ``bot.notifier.handler`` every
    :data:`STREAM_POLL_SECONDS` on a thread (``pump.drain()`` waits until everything written so far
    is delivered). It needs ``ALERT_CHANNEL``: with ``real_slack`` and no ``ALERT_CHANNEL`` there
    is no pump, and :attr:`pump_note` says why.
    """

    table_name: str = "switchboard-local"
    bucket: str = "switchboard-local-prompts"
    recordings_bucket: str = "switchboard-local-recordings"
    numbers: tuple[str, ...] = DEMO_NUMBERS
    chime: ChimeVoiceEmulator = field(default_factory=ChimeVoiceEmulator)
    connect: ConnectEmulator = field(default_factory=ConnectEmulator)
    connect_numbers: tuple[str, ...] = CONNECT_NUMBERS
    with_slack: bool = False
    real_slack: bool = False
    forward_admins: str | None = None
    sip_media_application_id: str = ""
    voice_connector_id: str = ""
    slack: SlackStandIn | None = None
    lambdas: LambdaEndpoint | None = None
    bot_handler: LambdaHandler | None = None
    pump: StreamPump | None = None
    pump_note: str = ""
    transcribe: TranscribeStandIn | None = None  # voicemail transcripts (scripted words), with Slack
    _moto: ThreadedMotoServer | None = None
    _chime_server: ChimeVoiceServer | None = None
    _connect_server: ConnectServer | None = None
    _env: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> dict[str, str]:
        try:
            return self._start()
        except BaseException:
            self.stop()  # no server left running behind a failed start
            raise

    def _start(self) -> dict[str, str]:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        untrack_dynamodb_models()
        # Transactions roll back what they touched instead of copying the table: O(1) per write.
        dynamodb_transactions.install()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self._chime_server = ChimeVoiceServer(self.chime)
        self._chime_server.start()

        self.voice_connector_id = self.chime.create_voice_connector("switchboard-local-pbx")
        self.sip_media_application_id = self.chime.create_sip_media_application(
            "switchboard-local", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:switchboard-sma-local"
        )
        self.chime.seed_phone_numbers(self.numbers, voice_connector_id=self.voice_connector_id)
        self._connect_server = ConnectServer(self.connect)
        self._connect_server.start()
        home_flow = self.connect.create_flow("Main IVR")
        forwarding_flow = self.connect.create_flow("switchboard forwarding")
        for number in self.connect_numbers:
            self.connect.claim(number, home_flow)

        self._env = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": self._chime_server.url,
            "TABLE_NAME": self.table_name,
            "PROMPT_BUCKET": self.bucket,
            # Where the PSTN Audio simulator puts voicemail recordings (RecordAudio), in moto.
            "RECORDINGS_BUCKET": self.recordings_bucket,
            "SIP_MEDIA_APPLICATION_ID": self.sip_media_application_id,
            "VOICE_CONNECTOR_ID": self.voice_connector_id,
            # The one voice connector SIP transfer targets may use, as the template sets it.
            "VOICE_CONNECTOR_ARN": f"arn:aws:chime:{REGION}:{ACCOUNT}:vc/{self.voice_connector_id}",
            "DEFAULT_COUNTRY": os.environ.get("DEFAULT_COUNTRY", "US"),
            # The emulated Amazon Connect instance (docs/connect.md); prompts straight from the bucket.
            "AWS_ENDPOINT_URL_CONNECT": self._connect_server.url,
            "CONNECT_INSTANCE_ID": self.connect.instance_id,
            "CONNECT_FORWARDING_FLOW_ID": forwarding_flow,
            "CONNECT_HOME_FLOW_ID": home_flow,
            "CONNECT_PROMPT_BASE_URL": f"http://{host}:{port}/{self.bucket}/prompts/",
        }
        with self.applied():
            create_table(boto3.client("dynamodb"), self.table_name)
            self._upload_prompts(boto3.client("s3"))
            boto3.client("s3").create_bucket(Bucket=self.recordings_bucket)
        if self.with_slack:
            self._start_slack()
        return dict(self._env)

    def _start_slack(self) -> None:
        from switchboard_local.aws.lambda_endpoint import LambdaEndpoint
        from switchboard_local.slack.standin import SlackStandIn

        slack_env: dict[str, str] = {}
        admins = self.forward_admins
        if self.real_slack:
            if not os.environ.get("SLACK_BOT_TOKEN"):
                raise ConfigurationError("missing required environment variable(s): SLACK_BOT_TOKEN")
            if not os.environ.get("SLACK_SIGNING_SECRET"):
                # Socket Mode needs no signing secret, but the bot will not start without one: a
                # random one keeps the local HTTP endpoint closed to unsigned requests.
                slack_env["SLACK_SIGNING_SECRET"] = secrets.token_hex(16)
        else:
            self.slack = SlackStandIn(
                tokens=[LOCAL_BOT_TOKEN],
                usergroups={LOCAL_OPS_GROUP: [LOCAL_USER], LOCAL_ONCALL_GROUP: ["U0ALICE", "U0BOB"]},
                group_handles={LOCAL_OPS_GROUP: "local-ops", LOCAL_ONCALL_GROUP: "sre-oncall"},
                phones={user: phone for user, (_, phone) in LOCAL_PEOPLE.items() if phone},
                names={user: name for user, (name, _) in LOCAL_PEOPLE.items()},
                channels={
                    ALERTS_CHANNEL: {"name": "switchboard-alerts"},
                    OPERATIONS_CHANNEL: {"name": "operations"},
                },
            ).start()
            slack_env = {
                "SLACK_BOT_TOKEN": LOCAL_BOT_TOKEN,
                "SLACK_SIGNING_SECRET": secrets.token_hex(16),  # per run: only this stack's clients sign
                "SLACK_API_URL": self.slack.api_url,
                "ALERT_CHANNEL": ALERTS_CHANNEL,
            }
            if admins is None:
                admins = os.environ.get("FORWARD_ADMINS") or LOCAL_USER
        if admins is not None:
            slack_env["FORWARD_ADMINS"] = admins
        self.lambdas = LambdaEndpoint().start()
        slack_env["AWS_ENDPOINT_URL_LAMBDA"] = self.lambdas.url
        slack_env["AWS_ENDPOINT_URL_TRANSCRIBE"] = self._start_transcribe()
        self._env.update(slack_env)
        with self.applied():
            self.bot_handler = _import_bot()
        self.lambdas.register(BOT_FUNCTION, self.bot_handler)
        if self.slack is not None:
            self.slack.event_sink = self._deliver_slack_event
        self._start_pump()

    def _deliver_slack_event(self, body: str) -> None:
        """An Events API delivery from the stand-in to the bot, signed as Slack signs it."""
        from switchboard_local.slack.requests import signed_event

        handler, lambdas = self.bot_handler, self.lambdas
        if handler is None or lambdas is None:
            return
        secret = self._env.get("SLACK_SIGNING_SECRET", "")
        handler(signed_event(body, secret, content_type="application/json"), lambdas.context(BOT_FUNCTION))

    def _start_transcribe(self) -> str:
        """Voicemail transcripts: a Transcribe stand-in whose job-state events invoke
        ``bot.transcripts.handler`` asynchronously, as the template's EventBridge rule does."""
        from switchboard_local.aws.transcribe_standin import TranscribeStandIn

        def deliver(event: dict[str, Any]) -> None:
            # Jobs are started by the notifier only, so the handler is registered by then.
            if self.lambdas is not None:
                self.lambdas.invoke(TRANSCRIPTS_FUNCTION, "Event", json.dumps(event).encode("utf-8"))

        with self.applied():
            self.transcribe = TranscribeStandIn(boto3.client("s3"), deliver).start()
        return self.transcribe.url

    def _start_pump(self) -> None:
        """Alerts: the table's stream → ``bot.notifier.handler``, as the event-source mapping does."""
        from switchboard_local.aws.stream_pump import StreamPump

        lambdas = self.lambdas
        if lambdas is None:
            return
        with self.applied():
            if not os.environ.get("ALERT_CHANNEL"):
                self.pump_note = "no ALERT_CHANNEL: call alerts are not delivered (set ALERT_CHANNEL=C…)"
                return
            notifier = _import_notifier()
            lambdas.register(NOTIFIER_FUNCTION, notifier)
            lambdas.register(TRANSCRIPTS_FUNCTION, _import_transcripts())
            # The pump's clients are built now, from this stack's environment, not the caller's.
            self.pump = StreamPump(
                self.table_name,
                notifier,
                interval=STREAM_POLL_SECONDS,
                streams_client=boto3.client("dynamodbstreams"),
                dynamodb_client=boto3.client("dynamodb"),
                context_factory=lambda: lambdas.context(NOTIFIER_FUNCTION, timeout=120),
            )
            self.pump.start()

    def stop(self) -> None:
        if self.pump is not None:  # first: its notifier talks to Slack and the table
            self.pump.stop()
            self.pump = None
        if self.lambdas is not None:
            with contextlib.suppress(TimeoutError):
                self.lambdas.wait_idle(timeout=10)  # let a lazy listener finish its Slack post
            self.lambdas.stop()
            self.lambdas = None
        if self.slack is not None:
            self.slack.stop()
            self.slack = None
        if self.transcribe is not None:
            self.transcribe.stop()
            self.transcribe = None
        if self._chime_server is not None:
            self._chime_server.stop()
            self._chime_server = None
        if self._connect_server is not None:
            self._connect_server.stop()
            self._connect_server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def env(self) -> dict[str, str]:
        return dict(self._env)

    def applied(self) -> contextlib.AbstractContextManager[None]:
        """Point this process's environment at the stack for the duration of the block."""
        return patched_environ(self._env)

    def _upload_prompts(self, s3: Any) -> None:
        s3.create_bucket(Bucket=self.bucket)
        for path in sorted(PROMPTS.glob("*.wav")):
            s3.put_object(
                Bucket=self.bucket,
                Key=f"prompts/{path.name}",
                Body=path.read_bytes(),
                ContentType="audio/wav",
            )

    def write_state_file(self, path: Path | None = None, bot_url: str | None = None) -> None:
        """Tell this user's other ``switchboard`` commands where the stack is, in their private
        directory (:mod:`switchboard.dev_state`; mode 0600: the file holds the local
        signing secret). ``bot_url`` is the local bot's request URL, if served."""
        state: dict[str, Any] = {"pid": os.getpid(), "env": self._env}
        if bot_url:
            state["bot_url"] = bot_url
        write_private(path or state_file(create_dir=True), json.dumps(state))


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def untrack_dynamodb_models() -> None:
    """Stop moto from keeping every DynamoDB model object it ever created.

    moto's ``BaseModel.__new__`` appends each instance to its class's ``instances_tracked`` (for
    its dashboard) and never drops it, and ``TransactWriteItems`` deep-copies every table it
    touches (items, indexes and the whole stream shard) to roll back a cancelled transaction. So
    each transaction (every DNIS claim, every forward change's guard) kept a full copy of the table
    alive, and the copies grow with the stream: memory grew quadratically with the writes, which is
    what stopped the full reliability run. Copies are now freed when the transaction ends; only
    moto's dashboard (unused here) loses its list of DynamoDB objects. Patched on ``__new__``
    rather than the list, because moto's reset replaces the lists.
    """
    for model in model_data["dynamodb"].values():
        if not isinstance(model, type):
            continue
        current = model.__dict__.get("__new__")
        if not (isinstance(current, staticmethod) and current.__func__ is _untracked_new):
            model.__new__ = staticmethod(_untracked_new)  # type: ignore[assignment]


def _import_bot() -> LambdaHandler:
    """``bot.app.handler``, imported now that the stack's environment is applied (``bot.app`` reads
    it at import).

    A process holds one ``bot.app``: if it was already imported with another configuration, this
    stack's requests would be verified and answered with the wrong secret and Slack, so say so.
    """
    already = "bot.app" in sys.modules
    import bot.app

    bound = bot.app.settings
    if already and (
        bound.slack_signing_secret != os.environ.get("SLACK_SIGNING_SECRET", "")
        or bound.slack_api_url.rstrip("/") != os.environ.get("SLACK_API_URL", "").rstrip("/")
        or bound.table_name != os.environ.get("TABLE_NAME")
    ):
        raise RuntimeError(
            "bot.app was already imported in this process with another configuration; run one "
            "LocalStack(with_slack=True) per process"
        )
    handler: LambdaHandler = bot.app.handler
    return handler


def _import_notifier() -> LambdaHandler:
    """``bot.notifier.handler``, imported now that the stack's environment is applied; like
    :func:`_import_bot`, a module already bound to another stack's table or channel is refused."""
    already = "bot.notifier" in sys.modules
    import bot.notifier

    bound = bot.notifier.settings
    if already and (
        bound.table_name != os.environ.get("TABLE_NAME")
        or bound.alert_channel != os.environ.get("ALERT_CHANNEL")
        or bound.slack_api_url.rstrip("/") != os.environ.get("SLACK_API_URL", "").rstrip("/")
    ):
        raise RuntimeError(
            "bot.notifier was already imported in this process with another configuration; run one "
            "LocalStack(with_slack=True) per process"
        )
    handler: LambdaHandler = bot.notifier.handler
    return handler


def _import_transcripts() -> LambdaHandler:
    """``bot.transcripts.handler``, imported now that the stack's environment is applied."""
    import bot.transcripts

    handler: LambdaHandler = bot.transcripts.handler
    return handler


def prompt_seconds(bucket: str, key: str) -> float:
    """How long a prompt plays: the real WAV's length when it is one of ours, else 3 s."""
    path = PROMPTS / Path(key).name
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (OSError, wave.Error):
        return 3.0


class StackAlreadyRunningError(ConfigurationError):
    """Another ``switchboard dev`` of this user is running: a second one would take over its state."""


def claim_state_file(path: Path) -> None:
    """Make ``path`` this process's state file, or raise :class:`StackAlreadyRunningError`.

    One ``switchboard dev`` per user at a time: the CLI, ``switchboard slack`` and ``switchboard
    call`` find the stack through this one file, so a second stack would silently take it over
    (and stopping either would delete it for both). A file left by a stack that died is replaced.
    """
    placeholder = json.dumps({"pid": os.getpid(), "env": {}})
    for _ in range(2):
        if create_private(path, placeholder):
            return
        other = running_stack(path)
        if other is not None and int(other["pid"]) != os.getpid():
            where = f"; its Slack bot is at {other['bot_url']}" if other.get("bot_url") else ""
            raise StackAlreadyRunningError(
                f"a local stack is already running (switchboard dev, process {other['pid']}{where}). "
                "Use it from this shell (switchboard forward list, switchboard slack, …), or stop it "
                "first (Ctrl-C or quit in its terminal)"
            )
        if other is None:
            with contextlib.suppress(FileNotFoundError):  # a dead stack's file: ours to replace
                path.unlink()
    raise StackAlreadyRunningError(f"could not claim {path}: another switchboard dev is starting")


def release_state_file(path: Path) -> None:
    """Remove the state file if it is still this process's (never another stack's)."""
    try:
        text = read_private(path)
        if text is not None and int(json.loads(text).get("pid", -1)) == os.getpid():
            path.unlink()
    except (OSError, ValueError, TypeError, AttributeError):
        return
