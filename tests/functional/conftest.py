"""Functional fixtures: a moto server (real HTTP, real boto3 code paths) and the template's table.

The SMA module builds its DynamoDB client at import from the environment, exactly as in Lambda,
so the environment is pointed at the moto server before ``sma.app`` is first imported.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from moto.server import ThreadedMotoServer

from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.template import create_table
from switchboard_local.environ import patched_environ

TABLE = "switchboard-test"
BUCKET = "switchboard-test-prompts"
RECORDINGS = "switchboard-test-recordings"
VOICE_CONNECTOR_ARN = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnopqrstuv"

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TABLE_NAME": TABLE,
    "PROMPT_BUCKET": BUCKET,
    "RECORDINGS_BUCKET": RECORDINGS,
    # The one voice connector SIP transfers may use (bot, Connect Lambda and SMA check it).
    "VOICE_CONNECTOR_ARN": VOICE_CONNECTOR_ARN,
    "POWERTOOLS_METRICS_NAMESPACE": "SwitchboardTest",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    assert "sma.app" not in sys.modules, "sma.app was imported before the test environment was set"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto has no Chime SDK Voice: the SIP media application asks the emulator (empty inventory)
    # whether a transfer target is one of our numbers.
    chime = ChimeVoiceServer(ChimeVoiceEmulator(region="us-east-1"))
    chime.start()
    env = _ENV | {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": chime.url}
    try:
        with patched_environ(env):
            yield endpoint
    finally:
        chime.stop()
        server.stop()


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    """A DynamoDB client on a freshly reset moto with the template's table."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    client = botocore.session.get_session().create_client("dynamodb")
    create_table(client, TABLE)
    return client


@pytest.fixture
def sma_app(dynamodb: Any) -> Any:
    import sma.app

    return sma.app
