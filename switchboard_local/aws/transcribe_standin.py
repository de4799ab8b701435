"""A local Amazon Transcribe for voicemail: the batch-job API over HTTP, and the job-state events.

It exercises the plumbing, not speech recognition. The PSTN Audio simulator writes a caller's
recording with the words the caller was scripted to say in the object's user metadata
(``x-amz-meta-said``); this stand-in "transcribes" a recording by returning those words.
Everything around it is the real path: the notifier starts the job with the unmodified boto3
``transcribe`` client (``AWS_ENDPOINT_URL_TRANSCRIBE`` points here), the job completes a moment
later, the stand-in hands the "Transcribe Job State Change" event to ``on_state_change`` (the local
stack invokes ``bot.transcripts.handler`` asynchronously with it, as the EventBridge rule does), and
the handler reads the transcript from the job's ``TranscriptFileUri`` (served here).

What it answers (JSON 1.1, ``X-Amz-Target: Transcribe.<Operation>``):

* ``StartTranscriptionJob``: ``TranscriptionJobName`` (a name in use → ``ConflictException``),
  ``LanguageCode``, ``Media.MediaFileUri`` (``s3://bucket/key``; an object that does not exist makes
  the job FAIL, as Transcribe does). The job is IN_PROGRESS, then COMPLETED after ``delay`` seconds.
* ``GetTranscriptionJob`` / ``DeleteTranscriptionJob``: unknown name → ``NotFoundException``.
* ``GET /transcripts/<job>.json``: the transcript document (``results.transcripts[0].transcript``),
  404 once the job is deleted (as Transcribe's pre-signed URL stops working).

:meth:`TranscribeStandIn.fail_next` makes the next job FAIL (``FailureReason`` given), for tests
and the demo.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from switchboard_local.http_server import LocalHttpServer

StateListener = Callable[[dict[str, Any]], None]
SAID_METADATA = "said"  # the simulator's user metadata: the words the caller said
REGION = "us-east-1"
ACCOUNT = "123456789012"


class _ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class TranscribeStandIn(LocalHttpServer):
    """``s3`` is a boto3 S3 client on the stack's moto; ``on_state_change`` receives each job's
    EventBridge event when it reaches COMPLETED or FAILED."""

    server_name = "Transcribe stand-in"

    def __init__(self, s3: Any, on_state_change: StateListener | None = None, *, delay: float = 0.05) -> None:
        super().__init__()
        self.s3 = s3
        self.on_state_change = on_state_change
        self.delay = delay
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._transcripts: dict[str, str] = {}
        self._failures: list[str] = []
        self.events: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return self.origin

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    # ---------------------------------------------------------------- test API

    def fail_next(self, reason: str = "The media file could not be transcribed.") -> None:
        with self._lock:
            self._failures.append(reason)

    def job(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(name)
            return dict(job) if job else None

    # ---------------------------------------------------------------- operations

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "StartTranscriptionJob":
            return self._start(params)
        if operation == "GetTranscriptionJob":
            return {"TranscriptionJob": self._get(str(params.get("TranscriptionJobName", "")))}
        if operation == "DeleteTranscriptionJob":
            name = str(params.get("TranscriptionJobName", ""))
            with self._lock:
                if self._jobs.pop(name, None) is None:
                    raise _ApiError("NotFoundException", "The requested job couldn't be found.")
                self._transcripts.pop(name, None)
            return {}
        raise _ApiError("UnknownOperationException", f"the stand-in does not implement {operation}")

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("TranscriptionJobName") or "")
        uri = str((params.get("Media") or {}).get("MediaFileUri") or "")
        if not name or not uri.startswith("s3://") or not params.get("LanguageCode"):
            raise _ApiError(
                "BadRequestException",
                "TranscriptionJobName, LanguageCode and Media.MediaFileUri are required",
            )
        with self._lock:
            if name in self._jobs:
                raise _ApiError("ConflictException", "The requested job name already exists.")
            failure = self._failures.pop(0) if self._failures else None
            job = {
                "TranscriptionJobName": name,
                "TranscriptionJobStatus": "IN_PROGRESS",
                "LanguageCode": params["LanguageCode"],
                "MediaFormat": params.get("MediaFormat", "wav"),
                "Media": {"MediaFileUri": uri},
                "CreationTime": time.time(),
                "StartTime": time.time(),
            }
            self._jobs[name] = job
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        timer = threading.Timer(self.delay, self._finish, args=(name, bucket, key, failure))
        timer.daemon = True
        timer.start()
        return {"TranscriptionJob": dict(job)}

    def _finish(self, name: str, bucket: str, key: str, failure: str | None) -> None:
        text = ""
        if failure is None:
            try:
                metadata = self.s3.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
                text = unquote(str(metadata.get(SAID_METADATA) or ""))
            except Exception:  # the object is missing or unreadable: Transcribe fails the job too
                failure = "The URI that you provided doesn't point to an S3 object that exists."
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                return  # deleted meanwhile
            job["CompletionTime"] = time.time()
            if failure is None:
                job["TranscriptionJobStatus"] = "COMPLETED"
                job["Transcript"] = {"TranscriptFileUri": f"{self.origin}/transcripts/{name}.json"}
                self._transcripts[name] = text
            else:
                job["TranscriptionJobStatus"] = "FAILED"
                job["FailureReason"] = failure
            status = job["TranscriptionJobStatus"]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Transcribe Job State Change",
            "source": "aws.transcribe",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [],
            "detail": {"TranscriptionJobName": name, "TranscriptionJobStatus": status},
        }
        self.events.append(event)
        if self.on_state_change is not None:
            self.on_state_change(event)

    def _get(self, name: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise _ApiError("NotFoundException", "The requested job couldn't be found.")
            return dict(job)

    def transcript_document(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            if name not in self._transcripts:
                return None
            text = self._transcripts[name]
        return {
            "jobName": name,
            "accountId": ACCOUNT,
            "status": "COMPLETED",
            "results": {"transcripts": [{"transcript": text}], "items": []},
        }


def _handler_class(standin: TranscribeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1
        disable_nagle_algorithm = True

        def _send(self, status: int, body: dict[str, Any], content_type: str) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            name = path.removeprefix("/transcripts/").removesuffix(".json")
            document = standin.transcript_document(name) if path.startswith("/transcripts/") else None
            if document is None:
                self._send(404, {"error": "AccessDenied"}, "application/json")
                return
            self._send(200, document, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            target = self.headers.get("X-Amz-Target") or ""
            operation = target.rpartition(".")[2]
            try:
                params = json.loads(raw or b"{}")
                body = standin.handle(operation, params if isinstance(params, dict) else {})
                self._send(200, body, "application/x-amz-json-1.1")
            except _ApiError as error:
                self._send(
                    error.status,
                    {"__type": error.code, "Message": error.message},
                    "application/x-amz-json-1.1",
                )
            except Exception as error:  # a stand-in bug: say so rather than drop the connection
                self._send(
                    500,
                    {"__type": "InternalFailureException", "Message": repr(error)},
                    "application/x-amz-json-1.1",
                )

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler
