"""``Custom::PromptUpload``: copy the bundled prompts into the stack's prompt bucket.

PSTN Audio and Amazon Connect play prompts only from S3, so the defaults shipped in the repository
have to be put there by the deployment: ``prompts/*.wav`` (16-bit PCM, the SIP media application's)
at ``<Prefix><name>.wav`` and ``prompts/connect/*.wav`` (u-law, the forwarding contact flow's) at
``<Prefix>connect/<name>.wav``, where ``connect_lambda.app.prompt_base_url`` points the flow.

Properties: ``BucketName``, ``Prefix`` (default ``prompts/``) and
``Version``, which only exists so that a new package (new prompts) changes the properties and
CloudFormation sends an Update. Delete empties the prefix so the stack can delete the bucket.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from deploy.cfn_response import Request, ResourceResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

logger = logging.getLogger(__name__)

# prompts/ sits beside deploy/ both in the repository and in the built function package.
PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
CONTENT_TYPE = "audio/wav"
# DeleteObjects accepts at most this many keys per call.
DELETE_BATCH = 1000


@functools.cache
def s3() -> S3Client:
    """The S3 client, created on first use."""
    return boto3.client("s3")


# Subfolders of prompts/ uploaded beside the PCM prompts, under the same name.
VARIANTS = ("connect",)


def bundled_prompts(directory: Path = PROMPTS_DIR) -> list[Path]:
    """The WAV files packaged with the function (with the Connect copies), in a stable order."""
    found = [path for path in directory.glob("*.wav") if path.is_file()]
    for variant in VARIANTS:
        found.extend(path for path in (directory / variant).glob("*.wav") if path.is_file())
    return sorted(found)


def prompt_key(prefix: str, path: Path, directory: Path = PROMPTS_DIR) -> str:
    """``<prefix><name>.wav``, or ``<prefix>connect/<name>.wav`` for a Connect copy."""
    return prefix + path.relative_to(directory).as_posix()


def _location(properties: dict[str, Any]) -> tuple[str, str]:
    bucket = properties.get("BucketName")
    if not isinstance(bucket, str) or not bucket.strip():
        raise ValueError("property BucketName is required (a non-empty string)")
    prefix = properties.get("Prefix", "prompts/")
    if not isinstance(prefix, str):
        raise ValueError("property Prefix must be a string")
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket.strip(), prefix


def handle(request: Request) -> ResourceResult:
    """Upload on Create/Update, empty the prefix on Delete."""
    # A Delete may come without properties (nothing to learn from them: nothing to empty).
    properties = request.get("ResourceProperties") or {}
    if request["RequestType"] == "Delete":
        physical_id = request.get("PhysicalResourceId", "")
        bucket = properties.get("BucketName")
        if not isinstance(bucket, str) or not bucket.strip():
            # Never fail a Delete: without a bucket nothing can have been uploaded.
            logger.info("no BucketName; nothing to delete")
            return ResourceResult(physical_id)
        bucket, prefix = _location(properties)
        delete_prompts(bucket, prefix)
        return ResourceResult(physical_id or f"s3://{bucket}/{prefix}")
    bucket, prefix = _location(properties)
    keys = upload_prompts(bucket, prefix)
    return ResourceResult(f"s3://{bucket}/{prefix}", {"Keys": ",".join(keys), "Count": str(len(keys))})


def upload_prompts(bucket: str, prefix: str, directory: Path = PROMPTS_DIR) -> list[str]:
    """Put every bundled prompt at its key (:func:`prompt_key`); an empty bundle is a packaging error."""
    files = bundled_prompts(directory)
    if not files:
        raise RuntimeError(f"no prompt WAV files in {directory}: the package was built without prompts/")
    keys = []
    for path in files:
        key = prompt_key(prefix, path, directory)
        s3().put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=CONTENT_TYPE)
        keys.append(key)
    logger.info("uploaded %d prompts to s3://%s/%s", len(keys), bucket, prefix)
    return keys


def delete_prompts(bucket: str, prefix: str, directory: Path = PROMPTS_DIR) -> int:
    """Delete the bundled keys and anything else under the prefix; missing keys are fine.

    Listing catches prompts uploaded by an older package that no longer ships them, which would
    otherwise keep the bucket from being deleted.
    """
    keys = {prompt_key(prefix, path, directory) for path in bundled_prompts(directory)}
    try:
        paginator = s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        ordered = sorted(keys)
        for start in range(0, len(ordered), DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in ordered[start : start + DELETE_BATCH]
            ]
            response = s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                first = errors[0]
                raise RuntimeError(
                    f"could not delete {len(errors)} prompt(s), e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            logger.info("bucket %s is already gone", bucket)
            return 0
        raise
    logger.info("deleted %d prompt keys from s3://%s/%s", len(keys), bucket, prefix)
    return len(keys)
