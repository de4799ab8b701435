"""Slack credentials from the environment or from Secrets Manager (moto server)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bot.config import slack_credentials
from switchboard.settings import ConfigurationError, Settings


@pytest.fixture
def secrets(moto_endpoint: str, dynamodb: Any) -> Any:  # dynamodb: resets moto between tests
    return boto3.client("secretsmanager")


def test_environment_wins(moto_endpoint: str) -> None:
    credentials = slack_credentials(Settings(slack_signing_secret="s", slack_bot_token="xoxb-1"))
    assert (credentials.signing_secret, credentials.bot_token) == ("s", "xoxb-1")


def test_secret_is_read_from_secrets_manager(secrets: Any) -> None:
    arn = secrets.create_secret(
        Name="switchboard/slack", SecretString=json.dumps({"signing_secret": "abc", "bot_token": "xoxb-2"})
    )["ARN"]
    credentials = slack_credentials(Settings(slack_secret_arn=arn))
    assert (credentials.signing_secret, credentials.bot_token) == ("abc", "xoxb-2")


def test_a_secret_without_the_keys_is_a_clear_configuration_error(secrets: Any) -> None:
    arn = secrets.create_secret(Name="switchboard/wrong", SecretString=json.dumps({"token": "x"}))["ARN"]
    with pytest.raises(ConfigurationError, match="must be JSON with signing_secret and bot_token"):
        slack_credentials(Settings(slack_secret_arn=arn))


def test_missing_configuration_names_the_variables() -> None:
    with pytest.raises(ConfigurationError, match=r"SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN.*SLACK_SECRET_ARN"):
        slack_credentials(Settings())


PLACEHOLDERS = {"signing_secret": "generated-by-cloudformation", "bot_token": "replace-with-the-bot-token"}
REAL = {"signing_secret": "the-slack-apps-signing-secret", "bot_token": "xoxb-real"}


def help_request(secret: str) -> dict[str, Any]:
    from switchboard_local.slack.requests import slash_command_event

    return slash_command_event("/forward", "help", secret=secret)


def bot_on(secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # Importing bot.app builds the Lambda's own bot from the environment: give it one.
    for name, value in {"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-0"}.items():
        monkeypatch.setenv(name, value)
    from bot.app import create_app

    return create_app(Settings(table_name="switchboard-test", slack_secret_arn=secret_arn))


def test_a_bot_started_on_the_placeholders_reads_the_secret_again_once_it_is_stored(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchboard_local.aws.lambda_endpoint import LocalLambdaContext

    arn = secrets.create_secret(Name="switchboard/placeholder", SecretString=json.dumps(PLACEHOLDERS))["ARN"]
    bot = bot_on(arn, monkeypatch)
    context = LocalLambdaContext("switchboard-BotFunction")
    assert bot.handler(help_request(REAL["signing_secret"]), context)["statusCode"] == 401

    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(REAL))
    monkeypatch.setattr(bot, "placeholder_checked_at", float("-inf"))  # as if 10 s had passed

    assert bot.handler(help_request(REAL["signing_secret"]), context)["statusCode"] == 200
    assert bot.credentials.bot_token == REAL["bot_token"]
    # A forged request is still refused.
    assert bot.handler(help_request("forged"), context)["statusCode"] == 401


def test_a_bot_with_real_credentials_never_reads_the_secret_again_for_a_forged_request(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchboard_local.aws.lambda_endpoint import LocalLambdaContext

    arn = secrets.create_secret(Name="switchboard/real", SecretString=json.dumps(REAL))["ARN"]
    bot = bot_on(arn, monkeypatch)
    reads: list[bool] = []
    monkeypatch.setattr("bot.app.slack_credentials", lambda *_, **kw: reads.append(True))

    response = bot.handler(help_request("forged"), LocalLambdaContext("switchboard-BotFunction"))

    assert response["statusCode"] == 401
    assert reads == []
