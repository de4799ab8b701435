"""The SMA Lambda's import graph stays light: it is on every cold call's post-dial delay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("phonenumbers", "slack_bolt", "slack_sdk", "boto3", "s3transfer", "yaml", "switchboard.policy")


def test_importing_sma_app_loads_no_heavy_modules() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TABLE_NAME": "t",
        "PROMPT_BUCKET": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    code = (
        "import json, sys, sma.app; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules] + "
        "[str(sma.app.dynamodb is not None)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == ["True"], f"sma.app imported {loaded[:-1]} (or built no client)"
