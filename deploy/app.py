"""Entry point of the deploy helper Lambda (``deploy.app.handler``).

CloudFormation invokes it for each custom resource of ``template.yaml`` and then waits for the
answer PUT to ResponseURL. Whatever happens (an unknown resource type, an AWS error, a bug, the
function about to time out) the handler answers, so a stack never hangs for an hour.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from deploy import connect_hand_back, prompts, sip_media_application
from deploy.cfn_response import (
    FAILED_CREATE_PREFIX,
    PUT_ATTEMPTS,
    PUT_TIMEOUT_SECONDS,
    RETRY_DELAY_SECONDS,
    LambdaContext,
    Request,
    ResourceResult,
    Responder,
)

logger = logging.getLogger("deploy")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

HANDLERS: Mapping[str, Callable[[Request], ResourceResult]] = {
    "Custom::SipMediaApplication": sip_media_application.handle,
    "Custom::PromptUpload": prompts.handle,
    "Custom::ConnectHandBack": connect_hand_back.handle,
}

# Answer FAILED this long before Lambda would kill the function without a word to CloudFormation:
# long enough for every attempt of the response PUT (each may wait its full timeout) and the
# pauses between them, plus a little for the log line.
TIMEOUT_MARGIN_SECONDS = (
    PUT_ATTEMPTS * PUT_TIMEOUT_SECONDS + sum(range(1, PUT_ATTEMPTS)) * RETRY_DELAY_SECONDS + 2.0
)


def handler(event: Mapping[str, Any], context: LambdaContext) -> None:
    """Create, update or delete one custom resource and always answer CloudFormation."""
    if not isinstance(event.get("ResponseURL"), str):
        logger.error("not a CloudFormation custom resource request (no ResponseURL); nobody to answer")
        return
    request = cast(Request, event)
    responder = Responder(request, context)
    # On failure, keep the existing id (a new one would make CloudFormation delete the old
    # resource); a failed Create gets a placeholder its rollback Delete recognises.
    fallback_id = request.get("PhysicalResourceId") or f"{FAILED_CREATE_PREFIX}{request.get('RequestId', '')}"
    guard = _timeout_guard(responder, context, fallback_id)
    try:
        outcome = _dispatch(request)
    except Exception as error:
        logger.exception(
            "%s of %s (%s) failed",
            request.get("RequestType"),
            request.get("LogicalResourceId"),
            request.get("ResourceType"),
        )
        responder.send("FAILED", fallback_id, f"{type(error).__name__}: {error} ({responder.log_hint()})")
    else:
        logger.info(
            "%s of %s done: %s %s",
            request["RequestType"],
            request["LogicalResourceId"],
            outcome.physical_resource_id,
            dict(outcome.data),
        )
        responder.send("SUCCESS", outcome.physical_resource_id, outcome.reason, data=outcome.data)
    finally:
        if guard is not None:
            guard.cancel()


def _dispatch(request: Request) -> ResourceResult:
    """Route by ResourceType; an unknown type is an error in the template, reported as such."""
    resource_type = request.get("ResourceType", "")
    if request.get("RequestType") not in ("Create", "Update", "Delete"):
        raise ValueError(f"unknown RequestType {request.get('RequestType')!r}")
    handle = HANDLERS.get(resource_type)
    if handle is None and request["RequestType"] == "Delete":
        # Nothing of ours to delete; failing would leave the stack stuck in DELETE_FAILED.
        logger.warning("Delete of unknown ResourceType %r: nothing to do", resource_type)
        return ResourceResult(request.get("PhysicalResourceId", ""))
    if handle is None:
        raise ValueError(f"unknown ResourceType {resource_type!r}; expected one of {', '.join(HANDLERS)}")
    return handle(request)


def _timeout_guard(
    responder: Responder, context: LambdaContext, physical_resource_id: str
) -> threading.Timer | None:
    """Arm a timer that answers FAILED just before the function would time out."""
    try:
        remaining = context.get_remaining_time_in_millis() / 1000.0
    except Exception:
        logger.warning("no remaining-time information; running without a timeout guard")
        return None
    delay = remaining - TIMEOUT_MARGIN_SECONDS
    if delay <= 0:
        return None

    def expire() -> None:
        logger.error("about to time out; answering FAILED")
        responder.send("FAILED", physical_resource_id, f"timed out ({responder.log_hint()})")

    timer = threading.Timer(delay, expire)
    timer.daemon = True
    timer.start()
    return timer
