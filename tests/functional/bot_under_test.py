"""bot.app.handler as the functional tests drive it: signed Slack requests in, the local Slack
stand-in for Slack's Web API, a local Lambda Invoke endpoint for lazy listeners, the table on moto
and routing on the Chime SDK Voice emulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from switchboard.settings import load
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.lambda_endpoint import LambdaEndpoint
from switchboard_local.environ import patched_environ
from switchboard_local.slack.requests import signed_event, slash_command_event
from switchboard_local.slack.standin import SlackStandIn
from tests.functional.conftest import VOICE_CONNECTOR_ARN

ADMIN = "U0ADMIN"
ALERTS = "C0ALERTS"
OURS, OTHER = "+12025550100", "+12025550101"  # the emulator's inventory, both on the voice connector
FUNCTION = "switchboard-bot"


@dataclass
class BotUnderTest:
    module: Any  # a bot.app.BotApp
    slack: SlackStandIn
    lambdas: LambdaEndpoint
    chime: ChimeVoiceEmulator
    vc: str
    sma: str
    secret: str
    settle_seconds: float

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.module.handler(event, self.lambdas.context(FUNCTION))
        return response

    def command(self, text: str, user: str = ADMIN, name: str = "r") -> dict[str, Any]:
        return self.send(
            slash_command_event(
                "/forward",
                text,
                user,
                secret=self.secret,
                response_url=self.slack.response_url(name),
                channel_id="C0OPS",
            )
        )

    def deliver(self, body: str, secret: str | None = None) -> dict[str, Any]:
        """An Events API delivery (JSON body), signed with the bot's secret unless told otherwise."""
        return self.send(signed_event(body, secret or self.secret, content_type="application/json"))

    def settle(self) -> None:
        self.lambdas.wait_idle(timeout=self.settle_seconds)  # raises TimeoutError if lazy listeners hang
        failed = [i for i in self.lambdas.invocations if i.failed]
        assert not failed, f"lazy invocation failed: {failed[0]}"

    def responded(self, name: str = "r") -> list[dict[str, Any]]:
        return [call.args for call in self.slack.responses_to(name)]

    def replies(self, name: str = "r") -> list[str]:
        """The texts of what was posted to the response URL ``name``."""
        return [str(args.get("text", "")) for args in self.responded(name)]


@contextmanager
def bot_under_test(
    slack: SlackStandIn, *, secret: str, token: str, admins: str, settle_seconds: float
) -> Iterator[BotUnderTest]:
    """The bot on ``slack`` (built with ``token``) and a fresh emulator holding OURS and OTHER, with
    the environment pointed at both for as long as it runs."""
    chime = ChimeVoiceEmulator()
    vc = chime.create_voice_connector("pbx")
    sma = chime.create_sip_media_application(
        "switchboard", "arn:aws:lambda:us-east-1:123456789012:function:sma"
    )
    chime.seed_phone_numbers([OURS, OTHER], voice_connector_id=vc)
    lambdas = LambdaEndpoint()
    with slack, ChimeVoiceServer(chime) as chime_server, lambdas:
        env = {
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_BOT_TOKEN": token,
            "SLACK_API_URL": slack.api_url,
            "ALERT_CHANNEL": ALERTS,
            "FORWARD_ADMINS": admins,
            "SIP_MEDIA_APPLICATION_ID": sma,
            "VOICE_CONNECTOR_ID": vc,
            "VOICE_CONNECTOR_ARN": VOICE_CONNECTOR_ARN,  # the SMA's too (conftest)
            "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": chime_server.url,
            "AWS_ENDPOINT_URL_LAMBDA": lambdas.url,
        }
        with patched_environ(env):
            from bot.app import create_app

            bot_app = create_app(load(required=("TABLE_NAME",)))
            bot_app.forwarding_service()  # its clients are built on this environment, not a later one
            lambdas.register(FUNCTION, bot_app.handler)
            yield BotUnderTest(bot_app, slack, lambdas, chime, vc, sma, secret, settle_seconds)
