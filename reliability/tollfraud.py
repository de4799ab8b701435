"""Toll fraud: a corpus of dangerous targets through every path that accepts a destination.

A forward or a transfer makes the SIP media application pay for an outbound call, so every place
where a person (or a contact flow fed by a caller) names a number is a toll-fraud vehicle. The
corpus (:func:`corpus`, over 200 targets in eight categories) goes through each path; a target is
*refused* on a path when, afterwards:

* no forward with it is stored (CLI, slash command, form, alert's "try another destination");
* no call update reached Chime SDK Voice (Slack transfer command and form, Connect transfer Lambda);
* the SIP media application bridged no call to it after CALL_UPDATE_REQUESTED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import alerts as bot_alerts
from bot import views as bot_views
from reliability.common import Figure, quiet
from reliability.forged import UpdateRecorder
from reliability.harness import (
    ADMIN,
    CALLER,
    DESTINATIONS,
    FORWARDED,
    OURS,
    POOL_CONNECT,
    POOL_SMA,
    UNFORWARDED,
    VOICE_CONNECTOR_ARN,
    Harness,
)
from switchboard.domain.events import LiveCall
from switchboard.domain.pool import PoolExhaustedError
from switchboard_local.pstn.simulator import PstnSimulator
from switchboard_local.slack.requests import (
    block_actions_payload,
    interaction_event,
    slash_command_event,
    view_submission_payload,
)
from switchboard_local.stack import CONNECT_NUMBERS

ROOT = Path(__file__).resolve().parents[1]
FOREIGN_ARN = "arn:aws:chime:us-east-1:999999999999:vc/attacker"
LIVE_CALL = "tx-reliability-tollfraud"


@dataclass(frozen=True, slots=True)
class Target:
    category: str
    text: str  # as a person or a contact flow would type it
    arn: str = ""  # for SIP users: the voice connector named with it (Connect / SMA paths)
    paths: tuple[str, ...] = ()  # the paths (names in PATHS) it goes through; () = every path

    @property
    def is_sip(self) -> bool:
        return self.text.lower().startswith("sip:")

    @property
    def sip_user(self) -> str:
        return self.text[4:].split("@", 1)[0]


def _spaced(e164: str) -> str:
    digits = e164[1:]
    return "+" + " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))


def _national(e164: str) -> str:
    digits = e164[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def corpus() -> list[Target]:
    targets: list[Target] = []

    def numbers(category: str, e164s: list[str], *, nanp: bool = False, intl: bool = False) -> None:
        for e164 in e164s:
            targets.append(Target(category, e164))
            targets.append(Target(category, _spaced(e164)))
            if nanp:
                targets.append(Target(category, _national(e164)))
                targets.append(
                    Target(category, "1-" + _national(e164)[1:4] + "-" + e164[5:8] + "-" + e164[8:])
                )
            if intl:
                targets.append(Target(category, "011" + e164[1:]))
                targets.append(Target(category, "00" + e164[1:]))

    numbers("premium rate", ["+19005550100", "+19005550199", "+19002223333", "+19008675309"], nanp=True)
    numbers(
        "premium / shared cost abroad",
        ["+449098790000", "+448454647000", "+448712345678", "+33899123456", "+4990012345678", "+61190012345"],
        intl=True,
    )
    numbers("personal-number service", ["+15005550100", "+15335550100", "+15445550100"], nanp=True)
    emergency = [
        "911", "112", "999", "000", "110", "119", "933", "9-1-1", "+1 911", "1911",
        "９１１", "１１２", "９９９", "٩١١", "١١٢", "۹۱۱", "९११", "१०८", "৯১১", "๙๑๑", "𝟗𝟏𝟏", "9١1", "٩ ١ ١",
    ]  # fmt: skip
    targets += [Target("emergency (several scripts)", text) for text in emergency]
    short = ["411", "611", "211", "311", "511", "711", "811", "22000", "55555", "*67", "*72", "#31#", "123"]
    targets += [Target("short code / feature code", text) for text in short]
    numbers(
        "country not allowed",
        [
            "+442079460000", "+33123456789", "+493012345678", "+2348031234567", "+5371234567",
            "+85021234567", "+252612345678", "+23276123456", "+37167123456", "+37061234567",
            "+21671234567", "+18765550100", "+18095550100", "+12845550100", "+14735550100",
            "+16495550100", "+12685550100", "+14165550100", "+882130000000", "+881612345678",
            "+870772001799",
        ],
        intl=True,
    )  # fmt: skip
    sip_users = [
        "sip:+19005550100", "sip:19005550100", "sip:9011441234567", "sip:011441234567", "sip:*72+19005550100",
        "sip:*72", "sip:*67", "sip:911", "sip:+1911", "sip:112", "sip:+442079460000", "sip:00442079460000",
        "sip:+882130000000", "sip:#31#12065550111", "sip:90119005550100", "sip:+19005550100@pbx.example.com",
        "sip:9900", "sip:1900", "sip:+15005550100", "sip:%2B19005550100",
    ]  # fmt: skip
    targets += [
        Target("SIP user that is a number or feature code", text, VOICE_CONNECTOR_ARN) for text in sip_users
    ]
    # Only a contact flow (and whoever calls the SMA) can name a voice connector; Slack always
    # uses VOICE_CONNECTOR_ARN, where sip:agent-7 is a legitimate extension, and forwards take
    # no SIP targets at all.
    targets += [
        Target(
            "SIP user on a voice connector not ours",
            text,
            FOREIGN_ARN,
            paths=("connect_transfer", "sma_update"),
        )
        for text in ("sip:agent-7", "sip:1001", "sip:reception")
    ]
    own = [*OURS, *POOL_SMA, *POOL_CONNECT]
    for e164 in own:
        targets += [Target("our own number", e164), Target("our own number", _national(e164))]
    targets += [Target("our own number", f"sip:{e164}", VOICE_CONNECTOR_ARN) for e164 in OURS]
    # Numbers of the Amazon Connect instance that are neither forwarded nor in the DNIS pool: the
    # forward and Slack paths know the instance's numbers; the Connect Lambda and the SIP media
    # application do not list them (docs/reliability.md says why that is acceptable).
    knows_connect = ("cli", "slash", "form", "alert_button", "slack_transfer", "slack_transfer_form")
    for e164 in CONNECT_NUMBERS:
        targets += [
            Target("our own number", e164, paths=knows_connect),
            Target("our own number", _national(e164), paths=knows_connect),
        ]
    return list(dict.fromkeys(targets))


# -- paths --------------------------------------------------------------------------------------


class Paths:
    """Each path: send one target, return True when it was refused (nothing dialled or stored)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.recorder = UpdateRecorder()
        assert h.stack.slack is not None
        self.slack = h.stack.slack
        self.secret = h.secret()
        self.url = self.slack.response_url("tollfraud")
        self.simulator = PstnSimulator(
            h.sma.handler, sip_media_application_id=h.stack.sip_media_application_id
        )
        self._alert_view: dict[str, Any] | None = None

    # -- forwards: refused = no forward stored with the target --------------------------------

    def _forward_refused(self, number: str, before: Any) -> bool:
        refused: bool = self.h.rules().get(number) == before
        if not refused:
            self.h.seed_forwards()  # put the baseline back for the next target
        return refused

    def slash(self, target: Target) -> bool:
        before = self.h.rules().get(UNFORWARDED)
        event = slash_command_event(
            "/forward", f"{UNFORWARDED} to {target.text}", ADMIN, secret=self.secret, response_url=self.url
        )
        self.h.bot.handler(event, self.h.bot_context())
        self.h.settle()
        return self._forward_refused(UNFORWARDED, before)

    def form(self, target: Target) -> bool:
        before = self.h.rules().get(UNFORWARDED)
        view = bot_views.forward_modal(list(OURS), None, "C0OPS")
        view["id"] = "V0TOLLFORM"
        payload = view_submission_payload(view, {"number": UNFORWARDED, "dest_1": target.text}, user_id=ADMIN)
        self.h.bot.handler(interaction_event(payload, self.secret), self.h.bot_context())
        self.h.settle()
        return self._forward_refused(UNFORWARDED, before)

    def alert_button(self, target: Target) -> bool:
        """The alert's "Try another destination" opens the form for the failing number."""
        view = self._alert_form()
        before = self.h.rules().get(FORWARDED)
        payload = view_submission_payload(view, {"dest_1": target.text}, user_id=ADMIN)
        self.h.bot.handler(interaction_event(payload, self.secret), self.h.bot_context())
        self.h.settle()
        return self._forward_refused(FORWARDED, before)

    def _alert_form(self) -> dict[str, Any]:
        if self._alert_view is None:
            value = json.dumps({"number": FORWARDED, "failed": [DESTINATIONS[0]]}, separators=(",", ":"))
            payload = block_actions_payload(
                bot_alerts.TRY_ANOTHER_ACTION,
                value=value,
                block_id=bot_alerts.ACTIONS_BLOCK,
                channel_id="C0ALERTS",
                message={"type": "message", "text": "alert", "ts": f"{time.time():.6f}"},
                user_id=ADMIN,
                trigger_id=self.slack.trigger_id(),
            )
            self.h.bot.handler(interaction_event(payload, self.secret), self.h.bot_context())
            self.h.settle()
            (call,) = self.slack.calls_to("views.open")[-1:]
            self._alert_view = dict(self.slack.open_views[call.response["view"]["id"]])
        return self._alert_view

    # -- transfers: refused = no call update reached Chime SDK Voice --------------------------

    def _live_call(self) -> None:
        now = int(time.time() * 1000)
        self.h.call_log().call_live(LIVE_CALL, LiveCall(FORWARDED, CALLER, DESTINATIONS[0], now, now - 5000))

    def _delivered(self, send: Callable[[], None]) -> bool:
        self._live_call()
        self.h.stack.chime.on_call_update = self.recorder
        count = len(self.recorder.updates)
        try:
            send()
            self.h.settle()
        finally:
            self.h.stack.chime.on_call_update = None
        return len(self.recorder.updates) == count

    def slack_transfer(self, target: Target) -> bool:
        event = slash_command_event(
            "/forward",
            f"transfer {LIVE_CALL} to {target.text}",
            ADMIN,
            secret=self.secret,
            response_url=self.url,
        )
        return self._delivered(lambda: self.h.bot.handler(event, self.h.bot_context()) and None)

    def slack_transfer_form(self, target: Target) -> bool:
        view = {
            "id": "V0TOLLXFER",
            "type": "modal",
            "callback_id": bot_views.TRANSFER_CALLBACK,
            "private_metadata": json.dumps(
                {"transaction_id": LIVE_CALL, "channel_id": "C0OPS", "home": False}
            ),
            "blocks": [
                {
                    "type": "input",
                    "block_id": bot_views.TRANSFER_BLOCK,
                    "label": {"type": "plain_text", "text": "Transfer to"},
                    "element": {"type": "plain_text_input", "action_id": bot_views.TRANSFER_BLOCK},
                }
            ],
        }
        payload = view_submission_payload(view, {bot_views.TRANSFER_BLOCK: target.text}, user_id=ADMIN)
        event = interaction_event(payload, self.secret)
        return self._delivered(lambda: self.h.bot.handler(event, self.h.bot_context()) and None)

    def connect_transfer(self, target: Target) -> bool:
        from switchboard_local.pstn.calls import connect_event

        transaction = f"tx-{uuid.uuid4().hex[:12]}"
        pool = self.h.pool()
        try:
            claim = pool.claim(transaction, CALLER, int(time.time() * 1000))
        except PoolExhaustedError:  # a pair leaked by an earlier part: repair, as an operator would
            self.h.free_pool()
            claim = pool.claim(transaction, CALLER, int(time.time() * 1000))
        parameters = {"TransferTarget": target.sip_user if target.is_sip else target.text}
        if target.arn:
            parameters["TransferTargetArn"] = target.arn
        event = connect_event("TransferCall", claim.pair.sma_number, claim.pair.connect_number, **parameters)
        answer: dict[str, str] = {}

        def send() -> None:
            answer.update(self.h.connect.handler(event, None))

        try:
            delivered_nothing = self._delivered(send)
        finally:
            pool.release(claim.pair, transaction)
        return delivered_nothing and answer.get("status") == "error"

    # -- the SIP media application: refused = it bridges nobody new ---------------------------

    def sma_update(self, target: Target) -> bool:
        arguments = {"Transfer": "true", "TransferTarget": target.sip_user if target.is_sip else target.text}
        if target.arn:
            arguments["TransferTargetArn"] = target.arn
        transcript = self.simulator.place_call(FORWARDED, CALLER, updates=[(15.0, arguments)])
        updated = False
        for event, response in zip(transcript.events, transcript.responses, strict=False):
            if event.get("InvocationEventType") == "CALL_UPDATE_REQUESTED":
                updated = True
                continue
            if not updated or not isinstance(response, dict):
                continue
            for action in response.get("Actions") or []:
                if action.get("Type") == "CallAndBridge":
                    return False
        return True

    # -- the CLI: refused = exit status 2 ------------------------------------------------------

    def cli(self, target: Target) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_"))}
        env.update(self.h.stack.env())
        env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(
            [sys.executable, "-m", "switchboard.cli", "forward", "set", UNFORWARDED, "--", target.text],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode == 2


PATHS: dict[str, str] = {
    "cli": "CLI `switchboard forward set` (subprocess)",
    "slash": "slash command `/forward <n> to <target>`",
    "form": "forward form submission",
    "alert_button": "alert button: try another destination",
    "slack_transfer": "Slack `/forward transfer … to <target>`",
    "slack_transfer_form": "Slack transfer form",
    "connect_transfer": "Connect transfer Lambda (TransferCall)",
    "sma_update": "SIP media application CALL_UPDATE_REQUESTED",
}


def run(h: Harness, *, quick: bool = False) -> list[Figure]:
    targets = corpus()
    paths = Paths(h)
    figures: list[Figure] = []
    h.seed_forwards()
    h.free_pool()
    for name, title in PATHS.items():
        figure = Figure("toll fraud", title)
        chosen = targets[:: max(1, len(targets) // 12)] if quick else targets
        chosen = [target for target in chosen if not target.paths or name in target.paths]
        send: Callable[[Target], bool] = getattr(paths, name)
        failed_by_category: dict[str, int] = {}
        with quiet():
            if name == "cli":
                workers = 2 if quick else 4
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = list(pool.map(send, chosen))
                h.seed_forwards()
            else:
                results = [send(target) for target in chosen]
        for target, refused in zip(chosen, results, strict=True):
            figure.cases += 1
            if not refused:
                figure.fail(
                    f"accepted {target.text!r} ({target.category}{', ' + target.arn if target.arn else ''})"
                )
                failed_by_category[target.category] = failed_by_category.get(target.category, 0) + 1
        figure.detail = (
            "accepted: " + ", ".join(f"{c} {n}" for c, n in sorted(failed_by_category.items()))
            if failed_by_category
            else f"{len({t.category for t in chosen})} categories, all refused"
        )
        figures.append(figure)
    figures[0].detail = f"corpus of {len(targets)} targets; " + figures[0].detail
    return figures
