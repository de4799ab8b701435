"""switchboard.settings: environment variables to validated Settings."""

from __future__ import annotations

import dataclasses

import pytest

from switchboard.settings import ENV_NAMES, ConfigurationError, Settings, load


def test_empty_environment_gives_the_defaults() -> None:
    assert load(environ={}) == Settings()
    assert Settings().prompt_prefix == "prompts/"
    assert Settings().default_country == "US"
    assert Settings().allowed_countries == ("US",)


def test_every_field_is_read_from_its_variable() -> None:
    environ = {
        "TABLE_NAME": "calls",
        "PROMPT_BUCKET": "bucket",
        "PROMPT_PREFIX": "audio/",
        "SIP_MEDIA_APPLICATION_ID": "sma-1",
        "VOICE_CONNECTOR_ID": "vc-1",
        "ALERT_CHANNEL": "C123",
        "FORWARD_ADMINS": "U1,U2",
        "DEFAULT_COUNTRY": "GB",
        "ALLOWED_COUNTRIES": "GB,IE",
        "MANAGED_NUMBERS": "+12025550100",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_BOT_TOKEN": "xoxb-token",
        "SLACK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack",
        "SLACK_API_URL": "http://localhost:3000/api/",
    }
    settings = load(environ=environ)
    assert settings == Settings(
        table_name="calls",
        prompt_bucket="bucket",
        prompt_prefix="audio/",
        sip_media_application_id="sma-1",
        voice_connector_id="vc-1",
        alert_channel="C123",
        forward_admins=("U1", "U2"),
        default_country="GB",
        allowed_countries=("GB", "IE"),
        managed_numbers=("+12025550100",),
        slack_signing_secret="signing",
        slack_bot_token="xoxb-token",
        slack_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:slack",
        slack_api_url="http://localhost:3000/api/",
    )


def test_env_names_cover_every_settings_field() -> None:
    assert set(ENV_NAMES) == {f.name for f in dataclasses.fields(Settings)}
    assert all(name == field.upper() for field, name in ENV_NAMES.items())


def test_missing_required_variables_are_all_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(required=("TABLE_NAME", "PROMPT_BUCKET", "ALERT_CHANNEL"), environ={"ALERT_CHANNEL": "C1"})
    message = str(caught.value)
    assert "TABLE_NAME" in message
    assert "PROMPT_BUCKET" in message
    assert "ALERT_CHANNEL" not in message


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_blank_required_variable_counts_as_missing(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TABLE_NAME"):
        load(required=("TABLE_NAME",), environ={"TABLE_NAME": value})


def test_required_and_present_loads() -> None:
    settings = load(required=("TABLE_NAME",), environ={"TABLE_NAME": "  calls  "})
    assert settings.table_name == "calls"


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "from-os-environ")
    monkeypatch.delenv("DEFAULT_COUNTRY", raising=False)
    monkeypatch.delenv("ALLOWED_COUNTRIES", raising=False)
    assert load().table_name == "from-os-environ"


@pytest.mark.parametrize(
    ("environ", "default", "allowed"),
    [
        ({}, "US", ("US",)),
        ({"DEFAULT_COUNTRY": "gb"}, "GB", ("GB",)),  # allowed defaults to the default country
        ({"DEFAULT_COUNTRY": " ie "}, "IE", ("IE",)),
        ({"ALLOWED_COUNTRIES": "us, ca ,,"}, "US", ("US", "CA")),
        ({"DEFAULT_COUNTRY": "GB", "ALLOWED_COUNTRIES": "gb,ie"}, "GB", ("GB", "IE")),
        ({"ALLOWED_COUNTRIES": " , "}, "US", ("US",)),
    ],
)
def test_countries_are_upper_cased_and_default_sensibly(
    environ: dict[str, str], default: str, allowed: tuple[str, ...]
) -> None:
    settings = load(environ=environ)
    assert settings.default_country == default
    assert settings.allowed_countries == allowed


@pytest.mark.parametrize(
    ("environ", "bad"),
    [
        ({"DEFAULT_COUNTRY": "USA"}, "'USA'"),
        ({"DEFAULT_COUNTRY": "1"}, "'1'"),
        ({"ALLOWED_COUNTRIES": "US,United Kingdom"}, "'UNITED KINGDOM'"),
        ({"ALLOWED_COUNTRIES": "US,G"}, "'G'"),
        ({"ALLOWED_COUNTRIES": "U5"}, "'U5'"),
    ],
)
def test_countries_must_be_two_letter_codes(environ: dict[str, str], bad: str) -> None:
    with pytest.raises(ConfigurationError, match="ISO 3166") as caught:
        load(environ=environ)
    assert bad in str(caught.value)


@pytest.mark.parametrize(
    ("value", "prefix"),
    [("", "prompts/"), ("  ", "prompts/"), ("audio", "audio/"), ("audio/", "audio/"), ("a/b", "a/b/")],
)
def test_prompt_prefix_always_ends_with_a_slash(value: str, prefix: str) -> None:
    assert load(environ={"PROMPT_PREFIX": value}).prompt_prefix == prefix


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", ""),
        ("http://localhost:3000/api", "http://localhost:3000/api/"),
        ("https://slack.com/api/", "https://slack.com/api/"),
    ],
)
def test_slack_api_url_gets_a_trailing_slash_when_set(value: str, url: str) -> None:
    assert load(environ={"SLACK_API_URL": value}).slack_api_url == url


@pytest.mark.parametrize(
    ("value", "items"),
    [("", ()), ("U1", ("U1",)), (" U1 , U2 ,", ("U1", "U2")), (",,", ())],
)
def test_lists_are_comma_separated_and_trimmed(value: str, items: tuple[str, ...]) -> None:
    settings = load(environ={"FORWARD_ADMINS": value, "MANAGED_NUMBERS": value})
    assert settings.forward_admins == items
    assert settings.managed_numbers == items


def test_the_dnis_stale_bound_defaults_to_15_minutes_and_is_read_from_its_variable() -> None:
    assert load(environ={}).dnis_claim_stale_seconds == 900
    assert load(environ={"DNIS_CLAIM_STALE_SECONDS": " 3600 "}).dnis_claim_stale_seconds == 3600


@pytest.mark.parametrize("value", ["soon", "59", "0", "-900", "86401", "1e3", "²"])
def test_a_dnis_stale_bound_outside_one_minute_to_one_day_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="DNIS_CLAIM_STALE_SECONDS"):
        load(environ={"DNIS_CLAIM_STALE_SECONDS": value})


def test_the_sip_extension_pattern_defaults_to_two_to_six_digits_and_must_compile() -> None:
    assert load(environ={}).sip_extension_pattern == "^[0-9]{2,6}$"
    assert load(environ={"SIP_EXTENSION_PATTERN": "^1[0-9]{3}$"}).sip_extension_pattern == "^1[0-9]{3}$"
    with pytest.raises(ConfigurationError, match="SIP_EXTENSION_PATTERN"):
        load(environ={"SIP_EXTENSION_PATTERN": "^[0-9"})


def test_the_readme_documents_every_environment_variable() -> None:
    from pathlib import Path

    from switchboard.settings import ENV_NAMES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    configuration = readme.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in ENV_NAMES.values() if f"`{name}`" not in configuration]
    assert missing == []
