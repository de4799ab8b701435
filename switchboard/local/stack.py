"""The local stack: moto (DynamoDB, S3, Secrets Manager) + the Chime SDK Voice emulator + prompts.

Everything the deployed system talks to, on loopback, with no AWS account. Components find it the
way they find AWS: through ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_CHIME_SDK_VOICE`` and the
usual variables (``TABLE_NAME``...), which :meth:`LocalStack.env` returns and ``switchboard dev``
prints as ``export`` lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from switchboard.local.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard.local.template import create_table

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "prompts"
STATE_FILE = Path(tempfile.gettempdir()) / f"switchboard-dev-{os.getuid()}.json"

# Valid North American numbers in the 555-01xx range reserved for fiction.
DEMO_NUMBERS = ("+12025550100", "+12025550101", "+12025550102", "+12025550103")
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class LocalStack:
    """Start with :meth:`start` (or ``with LocalStack() as stack``), read :meth:`env`, :meth:`stop`."""

    table_name: str = "switchboard-local"
    bucket: str = "switchboard-local-prompts"
    numbers: tuple[str, ...] = DEMO_NUMBERS
    chime: ChimeVoiceEmulator = field(default_factory=ChimeVoiceEmulator)
    sip_media_application_id: str = ""
    voice_connector_id: str = ""
    _moto: ThreadedMotoServer | None = None
    _chime_server: ChimeVoiceServer | None = None
    _env: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> dict[str, str]:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
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

        self._env = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": self._chime_server.url,
            "TABLE_NAME": self.table_name,
            "PROMPT_BUCKET": self.bucket,
            "SIP_MEDIA_APPLICATION_ID": self.sip_media_application_id,
            "VOICE_CONNECTOR_ID": self.voice_connector_id,
            "DEFAULT_COUNTRY": os.environ.get("DEFAULT_COUNTRY", "US"),
        }
        with self.applied():
            create_table(boto3.client("dynamodb"), self.table_name)
            self._upload_prompts(boto3.client("s3"))
        return dict(self._env)

    def stop(self) -> None:
        if self._chime_server is not None:
            self._chime_server.stop()
            self._chime_server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def env(self) -> dict[str, str]:
        return dict(self._env)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Point this process's environment at the stack for the duration of the block."""
        saved = {key: os.environ.get(key) for key in self._env}
        os.environ.update(self._env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _upload_prompts(self, s3: Any) -> None:
        s3.create_bucket(Bucket=self.bucket)
        for path in sorted(PROMPTS.glob("*.wav")):
            s3.put_object(
                Bucket=self.bucket,
                Key=f"prompts/{path.name}",
                Body=path.read_bytes(),
                ContentType="audio/wav",
            )

    def write_state_file(self, path: Path = STATE_FILE) -> None:
        path.write_text(json.dumps({"pid": os.getpid(), "env": self._env}))
        path.chmod(0o600)


def prompt_seconds(bucket: str, key: str) -> float:
    """How long a prompt plays: the real WAV's length when it is one of ours, else 3 s."""
    path = PROMPTS / Path(key).name
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (OSError, wave.Error):
        return 3.0


def running_stack_env(path: Path = STATE_FILE) -> dict[str, str] | None:
    """The environment of a ``switchboard dev`` still running on this machine, if any."""
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    env: dict[str, str] = state["env"]
    return env
