"""The call-path Lambdas' import graphs stay light: they are on every cold call's post-dial delay.

Neither the SIP media application handler nor the Amazon Connect functions import phonenumbers,
Slack, boto3 (s3transfer) or Powertools: their packages ship none of them (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "phonenumbers",
    "slack_bolt",
    "slack_sdk",
    "boto3",
    "s3transfer",
    "yaml",
    "switchboard.policy",
    "aws_lambda_powertools",
)
ENV = {
    "PYTHONPATH": str(ROOT),
    "TABLE_NAME": "t",
    "PROMPT_BUCKET": "b",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


def printed_by(code: str) -> Any:
    """The JSON that ``code`` prints last, run in a fresh interpreter with the functions' environment."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def loaded_after_import(module: str, probe: str) -> list[str]:
    loaded: list[str] = printed_by(
        f"import json, sys, {module}; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules] + [str({probe})]))"
    )
    return loaded


# Domain code an ordinary forwarded call does not run: imported when a call needs it (a rule with
# hours or people, an Amazon Connect entry number, a transfer request). Lambda packages ship no
# bytecode, so every module a cold start imports is compiled while the caller waits.
ON_DEMAND = (
    "zoneinfo",
    "switchboard.domain.hours",
    "switchboard.domain.people",
    "switchboard.domain.pool",
    "switchboard.domain.transfer",
    "switchboard.adapters.pool",
    "switchboard.adapters.own_numbers",
    "switchboard.adapters.call_control",
)


def test_importing_sma_app_loads_no_heavy_modules() -> None:
    loaded = loaded_after_import("sma.app", "sma.app.dynamodb is not None")
    assert loaded == ["True"], f"sma.app imported {loaded[:-1]} (or built no client)"


def test_a_cold_sma_start_leaves_what_ordinary_calls_do_not_use() -> None:
    code = (
        f"import json, sys, sma.app; print(json.dumps([m for m in {list(ON_DEMAND)!r} if m in sys.modules]))"
    )
    assert printed_by(code) == []


@pytest.mark.parametrize("module", ["connect_lambda.app", "connect_lambda.contact_events"])
def test_importing_the_connect_functions_loads_no_heavy_modules(module: str) -> None:
    loaded = loaded_after_import(module, "True")
    assert loaded == ["True"], f"{module} imported {loaded[:-1]}"
