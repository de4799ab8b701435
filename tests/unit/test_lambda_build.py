"""The build targets package for the runtime the template declares, and the call path gets the
small layer (the packages themselves are checked by tests/functional/test_lambda_packages.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from switchboard_local.aws.template import load_template

ROOT = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, Any] = load_template()["Resources"]


def test_the_makefile_builds_layers_and_bytecode_for_the_templates_runtime() -> None:
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    match = re.search(r"^LAMBDA_PYTHON := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match is not None
    assert runtime == f"python{match.group(1)}"
    for layer in ("DependenciesLayer", "CallPathLayer"):
        assert RESOURCES[layer]["Properties"]["CompatibleRuntimes"] == [runtime]


def test_call_path_functions_use_the_call_path_layer_and_the_bot_the_full_one() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        handler = resource["Properties"]["Handler"]
        layers = resource["Properties"].get("Layers", [])
        if handler.startswith(("sma.", "connect_lambda.")):
            assert layers == [{"Ref": "CallPathLayer"}], name
        elif handler.startswith("bot."):
            assert layers == [{"Ref": "DependenciesLayer"}], name
