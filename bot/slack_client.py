"""The one way the bot's functions (app, expiry, digest, notifier) make a Slack ``WebClient``, and
the one way they post a notice in the alert channel.

Every client retries a dropped connection once and waits out a short rate limit (``Retry-After``
up to :data:`MAX_RETRY_AFTER_SECONDS`); a longer wait is better spent by the caller's own retry (the
event-source mapping's, the schedule's, the person's) than by a Lambda billed for sleeping.
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

MAX_RETRY_AFTER_SECONDS = 10
RATE_LIMIT_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 30  # slack_sdk's own default


class _ErrorLog(Protocol):
    """A stdlib or Powertools logger."""

    def error(self, msg: str, /) -> None: ...


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps ``Retry-After``), but only when the wait is short enough."""

    def __init__(
        self, max_retry_count: int = RATE_LIMIT_RETRIES, max_wait: int = MAX_RETRY_AFTER_SECONDS
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return int(values[0]) <= self.max_wait
                except ValueError:
                    return True
        return True


def slack_client(token: str, base_url: str = "", timeout: int = DEFAULT_TIMEOUT_SECONDS) -> WebClient:
    """A client for ``base_url`` (Slack's own when empty: the local stand-in sets one)."""
    return WebClient(
        token=token,
        base_url=base_url or WebClient.BASE_URL,
        timeout=timeout,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), BoundedRateLimitRetryHandler()],
    )


def post_in_channel(client: WebClient | None, channel: str, text: str, *, what: str, log: _ErrorLog) -> bool:
    """Post ``text`` in ``channel`` (the alert channel) if there is one. A refusal is logged, never
    raised: the notice is an extra, and what it tells of has happened. True when posted."""
    if client is None or not channel:
        return False
    try:
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as error:
        log.error(f"could not post {what} in {channel}: {error}")
        return False
    return True
