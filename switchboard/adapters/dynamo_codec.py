"""DynamoDB attribute-value encoding for the few shapes this project stores.

``boto3.dynamodb.types`` would do this, but importing it imports all of boto3 (and s3transfer),
which costs the SMA Lambda tens of milliseconds of cold start for a dozen lines of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Item = dict[str, Any]


def encode(value: Any) -> dict[str, Any]:
    """Python value → attribute value (``{"S": ...}``, ``{"N": ...}``, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def decode(attribute: Mapping[str, Any]) -> Any:
    """Attribute value → Python value. Numbers without a fraction come back as ``int``."""
    ((kind, raw),) = attribute.items()
    if kind == "S":
        return raw
    if kind == "N":
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: decode(v) for k, v in raw.items()}
    if kind == "L":
        return [decode(v) for v in raw]
    if kind == "SS":
        return set(raw)
    raise TypeError(f"unsupported DynamoDB attribute type {kind}")


def encode_item(item: Mapping[str, Any]) -> Item:
    """Encode a flat dict, dropping ``None`` values (DynamoDB items omit absent attributes)."""
    return {k: encode(v) for k, v in item.items() if v is not None}


def decode_item(item: Mapping[str, Any]) -> Item:
    return {k: decode(v) for k, v in item.items()}


def query_all(client: Any, request: Mapping[str, Any]) -> list[Item]:
    """Every item a ``Query`` matches, following ``LastEvaluatedKey`` page after page, decoded.

    Errors are botocore's (``ClientError`` / ``BotoCoreError``): callers turn them into their own
    ``StorageError`` with what they were reading.
    """
    pending = dict(request)
    found: list[Item] = []
    while True:
        page = client.query(**pending)
        found.extend(decode_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return found
        pending["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def is_condition_failure(error: Exception) -> bool:
    """A write refused by its condition: a ``ConditionalCheckFailedException``, or a transaction
    cancelled because one of its conditions failed (a lost race, not a broken store)."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return False
    code = (response.get("Error") or {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = response.get("CancellationReasons") or []
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return True
        # Some SDKs/emulators only put the reasons in the message.
        return "ConditionalCheckFailed" in str((response.get("Error") or {}).get("Message", ""))
    return False
