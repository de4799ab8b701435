"""Pointing this process's environment somewhere for a while: the AWS SDK, Bolt and the Lambda
handlers read their settings from ``os.environ``, so the local stack and the tests set it and put it
back."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``env`` set for the block, as it was again afterwards."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
