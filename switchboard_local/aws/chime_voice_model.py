"""The ``chime-sdk-voice`` REST-JSON wire protocol, read from botocore's own service model.

Why derive it instead of hand-writing routes: the emulator must accept exactly what the unmodified
boto3 client sends and answer exactly what it parses. botocore ships the model it builds requests
from, so routing (``http.method`` + ``http.requestUri``, including query-string discriminators such
as ``?operation=associate-phone-numbers``), member locations (uri / querystring / header / body),
wire names (``locationName``), constraints (``required``, ``enum``, ``min``/``max``, ``pattern``),
timestamp formats, success codes (``responseCode``) and error statuses (``error.httpStatusCode``)
all come from the same file, and a botocore upgrade that changes the API changes the emulator too.

This module knows nothing about phone numbers or SIP rules: it turns an HTTP request into an
operation name plus validated input members, and an output mapping (or an :class:`ApiError`) back
into an HTTP response that botocore parses into the documented shapes and modelled exceptions.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

SERVICE_NAME = "chime-sdk-voice"

# Codes that are not in the model: the emulator's own answers about routing.
UNKNOWN_OPERATION = "UnknownOperationException"

Query = list[tuple[str, str]]


class ApiError(Exception):
    """An error answer; ``code`` is the modelled exception name (``NotFoundException``...)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def bad_request(message: str) -> ApiError:
    return ApiError("BadRequestException", message)


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group -> URI label (``phoneNumberId``)
    literals: tuple[tuple[str, str | None], ...]  # query discriminators: key, value (None = any)

    @property
    def specificity(self) -> tuple[int, int]:
        return len(self.literals), self.pattern.pattern.count("/")


def _compile(operation: OperationModel) -> _Route:
    path, _, query = operation.http["requestUri"].partition("?")
    labels: dict[str, str] = {}
    regex = ""
    for index, part in enumerate(re.split(r"(\{[^}]+\})", path)):
        if part.startswith("{") and part.endswith("}"):
            label = part[1:-1]
            greedy = label.endswith("+")
            group = f"g{index}"
            labels[group] = label.rstrip("+")
            regex += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        else:
            regex += re.escape(part)
    literals: list[tuple[str, str | None]] = []
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        literals.append((key, value if sep else None))
    return _Route(operation, operation.http["method"], re.compile(regex), labels, tuple(literals))


def _parse_query(raw: str) -> Query:
    """Percent-decoding only: botocore encodes ``+`` as ``%2B``, so a literal ``+`` stays ``+``."""
    pairs: Query = []
    for item in filter(None, raw.split("&")):
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def format_timestamp(value: datetime, fmt: str) -> str | float:
    value = value.astimezone(UTC)
    if fmt == "iso8601":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if fmt == "rfc822":
        return format_datetime(value, usegmt=True)
    return value.timestamp()


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise TypeError("expected a timestamp")


class ChimeVoiceProtocol:
    """Routing, input parsing/validation and output/error serialisation for one service model."""

    def __init__(self, model: ServiceModel | None = None) -> None:
        self.model = model or botocore.session.get_session().get_service_model(SERVICE_NAME)
        routes = [_compile(self.model.operation_model(name)) for name in self.model.operation_names]
        self._routes = sorted(routes, key=lambda route: route.specificity, reverse=True)
        self._error_status: dict[str, int] = {}
        for shape in self.model.error_shapes:
            status = shape.metadata.get("error", {}).get("httpStatusCode")
            if status:
                self._error_status[shape.name] = int(status)

    # ------------------------------------------------------------------------------ requests

    def route(self, method: str, target: str) -> tuple[OperationModel, dict[str, str], Query]:
        """The operation a request line names, its URI labels and its query string."""
        raw_path, _, raw_query = target.partition("?")
        query = _parse_query(raw_query)
        keys = dict(query)
        path_matched = False
        for route in self._routes:
            match = route.pattern.fullmatch(raw_path)
            if match is None:
                continue
            path_matched = True
            if route.method != method:
                continue
            if all(key in keys and (value is None or keys[key] == value) for key, value in route.literals):
                labels = {route.labels[group]: unquote(value) for group, value in match.groupdict().items()}
                return route.operation, labels, query
        detail = "no operation of this method on that path" if path_matched else "no such path"
        raise ApiError(
            UNKNOWN_OPERATION,
            f"{method} {raw_path} matches no {SERVICE_NAME} operation ({detail})",
            404,
        )

    def parse_input(
        self,
        operation: OperationModel,
        labels: Mapping[str, str],
        query: Query,
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """Input members by their model names, validated against the model (BadRequest otherwise)."""
        shape = operation.input_shape
        if shape is None:
            return {}
        payload: Any = {}
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError as error:
                raise bad_request(f"request body is not valid JSON: {error}") from error
            if not isinstance(payload, dict):
                raise bad_request("request body must be a JSON object")
        lower_headers = {key.lower(): value for key, value in headers.items()}
        values: dict[str, Any] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            try:
                if location == "uri":
                    if wire in labels:
                        values[name] = self._scalar(member, labels[wire])
                elif location == "querystring":
                    found = [value for key, value in query if key == wire]
                    if isinstance(member, ListShape):
                        if found:
                            values[name] = [self._scalar(member.member, value) for value in found]
                    elif found:
                        values[name] = self._scalar(member, found[0])
                elif location == "header":
                    if wire.lower() in lower_headers:
                        values[name] = self._scalar(member, lower_headers[wire.lower()])
                elif location is None and wire in payload:
                    values[name] = self._from_json(member, payload[wire])
            except (TypeError, ValueError) as error:
                raise bad_request(f"invalid value for {name}: {error}") from error
        problems = self._validate(shape, values, "")
        if problems:
            count = len(problems)
            raise bad_request(
                f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
            )
        return values

    @staticmethod
    def _scalar(shape: Shape, text: str) -> Any:
        kind = shape.type_name
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{text!r} is not a boolean")
            return text.lower() == "true"
        if kind == "timestamp":
            return _parse_timestamp(text)
        return text

    def _from_json(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if value is None:
            return None
        if isinstance(shape, StructureShape):
            if not isinstance(value, dict):
                raise TypeError(f"expected an object for {shape.name}")
            result: dict[str, Any] = {}
            for name, member in shape.members.items():
                wire = member.serialization.get("name", name)
                if wire in value:
                    result[name] = self._from_json(member, value[wire])
            return result
        if isinstance(shape, ListShape):
            if not isinstance(value, list):
                raise TypeError(f"expected a list for {shape.name}")
            return [self._from_json(shape.member, item) for item in value]
        if isinstance(shape, MapShape):
            if not isinstance(value, dict):
                raise TypeError(f"expected a map for {shape.name}")
            return {key: self._from_json(shape.value, item) for key, item in value.items()}
        if kind == "timestamp":
            return _parse_timestamp(value)
        if kind == "blob":
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, TypeError) as error:
                raise TypeError("expected base64") from error
        return value

    def _validate(self, shape: Shape, value: Any, path: str) -> list[str]:
        """The model's constraints; patterns must match the whole value (as the service enforces)."""
        where = path or shape.name
        kind = shape.type_name
        problems: list[str] = []
        meta = shape.metadata
        if isinstance(shape, StructureShape):
            if not isinstance(value, dict):
                return [f"{where} must be an object"]
            for name in shape.required_members:
                if value.get(name) is None:
                    problems.append(f"missing required member {path + '.' if path else ''}{name}")
            for name, item in value.items():
                if item is not None and name in shape.members:
                    child = f"{path}.{name}" if path else name
                    problems += self._validate(shape.members[name], item, child)
            return problems
        if isinstance(shape, ListShape | MapShape):
            expected = list if isinstance(shape, ListShape) else dict
            if not isinstance(value, expected):
                return [f"{where} must be a {kind}"]
            if "min" in meta and len(value) < meta["min"]:
                problems.append(f"{where} must have at least {meta['min']} entries")
            if "max" in meta and len(value) > meta["max"]:
                problems.append(f"{where} must have at most {meta['max']} entries, got {len(value)}")
            if isinstance(shape, ListShape):
                for index, item in enumerate(value):
                    problems += self._validate(shape.member, item, f"{where}[{index}]")
            elif isinstance(shape, MapShape) and isinstance(value, dict):
                for key, item in value.items():
                    problems += self._validate(shape.key, key, f"{where} key")
                    problems += self._validate(shape.value, item, f"{where}[{key}]")
            return problems
        if kind == "string":
            if not isinstance(value, str):
                return [f"{where} must be a string"]
            enum = meta.get("enum")
            if enum and value not in enum:
                problems.append(f"{where} {value!r} must be one of [{', '.join(enum)}]")
            if "min" in meta and len(value) < meta["min"]:
                problems.append(f"{where} must be at least {meta['min']} characters")
            if "max" in meta and len(value) > meta["max"]:
                problems.append(f"{where} must be at most {meta['max']} characters")
            pattern = meta.get("pattern")
            if pattern and re.fullmatch(pattern, value) is None:
                problems.append(f"{where} {value!r} must match the pattern {pattern}")
            return problems
        if kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                return [f"{where} must be an integer"]
            if "min" in meta and value < meta["min"]:
                problems.append(f"{where} must be at least {meta['min']}")
            if "max" in meta and value > meta["max"]:
                problems.append(f"{where} must be at most {meta['max']}")
            return problems
        if kind == "boolean" and not isinstance(value, bool):
            return [f"{where} must be a boolean"]
        return problems

    # ------------------------------------------------------------------------------ responses

    def serialise_output(
        self, operation: OperationModel, output: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        """Status (``responseCode``), headers and JSON body for a successful call."""
        status = int(operation.http.get("responseCode", 200))
        headers = self._base_headers()
        shape = operation.output_shape
        body: dict[str, Any] = {}
        if shape is not None:
            for name, member in shape.members.items():
                value = output.get(name)
                if value is None:
                    continue
                location = member.serialization.get("location")
                wire = member.serialization.get("name", name)
                if location == "statusCode":
                    status = int(value)
                elif location == "header":
                    headers[wire] = str(self._to_json(member, value, "rfc822"))
                elif location is None:
                    body[wire] = self._to_json(member, value, "unixTimestamp")
        if shape is None or status == 204:
            headers["Content-Length"] = "0"
            return status, headers, b""
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(data))
        return status, headers, data

    def _to_json(self, shape: Shape, value: Any, default_timestamp: str) -> Any:
        kind = shape.type_name
        if isinstance(shape, StructureShape):
            result: dict[str, Any] = {}
            for name, member in shape.members.items():
                item = value.get(name)
                if item is not None:
                    wire = member.serialization.get("name", name)
                    result[wire] = self._to_json(member, item, default_timestamp)
            return result
        if isinstance(shape, ListShape):
            return [self._to_json(shape.member, item, default_timestamp) for item in value]
        if isinstance(shape, MapShape):
            return {key: self._to_json(shape.value, item, default_timestamp) for key, item in value.items()}
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat") or default_timestamp
            return format_timestamp(value, fmt)
        if kind == "blob":
            return base64.b64encode(value).decode()
        return value

    def serialise_error(self, error: ApiError) -> tuple[int, dict[str, str], bytes]:
        """The status the model gives the exception, ``x-amzn-ErrorType`` and a Code/Message body."""
        status = error.status or self._error_status.get(error.code, 400)
        data = json.dumps({"Code": error.code, "Message": error.message}).encode()
        headers = self._base_headers()
        headers["x-amzn-ErrorType"] = error.code
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(data))
        return status, headers, data

    def error_status(self, code: str) -> int | None:
        return self._error_status.get(code)

    @staticmethod
    def _base_headers() -> dict[str, str]:
        return {"x-amzn-RequestId": str(uuid.uuid4())}
