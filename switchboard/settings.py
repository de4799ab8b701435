"""Configuration from the environment, read once per process and validated.

Each Lambda needs a different subset, so :func:`load` takes the names a component requires and
fails with one :class:`ConfigurationError` naming every missing variable, rather than a
``KeyError`` deep inside the first call that happens to need it.

AWS endpoints are deliberately *not* here: boto3/botocore read ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` themselves, which is how tests and the local stack redirect them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from switchboard.domain.defaults import DEFAULT_SIP_EXTENSION_PATTERN, DEFAULT_STALE_AFTER_SECONDS

_COUNTRY = re.compile(r"^[A-Z]{2}$")


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str = ""
    prompt_bucket: str = ""
    prompt_prefix: str = "prompts/"
    # Where PSTN Audio puts voicemail recordings; empty: voicemail rules play the failure prompt.
    recordings_bucket: str = ""
    sip_media_application_id: str = ""
    voice_connector_id: str = ""
    voice_connector_arn: str = ""  # where SIP transfer targets (sip:<user>) are reached
    alert_channel: str = ""
    forward_admins: tuple[str, ...] = ()
    default_country: str = "US"
    allowed_countries: tuple[str, ...] = ("US",)
    managed_numbers: tuple[str, ...] = ()
    slack_signing_secret: str = ""
    slack_bot_token: str = ""
    slack_secret_arn: str = ""
    slack_api_url: str = ""
    history_retention_days: int = 400  # rule history kept this long (then DynamoDB TTL deletes it)
    # A DNIS claim older than this may be taken over by another call (docs/transfer.md).
    dnis_claim_stale_seconds: int = DEFAULT_STALE_AFTER_SECONDS
    # Digit-only SIP users matching this are PBX extensions; other digits are phone numbers.
    sip_extension_pattern: str = DEFAULT_SIP_EXTENSION_PATTERN
    # Amazon Connect backend (docs/connect.md); off while connect_instance_id is empty.
    connect_instance_id: str = ""
    connect_forwarding_flow_id: str = ""
    connect_home_flow_id: str = ""  # the flow a number goes back to when none was remembered
    connect_prompt_base_url: str = ""  # where the u-law prompts are, "<url><prompt>.wav"
    # Voicemail transcripts (docs/alerts.md): Amazon Transcribe's language code; "" = off.
    transcribe_language: str = "en-US"
    transcription_job_prefix: str = "switchboard-vm-"  # the stack's jobs; its EventBridge rule matches it


# A stale bound below a minute would take pairs from calls still being answered in Connect; above a
# day a leaked pair would stay out of the pool for longer than anyone would wait.
STALE_SECONDS_RANGE = (60, 86_400)

# Settings field → environment variable, for the "missing X" messages.
ENV_NAMES: Mapping[str, str] = {
    "table_name": "TABLE_NAME",
    "prompt_bucket": "PROMPT_BUCKET",
    "prompt_prefix": "PROMPT_PREFIX",
    "recordings_bucket": "RECORDINGS_BUCKET",
    "sip_media_application_id": "SIP_MEDIA_APPLICATION_ID",
    "voice_connector_id": "VOICE_CONNECTOR_ID",
    "voice_connector_arn": "VOICE_CONNECTOR_ARN",
    "alert_channel": "ALERT_CHANNEL",
    "forward_admins": "FORWARD_ADMINS",
    "default_country": "DEFAULT_COUNTRY",
    "allowed_countries": "ALLOWED_COUNTRIES",
    "managed_numbers": "MANAGED_NUMBERS",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_secret_arn": "SLACK_SECRET_ARN",
    "slack_api_url": "SLACK_API_URL",
    "history_retention_days": "HISTORY_RETENTION_DAYS",
    "dnis_claim_stale_seconds": "DNIS_CLAIM_STALE_SECONDS",
    "sip_extension_pattern": "SIP_EXTENSION_PATTERN",
    "connect_instance_id": "CONNECT_INSTANCE_ID",
    "connect_forwarding_flow_id": "CONNECT_FORWARDING_FLOW_ID",
    "connect_home_flow_id": "CONNECT_HOME_FLOW_ID",
    "connect_prompt_base_url": "CONNECT_PROMPT_BASE_URL",
    "transcribe_language": "TRANSCRIBE_LANGUAGE",
    "transcription_job_prefix": "TRANSCRIPTION_JOB_PREFIX",
}


def load(required: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default ``os.environ``).

    ``required`` lists environment variable names that must be present and non-empty.
    """
    env = os.environ if environ is None else environ
    missing = [name for name in required if not env.get(name, "").strip()]
    if missing:
        raise ConfigurationError(f"missing required environment variable(s): {', '.join(missing)}")

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip() or default

    default_country = get("DEFAULT_COUNTRY", "US").upper()
    allowed = tuple(c.upper() for c in _split(get("ALLOWED_COUNTRIES"))) or (default_country,)
    for country in (default_country, *allowed):
        if not _COUNTRY.match(country):
            raise ConfigurationError(
                f"DEFAULT_COUNTRY / ALLOWED_COUNTRIES must be ISO 3166 alpha-2 codes like US or GB, "
                f"not {country!r}"
            )
    retention = get("HISTORY_RETENTION_DAYS", "400")
    if not retention.isdecimal() or not retention.isascii() or int(retention) < 1:
        raise ConfigurationError(
            f"HISTORY_RETENTION_DAYS must be a whole number of days (1 or more), not {retention!r}"
        )
    prefix = get("PROMPT_PREFIX", "prompts/")
    slack_api_url = get("SLACK_API_URL")
    if slack_api_url and not slack_api_url.endswith("/"):
        slack_api_url += "/"
    return Settings(
        dnis_claim_stale_seconds=_stale_seconds(get("DNIS_CLAIM_STALE_SECONDS")),
        sip_extension_pattern=_pattern(get("SIP_EXTENSION_PATTERN", DEFAULT_SIP_EXTENSION_PATTERN)),
        table_name=get("TABLE_NAME"),
        prompt_bucket=get("PROMPT_BUCKET"),
        prompt_prefix=prefix if prefix.endswith("/") else prefix + "/",
        recordings_bucket=get("RECORDINGS_BUCKET"),
        sip_media_application_id=get("SIP_MEDIA_APPLICATION_ID"),
        voice_connector_id=get("VOICE_CONNECTOR_ID"),
        voice_connector_arn=get("VOICE_CONNECTOR_ARN"),
        alert_channel=get("ALERT_CHANNEL"),
        forward_admins=_split(get("FORWARD_ADMINS")),
        default_country=default_country,
        allowed_countries=allowed,
        managed_numbers=_split(get("MANAGED_NUMBERS")),
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_bot_token=get("SLACK_BOT_TOKEN"),
        slack_secret_arn=get("SLACK_SECRET_ARN"),
        slack_api_url=slack_api_url,
        history_retention_days=int(retention),
        connect_instance_id=get("CONNECT_INSTANCE_ID"),
        connect_forwarding_flow_id=get("CONNECT_FORWARDING_FLOW_ID"),
        connect_home_flow_id=get("CONNECT_HOME_FLOW_ID"),
        connect_prompt_base_url=_base_url(get("CONNECT_PROMPT_BASE_URL")),
        transcribe_language=_language(get("TRANSCRIBE_LANGUAGE", "en-US")),
        transcription_job_prefix=_job_prefix(get("TRANSCRIPTION_JOB_PREFIX", "switchboard-vm-")),
    )


_LANGUAGE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
_JOB_PREFIX = re.compile(r"^[0-9A-Za-z._-]{1,150}$")


def _language(text: str) -> str:
    """``TRANSCRIBE_LANGUAGE``: a Transcribe language code (``en-US``), or ``off``."""
    if text.lower() in ("off", "none", "disabled"):
        return ""
    if not _LANGUAGE.match(text):
        raise ConfigurationError(
            f"TRANSCRIBE_LANGUAGE must be an Amazon Transcribe language code like en-US, or off, not {text!r}"
        )
    return text


def _job_prefix(text: str) -> str:
    if not _JOB_PREFIX.match(text):
        raise ConfigurationError(
            "TRANSCRIPTION_JOB_PREFIX may hold only letters, digits, '.', '_' and '-' (at most 150), "
            f"not {text!r}"
        )
    return text


def _stale_seconds(text: str) -> int:
    if not text:
        return DEFAULT_STALE_AFTER_SECONDS
    low, high = STALE_SECONDS_RANGE
    if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
        raise ConfigurationError(
            f"DNIS_CLAIM_STALE_SECONDS must be a whole number of seconds from {low} to {high}, not {text!r}"
        )
    return int(text)


def _pattern(text: str) -> str:
    try:
        re.compile(text)
    except re.error as error:
        raise ConfigurationError(f"SIP_EXTENSION_PATTERN is not a regular expression: {error}") from None
    return text


def _base_url(text: str) -> str:
    if text and not text.startswith(("https://", "http://")):
        raise ConfigurationError(f"CONNECT_PROMPT_BASE_URL must be an https:// URL, not {text!r}")
    return text if not text or text.endswith("/") else text + "/"
