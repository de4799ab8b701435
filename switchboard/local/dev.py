"""``switchboard dev``: run the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import shlex

from switchboard.local.stack import STATE_FILE, LocalStack


def serve(quiet: bool = False) -> int:
    from switchboard.cli import wait_for_interrupt

    stack = LocalStack()
    env = stack.start()
    try:
        stack.write_state_file()
        exports = "\n".join(f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items()))
        if quiet:
            print(exports, flush=True)
        else:
            print(
                "switchboard local stack is up (no AWS account involved).\n\n"
                f"  DynamoDB, S3, Secrets Manager (moto): {env['AWS_ENDPOINT_URL']}\n"
                f"  Chime SDK Voice emulator:             {env['AWS_ENDPOINT_URL_CHIME_SDK_VOICE']}\n"
                f"  table {env['TABLE_NAME']} (from template.yaml), prompts in s3://{env['PROMPT_BUCKET']}/prompts/\n"
                f"  SIP media application {env['SIP_MEDIA_APPLICATION_ID']}, "
                f"voice connector {env['VOICE_CONNECTOR_ID']}\n"
                f"  our numbers: {', '.join(stack.numbers)} (all on the voice connector)\n\n"
                "In another shell, the switchboard commands find this stack by themselves:\n"
                f"  switchboard forward set {stack.numbers[0]} +12065550111 +13125550122\n"
                f"  switchboard call {stack.numbers[0]} --no-answer --answer\n"
                "  switchboard forward list\n\n"
                "To point other tools (aws cli, boto3 scripts) at it:\n"
                f"{exports}\n\nCtrl-C stops it.",
                flush=True,
            )
        wait_for_interrupt()
    finally:
        STATE_FILE.unlink(missing_ok=True)
        stack.stop()
        if not quiet:
            print("\nlocal stack stopped.")
    return 0
