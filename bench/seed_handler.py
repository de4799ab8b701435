"""The baseline ``make bench`` compares ``sma.app.handler`` with: the public call-forwarding
sample's SIP media application handler, cut down to what a forwarded call needs.

Like the sample's Python ``smaHandler``: a ``boto3`` DynamoDB client built at import, the standard
library's root logger with a line or two per event, one ``GetItem`` per new call (keyed by the dialed
number, the destination in one attribute), and one ``CallAndBridge`` with a looping greeting in
response. No call state, no records, no metrics. Written for the benchmark (not copied), so both
sides answer the same event with the same action against the same canned endpoint.

The Lambda Python runtime gives the root logger a stdout handler; this module adds the same one
when nothing else has, so the log line is formatted and written as it would be on Lambda.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import boto3
from botocore.config import Config

SEED_TABLE = "calledNumber"

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
if not logger.handlers:
    _stdout = logging.StreamHandler(sys.stdout)
    _stdout.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(message)s"))
    logger.addHandler(_stdout)

wav_bucket = os.environ.get("PROMPT_BUCKET", "")
dynamodb = boto3.client(
    "dynamodb", config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 5})
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One event of one call: a new call is bridged to the number its dialed number maps to."""
    event_type = event["InvocationEventType"]
    leg_a = event["CallDetails"]["Participants"][0]
    prefix = f"Call-ID:{leg_a['CallId']} {event_type} From:[{leg_a['From']}] To:[{leg_a['To']}]:"
    if event_type != "NEW_INBOUND_CALL":
        logger.info("RECV %s", prefix)
        return {"SchemaVersion": "1.0", "Actions": []}
    logger.info("RECV %s New inbound call initiated", prefix)
    item = dynamodb.get_item(TableName=SEED_TABLE, Key={"dialed_number": {"S": leg_a["To"]}}).get("Item")
    if not item:
        return {"SchemaVersion": "1.0", "Actions": [_hangup(leg_a["CallId"])]}
    bridge = {
        "Type": "CallAndBridge",
        "Parameters": {
            "CallTimeoutSeconds": 30,
            "CallerIdNumber": leg_a["To"],
            "RingbackTone": {"Type": "S3", "BucketName": wav_bucket, "Key": "prompts/ringback.wav"},
            "Endpoints": [{"Uri": item["destination_number"]["S"], "BridgeEndpointType": "PSTN"}],
        },
    }
    logger.info("SEND %s Sending CallAndBridge action with greeting ringback", prefix)
    return {"SchemaVersion": "1.0", "Actions": [bridge]}


def _hangup(call_id: str) -> dict[str, Any]:
    return {"Type": "Hangup", "Parameters": {"CallId": call_id, "SipResponseCode": "0"}}
