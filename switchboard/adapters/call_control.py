"""Ask the SIP media application to act on a live call: UpdateSipMediaApplicationCall.

The API only delivers our Arguments to the SMA's Lambda as CALL_UPDATE_REQUESTED and returns; what
happens to the call (take-back, "please hold", the new bridge) is decided there. Errors become a
:class:`CallControlError` whose message a person can act on, shared by the Amazon Connect Lambda
and the Slack bot.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.domain.transfer import TransferTarget
from switchboard.ports import CallControlError

log = logging.getLogger(__name__)

# Chime SDK Voice throttling: one more try after a short pause (a throttled request was not carried
# out, so asking again cannot transfer twice). botocore's standard retry mode does not count Chime's
# 429 as throttling.
BUSY_ATTEMPTS = 2
BUSY_PAUSE_SECONDS = 0.3
BUSY = frozenset(
    {
        "ThrottledClientException",
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
    }
)
FORBIDDEN = frozenset({"ForbiddenException", "UnauthorizedClientException", "AccessDeniedException"})


class ChimeCallControl:
    """:class:`~switchboard.ports.CallControl` on a ``chime-sdk-voice`` client."""

    def __init__(
        self, client: Any, sip_media_application_id: str, *, pause: float = BUSY_PAUSE_SECONDS
    ) -> None:
        self._client = client
        self._sma = sip_media_application_id
        self._pause = pause

    def request_transfer(self, transaction_id: str, target: TransferTarget) -> None:
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                self._client.update_sip_media_application_call(
                    SipMediaApplicationId=self._sma,
                    TransactionId=transaction_id,
                    Arguments=target.arguments(),
                )
                return
            except ClientError as error:
                if _error_code(error) in BUSY and attempt < BUSY_ATTEMPTS:
                    time.sleep(self._pause)
                    continue
                raise _control_error(error, transaction_id) from error
            except BotoCoreError as error:
                log.error("Chime SDK Voice unreachable: %s", error)
                raise CallControlError(
                    "could not reach Chime SDK Voice to transfer the call; try again"
                ) from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _control_error(error: ClientError, transaction_id: str) -> CallControlError:
    code = _error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    log.warning("UpdateSipMediaApplicationCall failed: %s %s", code, message)
    if code == "NotFoundException":
        return CallControlError(
            f"the call (transaction {transaction_id}) is no longer in progress; nothing to transfer",
            gone=True,
        )
    if code in BUSY:
        return CallControlError(f"Chime SDK Voice is busy ({code}); try the transfer again")
    if code in FORBIDDEN:
        return CallControlError(f"this function may not update calls of the SIP media application ({code})")
    if code == "BadRequestException":
        return CallControlError(f"Chime SDK Voice refused the transfer: {message or code}")
    return CallControlError(f"Chime SDK Voice could not transfer the call ({code or 'unknown error'})")


class ChimeOwnNumbers:
    """Is a number one of ours? ``MANAGED_NUMBERS``, else one ``GetPhoneNumber`` (the account's
    inventory: phone number ids are the E.164 numbers). Transfers to our own numbers are refused:
    they would loop the call back into the SIP media application or Amazon Connect.

    Fails closed: when Chime SDK Voice cannot say, :class:`CallControlError` refuses the transfer
    (which would need Chime SDK Voice a moment later anyway).
    """

    def __init__(self, client: Any, managed_numbers: tuple[str, ...] = ()) -> None:
        self._client = client
        self._managed = frozenset(managed_numbers)

    def __call__(self, number: str) -> bool:
        if number in self._managed:
            return True
        try:
            self._client.get_phone_number(PhoneNumberId=number)
        except ClientError as error:
            if _error_code(error) == "NotFoundException":
                return False
            log.warning("GetPhoneNumber failed: %s", _error_code(error))
            raise CallControlError(
                f"could not check whether {number} is one of our numbers ({_error_code(error) or 'error'}); "
                "try again"
            ) from error
        except BotoCoreError as error:
            log.error("Chime SDK Voice unreachable: %s", error)
            raise CallControlError(
                "could not reach Chime SDK Voice to check the target; try again"
            ) from error
        return True
