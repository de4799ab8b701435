"""The Slack Web API stand-in, driven only through the real ``slack_sdk`` clients.

What is pinned is what the bot relies on when ``SLACK_API_URL`` points at the stand-in: the response
shapes ``slack_sdk`` parses, Slack's error conventions (HTTP 200 ``ok: false``, HTTP 429 with
``Retry-After``), token handling for both JSON and form-encoded calls, the Block Kit checks real
Slack applies, response_url capture, and the terminal rendering the Slack console prints.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from switchboard_local.slack.standin import (
    RecordedCall,
    SlackStandIn,
    check_blocks,
    check_view,
    mrkdwn,
    render,
)

pytestmark = pytest.mark.functional

TOKEN = "xoxb-testtok"

FORWARD_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "forward_set",
    "title": {"type": "plain_text", "text": "Forward a number"},
    "submit": {"type": "plain_text", "text": "Forward"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "private_metadata": '{"channel": "C0OPS"}',
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Calls to *our number* ring the destinations."},
        },
        {
            "type": "input",
            "block_id": "number",
            "label": {"type": "plain_text", "text": "Our number"},
            "element": {
                "type": "static_select",
                "action_id": "our_number",
                "placeholder": {"type": "plain_text", "text": "Pick a number"},
                "options": [
                    {"text": {"type": "plain_text", "text": "+1 202-555-0100"}, "value": "+12025550100"},
                    {"text": {"type": "plain_text", "text": "+1 202-555-0101"}, "value": "+12025550101"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "destination",
            "label": {"type": "plain_text", "text": "Destination"},
            "hint": {"type": "plain_text", "text": "E.164 or national format"},
            "element": {
                "type": "plain_text_input",
                "action_id": "destination",
                "placeholder": {"type": "plain_text", "text": "+1 202 555 0199"},
            },
        },
        {
            "type": "input",
            "block_id": "greeting",
            "optional": True,
            "label": {"type": "plain_text", "text": "Greeting"},
            "element": {
                "type": "radio_buttons",
                "action_id": "greeting",
                "initial_option": {"text": {"type": "plain_text", "text": "Loop"}, "value": "loop"},
                "options": [
                    {"text": {"type": "plain_text", "text": "Loop"}, "value": "loop"},
                    {"text": {"type": "plain_text", "text": "Once"}, "value": "once"},
                    {"text": {"type": "plain_text", "text": "None"}, "value": "none"},
                ],
            },
        },
    ],
}

ALERT_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Call not answered"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "A call to *+1 202-555-0100* reached nobody &amp; was dropped."},
        "fields": [
            {"type": "mrkdwn", "text": "*Caller*\n+1 202-555-0142"},
            {"type": "mrkdwn", "text": "*Tried*\n<tel:+12025550199|+1 202-555-0199>"},
        ],
    },
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Forward set by <@U0ALICE>"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "retry",
                "text": {"type": "plain_text", "text": "Try another destination"},
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "remove",
                "text": {"type": "plain_text", "text": "Remove forward"},
            },
        ],
    },
]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(
        tokens=[TOKEN],
        usergroups={"S0ADMINS": ["U0ALICE", "U0BOB"], "S0EMPTY": []},
    ) as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.api_url)


def test_urls_end_with_api_slash(slack: SlackStandIn) -> None:
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert slack.api_url.endswith("/api/")
    assert slack.url == slack.api_url
    assert slack.response_url("x") == f"{slack.origin}/response/x"


def test_stopped_standin_has_no_url() -> None:
    standin = SlackStandIn()
    with pytest.raises(RuntimeError, match="not started"):
        _ = standin.api_url


def test_auth_test_identity(client: WebClient, slack: SlackStandIn) -> None:
    response = client.auth_test()
    assert response["ok"] is True
    assert response["user_id"] == slack.bot_user_id
    assert response["team_id"] == slack.team_id
    assert response["bot_id"] == slack.bot_id
    assert slack.calls_to("auth.test")[0].token == TOKEN


def test_missing_token_is_not_authed(slack: SlackStandIn) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=slack.api_url).auth_test()
    assert raised.value.response["error"] == "not_authed"
    assert slack.calls[0].token is None
    assert not slack.calls[0].ok


def test_unknown_token_is_invalid_auth_for_json_and_form_calls(slack: SlackStandIn) -> None:
    stranger = WebClient(token="xoxb-not-ours", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as raised:
        stranger.chat_postMessage(channel="C1", text="hi")  # JSON body
    assert raised.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as raised:
        stranger.usergroups_users_list(usergroup="S0ADMINS")  # GET, query string
    assert raised.value.response["error"] == "invalid_auth"
    assert slack.messages("C1") == []


def test_token_in_form_body_is_accepted_but_not_in_json_body(slack: SlackStandIn) -> None:
    anonymous = WebClient(base_url=slack.api_url)
    response = anonymous.api_call("auth.test", params={"token": TOKEN})  # form field, like old clients
    assert response["ok"] is True
    # slack_sdk itself moves a JSON ``token`` to the Authorization header; a raw client may not.
    request = urllib.request.Request(
        slack.api_url + "chat.postMessage",
        data=json.dumps({"token": TOKEN, "channel": "C1", "text": "x"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as raw:
        assert json.load(raw) == {"ok": False, "error": "not_authed"}  # Slack ignores it there


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.scheduleEverything")
    assert raised.value.response["error"] == "unknown_method"


def test_post_message_shape_and_history(client: WebClient, slack: SlackStandIn) -> None:
    response = client.chat_postMessage(channel="C0OPS", text="Forward set", blocks=ALERT_BLOCKS)
    assert response["channel"] == "C0OPS"
    ts = response["ts"]
    assert response["message"]["ts"] == ts
    assert response["message"]["bot_id"] == slack.bot_id
    assert response["message"]["blocks"] == ALERT_BLOCKS
    second = client.chat_postMessage(channel="C0OPS", text="again")
    assert float(second["ts"]) > float(ts)
    assert [m["text"] for m in slack.messages("C0OPS")] == ["Forward set", "again"]
    assert slack.calls_to("chat.postMessage")[0].args["blocks"] == ALERT_BLOCKS


def test_post_message_in_thread(client: WebClient, slack: SlackStandIn) -> None:
    parent = client.chat_postMessage(channel="C0OPS", text="alert")
    reply = client.chat_postMessage(channel="C0OPS", text="retrying", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    messages = slack.messages("C0OPS")
    assert messages[0]["reply_count"] == 1
    assert messages[1]["thread_ts"] == parent["ts"]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0OPS", text="x", thread_ts="1.000000")
    assert raised.value.response["error"] == "thread_not_found"


def test_post_message_form_encoded_blocks_are_decoded(slack: SlackStandIn) -> None:
    """A client posting form fields sends ``blocks`` as a JSON string; Slack decodes it."""
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    client.api_call(
        "chat.postMessage", params={"channel": "C1", "text": "t", "blocks": json.dumps(ALERT_BLOCKS[:1])}
    )
    assert slack.messages("C1")[0]["blocks"] == ALERT_BLOCKS[:1]


def test_post_message_needs_content(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised, pytest.warns(UserWarning, match="text"):
        client.chat_postMessage(channel="C1")
    assert raised.value.response["error"] == "no_text"


def test_direct_message_to_a_user_answers_with_a_dm_channel(client: WebClient, slack: SlackStandIn) -> None:
    response = client.chat_postMessage(channel="U0ALICE", text="your forward expired")
    assert response["channel"] == "D0ALICE"
    assert slack.messages("U0ALICE") == slack.messages("D0ALICE")
    assert len(slack.messages("D0ALICE")) == 1


def test_configured_channels_are_enforced() -> None:
    channels: dict[str, dict[str, Any]] = {
        "C0OPS": {"name": "operations"},
        "C0QUIET": {"name": "quiet", "is_member": False},
    }
    with SlackStandIn(tokens=[TOKEN], channels=channels) as slack:
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        assert client.conversations_info(channel="C0OPS")["channel"]["name"] == "operations"
        for channel, error in (("C0NOPE", "channel_not_found"), ("C0QUIET", "not_in_channel")):
            with pytest.raises(SlackApiError) as raised:
                client.chat_postMessage(channel=channel, text="x")
            assert raised.value.response["error"] == error


def test_post_ephemeral(client: WebClient, slack: SlackStandIn) -> None:
    response = client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="Only admins may forward")
    assert response["message_ts"]
    assert slack.messages("C0OPS") == []  # ephemeral messages are not in the channel
    call = slack.calls_to("chat.postEphemeral")[0]
    assert call.args["user"] == "U0ALICE"


def test_chat_update_replaces_the_message(client: WebClient, slack: SlackStandIn) -> None:
    posted = client.chat_postMessage(channel="C0OPS", text="ringing", blocks=ALERT_BLOCKS)
    updated = client.chat_update(channel="C0OPS", ts=posted["ts"], text="answered")
    assert updated["ts"] == posted["ts"]
    assert updated["text"] == "answered"
    (message,) = slack.messages("C0OPS")
    assert message["text"] == "answered"
    assert "blocks" not in message
    assert "edited" in message
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C0OPS", ts="1.000001", text="x")
    assert raised.value.response["error"] == "message_not_found"


def test_views_open_returns_a_view_with_id(client: WebClient, slack: SlackStandIn) -> None:
    response = client.views_open(trigger_id="123.456.abc", view=FORWARD_MODAL)
    view = response["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "forward_set"
    assert view["private_metadata"] == FORWARD_MODAL["private_metadata"]
    assert view["state"] == {"values": {}}
    assert view["root_view_id"] == view["id"]
    assert view["hash"]
    assert slack.open_views[view["id"]]["title"]["text"] == "Forward a number"


def test_views_update_and_push(client: WebClient, slack: SlackStandIn) -> None:
    opened = client.views_open(trigger_id="1.2.3", view=FORWARD_MODAL)["view"]
    changed = {
        **FORWARD_MODAL,
        "title": {"type": "plain_text", "text": "Forwarded"},
        "blocks": FORWARD_MODAL["blocks"][:1],
    }
    changed.pop("submit")
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert slack.open_views[opened["id"]]["title"]["text"] == "Forwarded"
    with pytest.raises(SlackApiError) as raised:  # a stale hash: someone else updated it first
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)
    assert raised.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id="V0NOTHERE", view=changed)
    assert raised.value.response["error"] == "not_found"
    pushed = client.views_push(trigger_id="1.2.4", view=changed)["view"]
    assert pushed["id"] != opened["id"]
    slack.close_view(opened["id"])
    assert set(slack.open_views) == {pushed["id"]}
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], view=changed)
    assert raised.value.response["error"] == "not_found"


def test_views_update_by_external_id(client: WebClient, slack: SlackStandIn) -> None:
    modal = {**FORWARD_MODAL, "external_id": "forward-U0ALICE"}
    opened = client.views_open(trigger_id="1.2.3", view=modal)["view"]
    updated = client.views_update(external_id="forward-U0ALICE", view=modal)["view"]
    assert updated["id"] == opened["id"]


def test_views_publish_keeps_latest_home_per_user(client: WebClient, slack: SlackStandIn) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No forwards"}}],
    }
    first = client.views_publish(user_id="U0ALICE", view=home)["view"]
    newer = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "1 forward"}}]}
    second = client.views_publish(user_id="U0ALICE", view=newer)["view"]
    assert second["id"] == first["id"]  # one Home tab per user
    client.views_publish(user_id="U0BOB", view=home)
    assert slack.home_views["U0ALICE"]["blocks"][0]["text"]["text"] == "1 forward"
    assert set(slack.home_views) == {"U0ALICE", "U0BOB"}
    assert slack.open_views == {}


def test_views_are_validated_like_slack(client: WebClient) -> None:
    long_title = {**FORWARD_MODAL, "title": {"type": "plain_text", "text": "Forward one of our numbers"}}
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id="1.2.3", view=long_title)
    assert raised.value.response["error"] == "invalid_arguments"
    assert any("/view/title/text" in m for m in raised.value.response["response_metadata"]["messages"])

    no_submit = {k: v for k, v in FORWARD_MODAL.items() if k != "submit"}
    problems = check_view(no_submit)
    assert any("submit is required" in p for p in problems)

    with pytest.raises(SlackApiError) as raised:
        client.views_publish(user_id="U1", view=FORWARD_MODAL)
    assert raised.value.response["error"] == "invalid_arguments"


def test_message_blocks_are_validated_like_slack(client: WebClient) -> None:
    mrkdwn_header = [{"type": "header", "text": {"type": "mrkdwn", "text": "*Alert*"}}]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x", blocks=mrkdwn_header)
    assert raised.value.response["error"] == "invalid_blocks"
    assert check_blocks(ALERT_BLOCKS) == []
    duplicate = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    assert any("already exists" in p for p in check_blocks(duplicate))
    too_many = [{"type": "divider"}] * 51
    assert any("no more than 50" in p for p in check_blocks(too_many))
    long_button = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "b", "text": {"type": "plain_text", "text": "x" * 76}}
            ],
        }
    ]
    assert any("/blocks/0/elements/0/text/text" in p for p in check_blocks(long_button))


def test_issued_trigger_ids_are_single_use_and_expire() -> None:
    with SlackStandIn(tokens=[TOKEN], trigger_ttl=0.2) as slack:
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        trigger = slack.trigger_id()
        client.views_open(trigger_id=trigger, view=FORWARD_MODAL)
        with pytest.raises(SlackApiError) as raised:
            client.views_open(trigger_id=trigger, view=FORWARD_MODAL)
        assert raised.value.response["error"] == "invalid_trigger_id"
        late = slack.trigger_id()
        time.sleep(0.3)
        with pytest.raises(SlackApiError) as raised:
            client.views_open(trigger_id=late, view=FORWARD_MODAL)
        assert raised.value.response["error"] == "expired_trigger_id"


def test_usergroups_users_list(client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0ALICE", "U0BOB"]
    assert client.usergroups_users_list(usergroup="S0EMPTY")["users"] == []
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_list(usergroup="S0NOPE")
    assert raised.value.response["error"] == "no_such_subteam"


def test_users_info_and_conversations_info(client: WebClient) -> None:
    user = client.users_info(user="U0ALICE")["user"]
    assert user["id"] == "U0ALICE"
    assert user["tz"]
    assert user["is_bot"] is False
    channel = client.conversations_info(channel="C0OPS")["channel"]
    assert channel["id"] == "C0OPS"
    assert channel["is_member"] is True


def test_configured_users_are_enforced() -> None:
    with SlackStandIn(
        tokens=[TOKEN], users={"U0ALICE": {"real_name": "Alice Doe", "tz": "Europe/Paris"}}
    ) as slack:
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        alice = client.users_info(user="U0ALICE")["user"]
        assert (alice["real_name"], alice["tz"]) == ("Alice Doe", "Europe/Paris")
        with pytest.raises(SlackApiError) as raised:
            client.users_info(user="U0NOBODY")
        assert raised.value.response["error"] == "user_not_found"


def test_rate_limit_reaches_the_caller_as_429(client: WebClient, slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x")
    response = raised.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "7"
    client.chat_postMessage(channel="C1", text="x")  # only the next call failed
    assert [c.ok for c in slack.calls_to("chat.postMessage")] == [False, True]


def test_rate_limit_is_retried_by_the_sdk_handler(slack: SlackStandIn) -> None:
    client = WebClient(
        token=TOKEN, base_url=slack.api_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )
    slack.fail_next("chat.postMessage", retry_after=0)
    started = time.monotonic()
    response = client.chat_postMessage(channel="C1", text="eventually")
    assert response["ok"] is True
    assert time.monotonic() - started < 2
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert len(slack.messages("C1")) == 1


def test_fail_next_with_slack_error(client: WebClient, slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C1", text="x")
        assert raised.value.response.status_code == 200
        assert raised.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert slack.calls_to("chat.postMessage")[0].error == "not_in_channel"


def test_response_url_records_webhook_posts(slack: SlackStandIn) -> None:
    url = slack.response_url("forward-cmd")
    webhook = WebhookClient(url)
    response = webhook.send(text="Forward set", response_type="in_channel", replace_original=True)
    assert response.status_code == 200
    webhook.send_dict({"delete_original": True})
    (first, second) = slack.responses_to("forward-cmd")
    assert first.method == "response_url"
    assert first.args["text"] == "Forward set"
    assert first.args["response_type"] == "in_channel"
    assert second.args == {"delete_original": True}
    assert slack.calls == []  # response_url posts are not Web API calls


def test_wait_for_sees_asynchronous_posts(client: WebClient, slack: SlackStandIn) -> None:
    timer = threading.Timer(0.2, lambda: client.chat_postMessage(channel="C1", text="later"))
    timer.start()
    (call,) = slack.wait_for_call("chat.postMessage", timeout=5)
    assert call.args["text"] == "later"
    assert slack.wait_for(lambda: slack.messages("C1"))[0]["text"] == "later"
    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        slack.wait_for(lambda: slack.calls_to("views.open"), timeout=0.2)
    timer.join()


def test_clear_forgets_everything(client: WebClient, slack: SlackStandIn) -> None:
    client.chat_postMessage(channel="C1", text="x")
    client.views_open(trigger_id="1", view=FORWARD_MODAL)
    slack.fail_next("auth.test")
    slack.clear()
    assert (slack.calls, slack.messages("C1"), slack.open_views) == ([], [], {})
    assert client.auth_test()["ok"]


def test_mrkdwn_resolves_links_and_mentions() -> None:
    text = (
        "<@U0ALICE> set <tel:+12025550100|+1 202-555-0100> in <#C0OPS|ops> "
        "for <!subteam^S0ADMINS|@admins> &lt;3"
    )
    assert mrkdwn(text) == "@U0ALICE set +1 202-555-0100 (tel:+12025550100) in #ops for @admins <3"
    assert mrkdwn("*bold* _it_ `code` <!here>") == "*bold* _it_ `code` @here"


def test_render_message_with_blocks(client: WebClient, slack: SlackStandIn) -> None:
    client.chat_postMessage(channel="C0OPS", text="fallback", blocks=ALERT_BLOCKS)
    text = render(slack.calls_to("chat.postMessage")[0])
    lines = text.splitlines()
    assert lines[0] == "[#C0OPS] switchboard:"
    assert "  # Call not answered" in lines
    assert "  A call to *+1 202-555-0100* reached nobody & was dropped." in lines
    assert "    *Caller* +1 202-555-0142" in lines
    assert "    *Tried* +1 202-555-0199 (tel:+12025550199)" in lines
    assert any(set(line.strip()) == {"─"} for line in lines)
    assert "Forward set by @U0ALICE" in text
    assert "  [Try another destination] [Remove forward]" in lines
    assert "fallback" not in text  # blocks win over text, as in the Slack client


def test_render_text_ephemeral_thread_and_response() -> None:
    at = time.time()
    thread = RecordedCall(
        "chat.postMessage",
        {"channel": "C1", "text": "hi", "thread_ts": "1.1"},
        TOKEN,
        at,
        {"ok": True, "channel": "C1"},
    )
    assert render(thread) == "[#C1] (thread 1.1) bot:\n  hi"
    ephemeral = RecordedCall(
        "chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "no"}, TOKEN, at, {"ok": True}
    )
    assert render(ephemeral) == "[#C1] (only visible to @U1):\n  no"
    response = RecordedCall(
        "response_url", {"text": "done", "replace_original": True}, None, at, {"ok": True}, name="cmd"
    )
    assert render(response) == "[response cmd] (only visible to you, replaces the original):\n  done"
    failed = RecordedCall("chat.postMessage", {"channel": "C1"}, TOKEN, at, {"ok": False, "error": "no_text"})
    assert render(failed) == "chat.postMessage ✗ no_text"


def test_render_modal_as_form(client: WebClient, slack: SlackStandIn) -> None:
    view_id = client.views_open(trigger_id="1.2.3", view=FORWARD_MODAL)["view"]["id"]
    text = render(slack.calls_to("views.open")[0])
    lines = text.splitlines()
    assert lines[0] == f"(modal opened: {view_id})"
    assert lines[1].startswith("┌─ Forward a number ")
    assert lines[1].endswith("(forward_set)")
    assert "│ Calls to *our number* ring the destinations." in lines
    assert "│ Our number  (static_select our_number)" in lines
    assert "│     options: +1 202-555-0100 | +1 202-555-0101" in lines
    assert '│     placeholder: "Pick a number"' in lines
    assert "│ Destination  (plain_text_input destination)" in lines
    assert '│     placeholder: "+1 202 555 0199"' in lines
    assert "│     hint: E.164 or national format" in lines
    assert "│ Greeting (optional)  (radio_buttons greeting)" in lines
    assert "│     (•) Loop  ( ) Once  ( ) None" in lines
    assert lines[-1] == "└─ [Cancel] [Forward]"


def test_render_app_home(client: WebClient, slack: SlackStandIn) -> None:
    client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": ALERT_BLOCKS[:1]})
    assert render(slack.calls_to("views.publish")[0]) == "[App Home of @U0ALICE]\n  # Call not answered"


# -- files: the external upload flow (files_upload_v2) ------------------------------------------------


def test_files_upload_v2_runs_the_external_upload_flow_and_shares_in_the_thread(
    slack: SlackStandIn, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="C0ALERTS", text="an alert")["ts"]
    audio = b"RIFF" + bytes(range(256)) * 40

    response = client.files_upload_v2(
        channel="C0ALERTS", thread_ts=parent, file=audio, filename="voicemail-tx-1.wav", title="Voicemail"
    )

    (shared,) = response["files"]
    assert [c.method for c in slack.calls][1:] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    stored = slack.file(shared["id"])
    assert stored["data"] == audio
    assert (stored["name"], stored["title"], stored["mimetype"]) == (
        "voicemail-tx-1.wav",
        "Voicemail",
        "audio/wav",
    )
    (reply,) = [m for m in slack.messages("C0ALERTS") if m.get("files")]
    assert reply["thread_ts"] == parent
    assert reply["files"][0]["id"] == shared["id"]
    assert "data" not in reply["files"][0]
    (complete,) = slack.calls_to("files.completeUploadExternal")
    assert render(complete) == f"[#C0ALERTS] (thread {parent}) bot shared 📎 Voicemail"


def test_a_file_never_uploaded_cannot_be_completed(slack: SlackStandIn, client: WebClient) -> None:
    ticket = client.files_getUploadURLExternal(filename="a.wav", length=10)
    with pytest.raises(SlackApiError) as refused:
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "a"}], channel_id="C0X")
    assert refused.value.response["error"] == "file_not_found"
    assert slack.files == []


def test_an_upload_of_another_length_is_refused(slack: SlackStandIn, client: WebClient) -> None:
    ticket = client.files_getUploadURLExternal(filename="a.wav", length=10)
    request = urllib.request.Request(ticket["upload_url"], data=b"12345", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400
    assert "data" not in slack.file(ticket["file_id"])
