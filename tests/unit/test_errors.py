"""One map of the exceptions (switchboard/errors.py), one meaning per class name, one copy of each helper."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from switchboard import errors, ports
from switchboard.adapters.dynamo_codec import is_condition_failure
from tests.helpers import PACKAGES, ROOT, python_files

EXCEPTION_BASES = {"Exception", "ValueError", "RuntimeError", "LookupError"}


def _exception_classes(paths: list[Path]) -> set[str]:
    """Classes deriving (through classes of the same files) from a built-in exception."""
    bases: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {base.id for base in node.bases if isinstance(base, ast.Name)}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in found and parents & (EXCEPTION_BASES | found):
                found.add(name)
                changed = True
    return found


def test_the_hierarchy_drawing_names_every_exception_of_the_shared_library() -> None:
    defined = _exception_classes(python_files("switchboard"))
    assert "ConcurrentChangeError" in defined  # the scan itself works
    missing = sorted(name for name in defined if name not in (errors.__doc__ or ""))
    assert missing == []


def test_ports_hands_out_the_port_errors_of_switchboard_errors() -> None:
    for name in (
        "StorageError",
        "InventoryError",
        "ConflictError",
        "RoutingError",
        "NoHomeError",
        "CallControlError",
    ):
        assert getattr(ports, name) is getattr(errors, name)


def test_no_two_classes_share_a_name() -> None:
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path in python_files(*PACKAGES):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_one_condition_failure_check() -> None:
    definitions = [
        f"{path.relative_to(ROOT)}:{node.name}"
        for path in python_files(*PACKAGES)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and "condition_failure" in node.name
    ]
    assert definitions == ["switchboard/adapters/dynamo_codec.py:is_condition_failure"]


def _client_error(code: str, message: str = "", reasons: list[dict[str, str]] | None = None) -> ClientError:
    response: dict[str, object] = {"Error": {"Code": code, "Message": message}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "Write")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("ConditionalCheckFailedException"), True),
        (
            _client_error(
                "TransactionCanceledException", reasons=[{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]
            ),
            True,
        ),
        (_client_error("TransactionCanceledException", "reasons [None, ConditionalCheckFailed]"), True),
        (_client_error("TransactionCanceledException", reasons=[{"Code": "ThrottlingError"}]), False),
        (_client_error("ProvisionedThroughputExceededException"), False),
    ],
)
def test_condition_failure_alone_or_inside_a_transaction(error: ClientError, expected: bool) -> None:
    assert is_condition_failure(error) is expected
