"""The terminal Slack console: a scripted session typed into ``switchboard slack``, and its form logic.

The end-to-end session runs ``switchboard slack`` in a subprocess (``bot.app`` binds its settings
once per process; ``test_bot.py`` imports it in this one) with no ``switchboard dev`` running — its
state file is looked for in a private ``TMPDIR`` — so the console starts its own local stack and
talks to the real bot over HTTP. The other tests drive :class:`SlackConsole` against a scripted
workspace to pin down what Slack's client does with a form before anything reaches the bot.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from switchboard_local.slack.console import Ack, Activity, SlackConsole
from switchboard_local.slack.standin import RecordedCall

ROOT = Path(__file__).resolve().parents[2]
OURS, OTHER = "+12025550100", "+12025550101"
FIRST, SECOND = "+12065550111", "+13125550122"


def console_session(tmp: Path, script: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SLACK_", "POWERTOOLS_"))
        and key not in ("TABLE_NAME", "SIP_MEDIA_APPLICATION_ID", "VOICE_CONNECTOR_ID", "FORWARD_ADMINS")
    }
    env.update({"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)})
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "slack"],
        input="\n".join(script) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def after(text: str, marker: str) -> str:
    """The part of the transcript after the last time ``marker`` was typed."""
    assert marker in text, f"{marker!r} not in transcript"
    return text.rsplit(marker, 1)[1]


def test_a_scripted_session_slash_command_modal_and_app_home(tmp_path: Path) -> None:
    script = [
        f"/forward {OURS} to {FIRST}, {SECOND}",
        "/forward",
        "2",  # our number: the second option
        "",  # no user group
        "",  # no person
        "911",  # Forward to: refused by the bot
        *[""] * 13,  # keep every other field as shown (voicemail length and business hours included)
        FIRST,  # asked again for the refused field only
        "home",
        "click 5",
        "n",  # the confirm dialog: keep
        "click 5",
        "y",
        "quit",
    ]
    result = console_session(tmp_path, script)
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "Traceback" not in result.stderr + out
    assert '"level"' not in out  # the bot's CloudWatch logs stay out of the console
    assert "usergroups.list {" not in out  # the form's group picker reads groups: Slack shows no such line

    # A slash command: ack at once, then the lazy listener's result and the channel announcement.
    slash = after(out, f"U0LOCALUSER> /forward {OURS} to {FIRST}, {SECOND}\n").split("U0LOCALUSER>")[0]
    assert f"[ack] (only visible to you):\n    ⏳ Forwarding {OURS} → {FIRST}, {SECOND}…" in slash
    assert "(only visible to you, replaces the original):" in slash
    assert f"✅ Now forwarding {OURS} → {FIRST}, {SECOND}" in slash
    assert f"[#C0ALERTS] switchboard:\n    ↪️ @U0LOCALUSER forwarded *{OURS}* → {FIRST}, {SECOND}" in slash
    assert "acknowledgement took" not in out

    # The modal: shown as a form, filled in field by field, sent back with the error, then accepted.
    modal = after(out, "U0LOCALUSER> /forward\n").split("U0LOCALUSER> home")[0]
    assert "┌─ Forward a number" in modal
    assert f"· Our number — choose: 1) {OURS}  2) {OTHER}" in modal
    assert "The form was sent back:\n    ✗ Forward to: 911 is an emergency number" in modal
    assert "· Forward to (optional) [911]" in modal  # optional: people may be named instead
    assert "(the modal closes)" in modal
    assert (
        f"[#C0OPERATIONS] (only visible to @U0LOCALUSER):\n    ✅ Now forwarding {OTHER} → {FIRST}" in modal
    )
    assert f"@U0LOCALUSER forwarded *{OTHER}* → {FIRST}" in modal

    # App Home: both forwards with numbered buttons; Remove asks first, and "n" keeps the forward.
    home = after(out, "U0LOCALUSER> home\n").split("U0LOCALUSER> click 5")[0]
    assert "[App Home of @U0LOCALUSER]" in home
    assert f"*{OURS}* → {FIRST}, {SECOND}" in home
    assert f"*{OTHER}* → {FIRST}" in home
    assert f"click 3 → [Remove ({OURS})]" in home
    assert f"click 5 → [Remove ({OTHER})]" in home
    kept, removed = out.split("U0LOCALUSER> click 5\n")[1:3]
    assert "┌─ Remove this forward?" in kept
    assert f"Calls to {OTHER} will go to the phone system again." in kept
    assert "Remove? [y/N] n\n(you press [Keep])" in kept
    assert "Removed the forward" not in kept
    assert f"✅ Removed the forward on {OTHER}; calls go to the phone system again." in removed
    assert f"@U0LOCALUSER removed the forward on *{OTHER}*" in removed
    # The channel's announcement (from the table's stream) comes after the republished App Home.
    republished = removed.split("[App Home of @U0LOCALUSER]")[1].split("[#C0ALERTS]")[0]
    assert OURS in republished
    assert OTHER not in republished.replace(f"Remove ({OTHER})", "")


def test_another_user_is_refused_and_no_modal_opens(tmp_path: Path) -> None:
    result = console_session(tmp_path, ["as U0VISITOR", "/forward", f"/forward {OURS} to {FIRST}", "quit"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(you are now @U0VISITOR)" in out
    assert "(modal opened" not in out
    assert "⛔ Sorry @U0VISITOR, you may look at forwards but not change them" in out
    assert "[#C0ALERTS]" not in out


# -- the console's form handling, against a scripted workspace -------------------------------------

FORM = {
    "id": "V0FORM",
    "type": "modal",
    "callback_id": "form",
    "title": {"type": "plain_text", "text": "A form"},
    "submit": {"type": "plain_text", "text": "Send"},
    "private_metadata": "",
    "blocks": [
        {
            "type": "input",
            "block_id": "colour",
            "label": {"type": "plain_text", "text": "Colour"},
            "element": {
                "type": "static_select",
                "action_id": "colour",
                "options": [
                    {"text": {"type": "plain_text", "text": "Red"}, "value": "red"},
                    {"text": {"type": "plain_text", "text": "Blue"}, "value": "blue"},
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "Red"}, "value": "red"},
            },
        },
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name", "max_length": 5},
        },
        {
            "type": "input",
            "block_id": "count",
            "label": {"type": "plain_text", "text": "Count"},
            "element": {
                "type": "number_input",
                "action_id": "count",
                "is_decimal_allowed": False,
                "min_value": "1",
                "max_value": "9",
                "initial_value": "3",
            },
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note", "initial_value": "hello"},
        },
    ],
}


class ScriptedWorkspace:
    """Opens ``FORM`` for any slash command and answers submissions with ``verdicts`` in turn."""

    secret = "scripted-secret"

    def __init__(self, verdicts: list[dict[str, Any]]) -> None:
        self.verdicts = verdicts
        self.submitted: list[dict[str, Any]] = []
        self.closed: list[str] = []
        self._pending: list[RecordedCall] = []

    def send(self, event: Mapping[str, Any]) -> Ack:
        body = base64.b64decode(event["body"]).decode() if event["isBase64Encoded"] else event["body"]
        fields = parse_qs(body)
        if "command" in fields:
            self._pending.append(
                RecordedCall(
                    "views.open",
                    {"trigger_id": fields["trigger_id"][0], "view": FORM},
                    "xoxb-test",
                    0.0,
                    {"ok": True, "view": FORM},
                )
            )
            return Ack(200, "", "", 0.01)
        payload = json.loads(fields["payload"][0])
        self.submitted.append(payload["view"]["state"]["values"])
        verdict = self.verdicts.pop(0) if self.verdicts else {}
        return Ack(200, "application/json" if verdict else "", json.dumps(verdict) if verdict else "", 0.01)

    def activity(self, wait: float = 20.0) -> Activity:
        calls, self._pending = self._pending, []
        return Activity(calls, [], True)

    def trigger_id(self) -> str:
        return "T-1"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:9/response/{name}"

    def close_view(self, view_id: str) -> None:
        self.closed.append(view_id)


def run_console(workspace: ScriptedWorkspace, lines: list[str]) -> str:
    shown: list[str] = []
    SlackConsole(workspace, iter(lines), shown.append, echo=True).run()
    return "".join(shown)


def test_form_checks_what_slack_checks_before_submitting() -> None:
    workspace = ScriptedWorkspace([])
    out = run_console(
        workspace,
        ["/test", "green", "blue", "", "toolong", "Ann", "12", "2.5", "", "-"],
    )
    assert "choose 1-2 (or type an option)" in out  # "green" is not an option
    assert "Please complete this required field." in out  # Name has no value yet
    assert "Please enter at most 5 characters." in out
    assert "Please enter a number between 1 and 9." in out
    assert "Please enter a whole number." in out
    assert "· Count [3]" in out
    assert "· Note (optional) [hello]" in out
    (values,) = workspace.submitted
    assert values["colour"]["colour"]["selected_option"]["value"] == "blue"
    assert values["name"]["name"]["value"] == "Ann"
    assert values["count"]["count"]["value"] == "3"  # Enter kept the initial value
    assert values["note"]["note"]["value"] == ""  # "-" emptied the optional field
    assert workspace.closed == ["V0FORM"]


def test_errors_are_shown_and_only_those_fields_asked_again() -> None:
    workspace = ScriptedWorkspace([{"response_action": "errors", "errors": {"name": "Ann is taken"}}])
    out = run_console(workspace, ["/test", "2", "Ann", "", "", "Bob"])
    assert "The form was sent back:\n    ✗ Name: Ann is taken" in out
    asked_again = out.split("The form was sent back:")[1]
    assert "· Name [Ann]" in asked_again
    assert "· Colour" not in asked_again
    first, second = workspace.submitted
    assert first["name"]["name"]["value"] == "Ann"
    assert second["name"]["name"]["value"] == "Bob"
    assert second["colour"]["colour"]["selected_option"]["value"] == "blue"  # kept from the first round


@pytest.mark.parametrize("ending", [["!cancel"], []], ids=["cancel", "end-of-input"])
def test_a_cancelled_modal_submits_nothing(ending: list[str]) -> None:
    workspace = ScriptedWorkspace([])
    out = run_console(workspace, ["/test", "1", *ending])
    assert "(the modal closes; nothing was submitted)" in out
    assert workspace.submitted == []
    assert workspace.closed == ["V0FORM"]


def test_commands_the_console_does_not_know_are_explained() -> None:
    out = run_console(ScriptedWorkspace([]), ["frobnicate", "click 1", "as nobody", "help"])
    assert "unknown command 'frobnicate': type help" in out
    assert "no buttons shown yet: try home" in out
    assert "usage: as U0SOMEONE" in out
    assert "click N" in out


def test_at_a_terminal_the_line_editor_is_given_the_prompt() -> None:
    """readline must know the prompt: written around it, Enter on an empty line starts no new line
    and prompts pile up (``U0LOCALUSER> U0LOCALUSER>``)."""
    prompts: list[str] = []
    typed = iter(["", "/test", "", "!cancel"])

    def reader(prompt: str) -> str:
        prompts.append(prompt)
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    shown: list[str] = []
    SlackConsole(ScriptedWorkspace([]), iter([]), shown.append, reader=reader).run()
    assert prompts[:2] == ["U0LOCALUSER> ", "U0LOCALUSER> "]
    assert "    > " in prompts  # the form's inputs too
    assert not any(text.startswith("U0LOCALUSER>") for text in shown)  # never written around it


def test_an_alert_that_arrives_while_idle_is_shown_above_the_prompt() -> None:
    workspace = ScriptedWorkspace([])
    alert = RecordedCall(
        "chat.postMessage",
        {"channel": "C0ALERTS", "text": "Nobody answered a call to +12025550100"},
        "xoxb-test",
        0.0,
        {"ok": True, "channel": "C0ALERTS"},
    )
    shown: list[str] = []
    console = SlackConsole(workspace, iter([]), shown.append, reader=lambda prompt: "")
    console._prompt = "U0LOCALUSER> "  # the console is waiting at its prompt
    assert console.show_arrivals() is False  # nothing new: nothing written

    workspace._pending.append(alert)
    assert console.show_arrivals() is True
    text = "".join(shown)
    assert text.startswith("\r\x1b[K")  # the prompt line is cleared first
    assert "Nobody answered a call to +12025550100" in text
    assert text.endswith("U0LOCALUSER> ")  # and the prompt drawn again below the alert

    workspace._pending.append(alert)
    with console.busy:  # a command is running: its own output will carry what arrived
        assert console.show_arrivals() is False
    assert workspace._pending == [alert]


def test_other_threads_output_goes_to_the_log_while_the_console_keeps_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading

    from switchboard_local.console_output import background_output_to

    log = tmp_path / "dev.log"
    with background_output_to(log):
        print("console line")
        worker = threading.Thread(target=lambda: print('{"_aws": {}, "AlertsPosted": [1.0]}'))
        worker.start()
        worker.join()
    assert capsys.readouterr().out == "console line\n"
    assert log.read_text() == '{"_aws": {}, "AlertsPosted": [1.0]}\n'
