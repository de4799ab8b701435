"""The ``switchboard`` command, run as a user runs it (a subprocess) against a local stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from switchboard.wording import NO_FORWARDS
from switchboard_local.stack import LocalStack
from tests.helpers import run_switchboard

ROOT = Path(__file__).resolve().parents[2]
OURS = "+12025550100"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(table_name="switchboard-cli-test") as local:
        yield local


run = run_switchboard


def test_set_list_call_remove(stack: LocalStack) -> None:
    result = run(
        stack, "forward", "set", "(202) 555-0100", "206-555-0111", "+13125550122", "--greeting", "once"
    )
    assert result.returncode == 0, result.stderr
    assert f"Now forwarding {OURS} → +12065550111, +13125550122 (greeting once" in result.stdout
    assert "routing: created SIP rule" in result.stdout

    again = run(stack, "forward", "set", OURS, "+12065550111", "+13125550122", "--greeting", "once")
    assert again.returncode == 0
    assert "nothing changed" in again.stdout

    listed = run(stack, "forward", "list")
    assert listed.returncode == 0
    assert OURS in listed.stdout
    assert "+12065550111, +13125550122" in listed.stdout

    call = run(stack, "call", OURS, "--from", "+13035550123", "--no-answer", "--answer")
    assert call.returncode == 0, call.stderr
    assert "NEW_INBOUND_CALL +13035550123 → +12025550100" in call.stdout
    assert "PlayAudio greeting.wav" in call.stdout
    assert "outcome: bridged to +13125550122" in call.stdout
    assert "call record: outcome bridged" in call.stdout
    assert '"level"' not in call.stdout  # the SMA's JSON logs stay out of the timeline

    removed = run(stack, "forward", "off", "202 555 0100")
    assert removed.returncode == 0
    assert "calls go to the phone system again" in removed.stdout
    assert NO_FORWARDS in run(stack, "forward", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("forward", "set", OURS, "911"), "emergency number"),
        (("forward", "set", OURS, "+19005550100"), "premium-rate"),
        (("forward", "set", "+12025550199", "+12065550111"), "not one of our phone numbers"),
        (("forward", "set", OURS, "+12065550111", "--expires", "a while"), "not a duration"),
        (("forward", "set", OURS, *[f"+1206555011{i}" for i in range(6)]), "at most 5 destinations"),
    ],
)
def test_refused_input_exits_2_with_the_reason(
    stack: LocalStack, args: tuple[str, ...], message: str
) -> None:
    result = run(stack, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_configuration_is_named(stack: LocalStack) -> None:
    result = run(stack, "forward", "set", OURS, "+12065550111", SIP_MEDIA_APPLICATION_ID="")
    assert result.returncode == 2
    assert "SIP_MEDIA_APPLICATION_ID" in result.stderr


def test_a_failed_routing_step_exits_1_and_leaves_nothing_behind(stack: LocalStack) -> None:
    result = run(
        stack, "forward", "set", OURS, "+12065550111", SIP_MEDIA_APPLICATION_ID="no-such-application"
    )
    assert result.returncode == 1
    assert "The forward was not changed" in result.stderr
    assert "CreateSipRule failed" in result.stderr
    assert NO_FORWARDS in run(stack, "forward", "list").stdout
    phone = stack.chime.snapshot()["phone_numbers"][OURS]
    assert phone["ProductType"] == "VoiceConnector"
    assert [a["Value"] for a in phone["Associations"]] == [stack.voice_connector_id]


def test_an_unknown_option_shows_the_sub_commands_usage(stack: LocalStack) -> None:
    result = run(stack, "forward", "set", OURS, "+12065550111", "--greting", "once")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: switchboard forward set")
    assert "unrecognized arguments: --greting once" in result.stderr


def test_call_help_reads_as_sentences(stack: LocalStack) -> None:
    text = run(stack, "call", "--help").stdout
    assert "the next destination does not answer" in text
    assert "the next destination cannot be reached" in text
    assert "--from CALLER" in text
    assert "(default +13035550123)" in text


def test_a_negative_expiry_is_explained(stack: LocalStack) -> None:
    result = run(stack, "forward", "set", OURS, "+12065550111", "--expires", "-1h")
    assert result.returncode == 2
    assert "'-1h' is negative: a forward expires 1 minute to 30 days from now" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_closed_pipe_after_a_change_prints_no_traceback(stack: LocalStack) -> None:
    import subprocess
    import sys

    environment = {k: v for k, v in __import__("os").environ.items() if not k.startswith("AWS_")}
    environment.update(stack.env())
    environment["PYTHONPATH"] = str(ROOT)
    # `switchboard forward set … | true`: the reader is gone before the result is printed.
    reader_gone = subprocess.run(
        f"{sys.executable} -m switchboard.cli forward set {OURS} +12065550111 +13125550122 | true",
        shell=True,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in reader_gone.stderr
    assert "BrokenPipeError" not in reader_gone.stderr
    listed = run(stack, "forward", "list")
    assert "+12065550111, +13125550122" in listed.stdout  # the change itself was made
    assert run(stack, "forward", "remove", OURS).returncode == 0


def test_a_call_that_meets_an_empty_stack_says_why(stack: LocalStack) -> None:
    no_forward = run(stack, "call", "+12025550101")
    assert no_forward.returncode == 0
    assert 'note: +12025550101 has no forward, so the caller hears "not in service"' in no_forward.stdout

    assert run(stack, "forward", "set", "+12025550102", "connect").returncode == 0
    try:
        no_pair = run(stack, "call", "+12025550102")
        assert "the DNIS pool has no pair to carry the call: add one first" in no_pair.stdout
    finally:
        run(stack, "forward", "remove", "+12025550102")


def test_a_voicemail_forward_and_a_caller_who_leaves_a_message(stack: LocalStack) -> None:
    number = "+12025550103"
    result = run(
        stack, "forward", "set", number, "+12065550111", "--failure", "voicemail", "--voicemail-max", "60"
    )
    assert result.returncode == 0, result.stderr
    assert "then voicemail (up to 60 s)" in result.stdout

    call = run(stack, "call", number, "--voicemail", "Hi, the backup job failed, call me back")

    assert call.returncode == 0, call.stderr
    assert "RecordAudio LEG-A (up to 60s, stops on # or 5s silence)" in call.stdout
    assert 'the caller says "Hi, the backup job failed, call me back"' in call.stdout
    assert "PlayAudio thank_you.wav" in call.stdout
    assert "voicemail: s3://switchboard-local-recordings/voicemail/" in call.stdout
    assert "ended by #)" in call.stdout
    with stack.applied():
        s3 = boto3.client("s3")
        (stored,) = s3.list_objects_v2(Bucket=stack.recordings_bucket)["Contents"]
        head = s3.head_object(Bucket=stack.recordings_bucket, Key=stored["Key"])
        audio = s3.get_object(Bucket=stack.recordings_bucket, Key=stored["Key"])["Body"].read()
    assert stored["Key"] in call.stdout
    assert head["ContentType"] == "audio/wav"
    assert audio[:4] == b"RIFF"
    assert audio[8:12] == b"WAVE"
    run(stack, "forward", "remove", number)


def test_voicemail_is_refused_for_a_connect_number_with_the_reason(stack: LocalStack) -> None:
    refused = run(stack, "forward", "set", "+13125550190", "+12065550111", "--failure", "voicemail")

    assert refused.returncode == 2
    assert "lives in Amazon Connect" in refused.stderr
    assert "SIP media application" in refused.stderr
    # The CLI's own words for the choices, not the slash command's `then prompt`.
    assert "--failure prompt" in refused.stderr
    assert "`then" not in refused.stderr


def test_a_call_to_a_number_that_is_not_ours_is_refused_saying_so(stack: LocalStack) -> None:
    refused = run(stack, "call", "+14155550100", "--answer")

    assert refused.returncode == 2
    assert "+14155550100 is not one of our phone numbers" in refused.stderr
    assert "forward set" not in refused.stdout + refused.stderr  # setting one would be refused too


def test_slack_words_typed_as_destinations_point_at_the_cli_option(stack: LocalStack) -> None:
    refused = run(stack, "forward", "set", OURS, "+12065550111", "then", "voicemail")

    assert refused.returncode == 2
    assert "--failure voicemail" in refused.stderr


def test_business_hours_set_listed_and_a_call_on_simulated_time_takes_the_branch_of_its_moment(
    stack: LocalStack,
) -> None:
    result = run(
        stack, "forward", "set", OURS, "+12065550111", "--hours", "mon-fri 09:00-17:30",
        "--timezone", "America/Chicago", "--else-to", "(415) 555-0133", "+13125550122",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "weekdays 09:00–17:30 America/Chicago, else +14155550133, +13125550122" in result.stdout
    try:
        listed = run(stack, "forward", "list").stdout
        assert "business hours now: calls go to" in listed

        # Tuesday noon in Chicago: in hours. Tuesday 20:00: the else branch, in its order.
        noon = run(stack, "call", OURS, "--at", "2026-12-01 12:00 America/Chicago", "--answer")
        assert noon.returncode == 0, noon.stderr
        assert "at 2026-12-01 18:00 UTC (simulated time)" in noon.stdout
        assert "outcome: bridged to +12065550111" in noon.stdout
        evening = run(stack, "call", OURS, "--at", "2026-12-02T02:00Z", "--no-answer", "--answer")
        assert evening.returncode == 0, evening.stderr
        assert (
            "business hours: outside business hours at 2026-12-02 02:00 UTC: calls go to "
            "+14155550133, +13125550122 until 2026-12-02 15:00 UTC (09:00 America/Chicago)"
        ) in evening.stdout
        assert "outcome: bridged to +13125550122" in evening.stdout
        assert "attempts: +14155550133 CallNotAnswered after 30.0s" in evening.stdout
    finally:
        run(stack, "forward", "remove", OURS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hours", "mon-fri 09:00-17:30", "--timezone", "UTC"), "--else-to"),
        (("--hours", "mon-fri 09:00-17:30", "--else-to", "+14155550133"), "--timezone"),
        (("--hours", "mon-fri 9-5", "--timezone", "UTC", "--else-to", "+14155550133"), "no time window"),
        (
            ("--hours", "mon-fri 09:00-17:30", "--timezone", "UTC", "--else-to", "+19005550100"),
            "premium-rate",
        ),
        (("--else-to", "+14155550133"), "--hours"),
    ],
)
def test_refused_business_hours_exit_2_with_the_reason(
    stack: LocalStack, args: tuple[str, ...], message: str
) -> None:
    result = run(stack, "forward", "set", OURS, "+12065550111", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert NO_FORWARDS in run(stack, "forward", "list").stdout


def test_a_call_at_a_time_that_is_not_one_is_refused(stack: LocalStack) -> None:
    result = run(stack, "call", OURS, "--at", "teatime")
    assert result.returncode == 2
    assert "is not a time" in result.stderr


def test_a_simulated_voicemail_on_a_connect_number_is_refused(stack: LocalStack) -> None:
    refused = run(stack, "call", "+13125550190", "--voicemail", "call me back")

    assert refused.returncode == 2
    assert "Amazon Connect numbers take no voicemail" in refused.stderr


def test_voicemail_ends_needs_a_voicemail(stack: LocalStack) -> None:
    refused = run(stack, "call", OURS, "--voicemail-ends", "silence")

    assert refused.returncode == 2
    assert "--voicemail-ends needs --voicemail TEXT" in refused.stderr
