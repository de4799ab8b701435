"""Slack credentials: from the environment, or from one Secrets Manager secret read once per container."""

from __future__ import annotations

import json
from dataclasses import dataclass

from switchboard.settings import ConfigurationError, Settings

# What the secret the stack creates holds until the Slack app's values are stored (template.yaml
# SlackSecret; its signing_secret is random, so the token is what tells a placeholder).
PLACEHOLDER_BOT_TOKEN = "replace-with-the-bot-token"  # noqa: S105 - a marker, not a credential


@dataclass(frozen=True, slots=True)
class SlackCredentials:
    signing_secret: str
    bot_token: str

    @property
    def placeholder(self) -> bool:
        """Still the stack's placeholders: the Slack app's values were not stored yet."""
        return self.bot_token == PLACEHOLDER_BOT_TOKEN


def slack_credentials(settings: Settings, *, fresh: bool = False) -> SlackCredentials:
    """``SLACK_SIGNING_SECRET`` + ``SLACK_BOT_TOKEN``, else the JSON secret at ``SLACK_SECRET_ARN``
    (keys ``signing_secret`` and ``bot_token``), fetched with Powertools Parameters (cached for
    5 minutes; ``fresh`` reads it again now)."""
    if settings.slack_signing_secret and settings.slack_bot_token:
        return SlackCredentials(settings.slack_signing_secret, settings.slack_bot_token)
    if not settings.slack_secret_arn:
        missing = [
            name
            for name, value in (
                ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            )
            if not value
        ]
        raise ConfigurationError(
            f"missing required environment variable(s): {', '.join(missing)} (or set SLACK_SECRET_ARN to a "
            "Secrets Manager secret holding signing_secret and bot_token)"
        )
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(settings.slack_secret_arn, max_age=300, force_fetch=fresh)
    try:
        secret = json.loads(raw if isinstance(raw, str) else raw.decode())
        return SlackCredentials(
            settings.slack_signing_secret or str(secret["signing_secret"]),
            settings.slack_bot_token or str(secret["bot_token"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"the secret {settings.slack_secret_arn} must be JSON with signing_secret and bot_token"
        ) from error
