"""``sam build`` makes packages that hold what each function imports, and the call path stays small.

A cold SIP media application or Amazon Connect container fetches and unpacks its code and layers
while a caller waits, so those functions get a layer with only what they import (CallPathLayer:
tzdata) and must stay under 10 MB unpacked; the bot's functions still get Slack, phonenumbers and
Powertools. Each package is imported the way Lambda would: a fresh interpreter whose path is the
function's code, its layers' ``python/`` and the packages the Lambda Python runtime brings (boto3,
botocore and their dependencies), nothing else.

Needs the AWS SAM CLI (``.ci/run`` installs it with ``make sam-cli``) and the package index (the
layers are pip-installed for arm64 / CPython 3.12).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard_local.aws.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CALL_PATH_LIMIT_BYTES = 10 * 1024 * 1024
CALL_PATH_PREFIXES = ("sma.", "connect_lambda.")
# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def find_sam() -> str | None:
    """The SAM CLI `make build` uses: on PATH, else the one `make sam-cli` installs."""
    local = ROOT / ".venv-sam" / "bin" / "sam"
    return shutil.which("sam") or (str(local) if local.exists() else None)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sam = find_sam()
    if sam is None:
        pytest.skip(
            "the AWS SAM CLI is not installed (`make sam-cli` installs it in .venv-sam; .ci/run does)"
        )
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    env = {
        **os.environ,
        # The build-* targets run `python3 -m pip`: this interpreter's, as `make build` arranges.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    result = subprocess.run(
        [sam, "build", "--build-dir", str(build_dir), "--cache-dir", str(build_dir.parent / "cache")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return build_dir


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding (links to) what the Lambda Python runtime puts on the path."""
    directory = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"{name} is not installed here"
        assert spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


def functions(built: Path) -> Iterator[tuple[str, Path, list[Path], str]]:
    """(name, code dir, layer dirs, handler) of every function in the built template."""
    resources: dict[str, Any] = load_template(built / "template.yaml")["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        layers = [
            built / resources[layer["Ref"]]["Properties"]["ContentUri"]
            for layer in properties.get("Layers", [])
        ]
        yield name, built / properties["CodeUri"], layers, properties["Handler"]


def unpacked_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def import_in_package(code: Path, layers: list[Path], runtime: Path, program: str) -> dict[str, Any]:
    """Run ``program`` in a fresh interpreter that sees only the package, its layers and the runtime."""
    path = [str(code), *(str(layer / "python") for layer in layers), str(runtime)]
    bootstrap = f"import sys; sys.path[:0] = {path!r}\n"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TABLE_NAME": "t",
        "PROMPT_BUCKET": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        # No system time zone database, as on Lambda's image: zoneinfo must use the tzdata package.
        "PYTHONTZPATH": "",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-S", "-c", bootstrap + program],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"in {code.name}:\n{result.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_call_path_functions_ship_under_10_mb_with_only_what_they_import(
    built: Path, runtime_dir: Path
) -> None:
    call_path = [f for f in functions(built) if f[3].startswith(CALL_PATH_PREFIXES)]
    assert {name for name, *_ in call_path} >= {"SmaFunction", "ConnectFunction", "ContactEventsFunction"}
    for name, code, layers, handler in call_path:
        size = unpacked_size(code) + sum(unpacked_size(layer) for layer in layers)
        assert size < CALL_PATH_LIMIT_BYTES, f"{name}: code + layers are {size / 1e6:.1f} MB unpacked"
        module = handler.rpartition(".")[0]
        loaded = import_in_package(
            code,
            layers,
            runtime_dir,
            f"import json, sys, zoneinfo, {module}\n"
            "zoneinfo.ZoneInfo('America/Chicago')\n"
            "heavy = ('aws_lambda_powertools', 'phonenumbers', 'slack_bolt', 'slack_sdk')\n"
            "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))",
        )
        assert loaded == [], f"{name} loaded {loaded}"
        for layer in layers:
            shipped = {path.name for path in (layer / "python").iterdir()}
            assert not shipped & {"aws_lambda_powertools", "phonenumbers", "slack_bolt", "slack_sdk"}, name


def test_bot_functions_still_get_slack_phonenumbers_and_powertools(built: Path, runtime_dir: Path) -> None:
    bot = [f for f in functions(built) if f[3].startswith("bot.")]
    assert {name for name, *_ in bot} >= {
        "BotFunction",
        "ExpiryFunction",
        "NotifierFunction",
        "DigestFunction",
    }
    for name, code, layers, _ in bot:
        found = import_in_package(
            code,
            layers,
            runtime_dir,
            "import json, zoneinfo, phonenumbers, slack_bolt, aws_lambda_powertools, switchboard.policy\n"
            "zoneinfo.ZoneInfo('Europe/Berlin')\n"
            "print(json.dumps(phonenumbers.format_number(phonenumbers.parse('+12025550100'), 0)))",
        )
        assert found == "+12025550100", name
