"""Slack bot benchmark (``make bench``): import time, and AWS calls made before Slack gets its ack.

1. ``import bot.app`` in fresh interpreters (median), next to ``import boto3`` for scale.
2. For each kind of request, the AWS API calls made while ``bot.app.handler`` produces the HTTP
   response Slack waits for (its 3 s budget), counted with a hook on every botocore client — and,
   separately, the calls made afterwards by the lazy listener invocation.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import BENCH_CREDENTIALS, ROOT, fresh_interpreter_ms, moto_endpoint, progress, report

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
ADMIN = "U0ADMIN"
OURS, OTHER, FIRST = "+12025550100", "+12025550101", "+12065550111"
TARGET = "+13125550199"
FRESH = "(fresh container)"


class ApiCalls:
    """Counts botocore API calls, split by whether a lazy (re-invoked) handler is running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.ack: Counter[str] = Counter()
        self.lazy: Counter[str] = Counter()
        self.ack_services: Counter[str] = Counter()  # before the ack, by AWS service

    def install(self) -> None:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        calls = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            if not getattr(calls.local, "uncounted", False):
                with calls.lock:
                    lazy = getattr(calls.local, "lazy", False)
                    (calls.lazy if lazy else calls.ack)[operation] += 1
                    if not lazy:
                        calls.ack_services[client.meta.service_model.service_name] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]

    def reset(self) -> None:
        with self.lock:
            self.ack.clear()
            self.lazy.clear()
            self.ack_services.clear()


def import_time(rounds: int) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TABLE_NAME": "t",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_BOT_TOKEN": "xoxb-x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    programs = {"python": "pass", "boto3": "import boto3", "bot.app": "import bot.app"}
    med = fresh_interpreter_ms(programs, env, rounds)
    return {
        "rounds": rounds,
        "python_startup_ms": round(med["python"], 1),
        "import_boto3_ms": round(med["boto3"], 1),
        "import_bot_app_ms": round(med["bot.app"], 1),
    }


def ack_calls() -> list[dict[str, Any]]:
    from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
    from switchboard_local.aws.lambda_endpoint import LambdaEndpoint
    from switchboard_local.aws.template import create_table
    from switchboard_local.slack.requests import (
        block_actions_payload,
        interaction_event,
        slash_command_event,
        view_submission_payload,
    )
    from switchboard_local.slack.standin import SlackStandIn

    chime = ChimeVoiceEmulator()
    vc = chime.create_voice_connector("pbx")
    sma = chime.create_sip_media_application("sw", "arn:aws:lambda:us-east-1:123456789012:function:sma")
    chime.seed_phone_numbers([OURS, OTHER], voice_connector_id=vc)
    calls = ApiCalls()
    calls.install()
    rows: list[dict[str, Any]] = []
    with (
        moto_endpoint() as endpoint,
        SlackStandIn(tokens=[TOKEN]) as slack,
        ChimeVoiceServer(chime) as chime_server,
        LambdaEndpoint() as lambdas,
    ):
        os.environ.update(
            {
                **BENCH_CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ENDPOINT_URL_CHIME_SDK_VOICE": chime_server.url,
                "AWS_ENDPOINT_URL_LAMBDA": lambdas.url,
                "TABLE_NAME": "switchboard-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_API_URL": slack.api_url,
                "FORWARD_ADMINS": ADMIN,
                "ALERT_CHANNEL": "C0ALERTS",
                "SIP_MEDIA_APPLICATION_ID": sma,
                "VOICE_CONNECTOR_ID": vc,
                "POWERTOOLS_LOG_LEVEL": "ERROR",
            }
        )
        import boto3

        create_table(boto3.client("dynamodb"), "switchboard-bench")
        import bot.app

        def lazy_handler(event: dict[str, Any], context: Any) -> Any:
            calls.local.lazy = True
            try:
                return bot.app.handler(event, context)
            finally:
                calls.local.lazy = False

        lambdas.register("switchboard-bot", lazy_handler)
        context = lambdas.context("switchboard-bot")

        def slash(text: str) -> dict[str, Any]:
            return slash_command_event(
                "/forward", text, ADMIN, secret=SECRET, response_url=slack.response_url("b")
            )

        # Warm the per-container caches first (inventory, group membership), as a warm Lambda has them.
        bot.app.handler(slash("list"), context)
        bot.app.handler(slash(""), context)
        lambdas.wait_idle(timeout=30)
        view = slack.open_views[slack.calls_to("views.open")[-1].response["view"]["id"]]

        from switchboard.adapters.dynamodb import DynamoCallLog
        from switchboard.domain.events import LiveCall

        call_log = DynamoCallLog(boto3.client("dynamodb"), "switchboard-bench")

        def live_call() -> dict[str, Any]:
            """A call bridged to FIRST; the emulator stands in for the SMA (the target answers at
            once). The SMA's own writes are not the bot's, so they are not counted."""
            calls.local.uncounted = True
            try:
                now = int(time.time() * 1000)
                call_log.call_live("bench-tx", LiveCall(OURS, "+13035550123", FIRST, now, now))
            finally:
                calls.local.uncounted = False

            def sma_answers(application: str, transaction_id: str, arguments: dict[str, str]) -> None:
                calls.local.uncounted = True
                try:
                    now = int(time.time() * 1000)
                    answered = LiveCall(
                        OURS, "+13035550123", arguments["TransferTarget"], now, now, transferred=True
                    )
                    call_log.call_live(transaction_id, answered)
                finally:
                    calls.local.uncounted = False

            chime.on_call_update = sma_answers
            return slash(f"transfer {OURS} to {TARGET}")

        cases: list[tuple[str, Any]] = [
            (f"/forward {OURS} to {FIRST}", lambda: slash(f"{OURS} to {FIRST}")),
            (f"/forward {OURS} to 911 (refused in the ack)", lambda: slash(f"{OURS} to 911")),
            (f"/forward remove {OURS}", lambda: slash(f"remove {OURS}")),
            ("/forward list", lambda: slash("list")),
            (f"/forward status {OURS}", lambda: slash(f"status {OURS}")),
            ("/forward help", lambda: slash("help")),
            ("/forward calls", lambda: slash("calls")),
            (f"/forward transfer {OURS} to {TARGET} (target answers)", live_call),
            (
                f"/forward transfer {OURS} to 911 (refused in the ack)",
                lambda: slash(f"transfer {OURS} to 911"),
            ),
            ("/forward (opens the form)", lambda: slash("")),
            (f"/forward (opens the form) {FRESH}", lambda: slash("")),
            (
                f"form submission: a new forward {FRESH}",
                lambda: interaction_event(
                    view_submission_payload(view, {"number": OTHER, "dest_1": FIRST}, user_id=ADMIN), SECRET
                ),
            ),
            (
                f"App Home: Edit {FRESH}",
                lambda: interaction_event(
                    block_actions_payload("edit_forward", value=OTHER, block_id="rule", user_id=ADMIN), SECRET
                ),
            ),
            (
                f"form submission: an edit {FRESH}",
                lambda: interaction_event(
                    view_submission_payload(last_view(), {"dest_1": TARGET}, user_id=ADMIN), SECRET
                ),
            ),
        ]

        def last_view() -> dict[str, Any]:
            return dict(slack.open_views[slack.calls_to("views.open")[-1].response["view"]["id"]])

        for name, build in cases:
            if name.endswith(FRESH):  # a new container: no phone numbers cached yet
                bot.app.forwarding_service.cache_clear()
            event = build()
            calls.reset()
            started = time.perf_counter()
            response = bot.app.handler(event, context)
            elapsed = time.perf_counter() - started
            before_ack = dict(calls.ack)
            services = dict(calls.ack_services)
            lambdas.wait_idle(timeout=30)
            rows.append(
                {
                    "request": name,
                    "status": response["statusCode"],
                    "ack_ms": round(elapsed * 1000, 1),
                    "aws_calls_before_ack": before_ack,
                    "aws_calls_in_lazy_listener": dict(calls.lazy),
                    "chime_calls_before_ack": services.get("chime-sdk-voice", 0),
                    "table_calls_before_ack": services.get("dynamodb", 0),
                }
            )
    return rows


def render(imports: dict[str, float], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"### `import bot.app` in a fresh interpreter ({imports['rounds']} rounds, medians)",
        "",
        "| python -c pass | import boto3 | import bot.app |",
        "|---|---|---|",
        f"| {imports['python_startup_ms']} ms | {imports['import_boto3_ms']} ms "
        f"| **{imports['import_bot_app_ms']} ms** |",
        "",
        "### AWS API calls while Slack waits for the acknowledgement (warm container unless marked)",
        "",
        "| request | HTTP | ack time | AWS calls before the ack response | AWS calls in the lazy listener |",
        "|---|---|---|---|---|",
    ]

    def fmt(counter: dict[str, int]) -> str:
        return ", ".join(f"{op} ×{n}" for op, n in sorted(counter.items())) or "0"

    for row in rows:
        lines.append(
            f"| {row['request']} | {row['status']} | {row['ack_ms']} ms | {fmt(row['aws_calls_before_ack'])} "
            f"| {fmt(row['aws_calls_in_lazy_listener'])} |"
        )
    lines += [
        "",
        "The rule for every acknowledgement: no Chime SDK Voice call, at most one table read. Here: "
        f"{sum(1 for row in rows if row['chime_calls_before_ack'])} acknowledgement(s) called Chime SDK "
        f"Voice; the most table calls in one was {max(row['table_calls_before_ack'] for row in rows)}.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Slack bot benchmark")
    parser.add_argument("--import-rounds", type=int, default=9)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    progress(f"timing `import bot.app` ({args.import_rounds} fresh interpreters)")
    imports = import_time(args.import_rounds)
    progress("counting AWS calls before and after each Slack acknowledgement")
    rows = ack_calls()
    return report(render(imports, rows), {"imports": imports, "requests": rows}, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
