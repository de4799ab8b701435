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
