"""The transfer flow's requests to ``connect_lambda.app.handler`` (GetData, TransferCall).

A call reaches Amazon Connect from the SIP media application (SMA) over the PSTN, so Connect knows
it only by two numbers: the calling number is the SMA number of the call's DNIS pair, the called
number the Connect number (see :mod:`switchboard.domain.pool`). Connect's "Invoke AWS Lambda
function" block passes them here as ``Details.Parameters``:

``Purpose=GetData``, ``CallingNumber``, ``CalledNumber``
    → the call behind the pair, as a flat string map for contact attributes: ``status=ok``,
    ``transaction_id``, ``original_calling_number``, ``claimed_at`` (ISO 8601 UTC),
    ``claim_age_seconds``, ``sma_number``, ``connect_number``.
``Purpose=TransferCall``, ``TransferTarget``, optional ``TransferTargetArn``, the two numbers (or
the contact's endpoints) and optionally ``TransactionId`` (the contact attribute GetData returned),
which must be the call that holds that pair
    → ``UpdateSipMediaApplicationCall`` with the Arguments ``Transfer=true``, ``TransferTarget`` and
    (if given) ``TransferTargetArn``; the SMA then takes the call back from Connect and bridges it
    to the target → ``status=ok``.

Every answer is a map with ``status`` and, when it is ``error``, a ``reason`` a person can act on.
The handler never raises: an exception would send the contact down the block's Error branch with
nothing to say why (and Connect retries errors, which for a transfer means asking twice).

Numbers missing from the parameters are taken from the contact itself (``CustomerEndpoint`` /
``SystemEndpoint``), which is what the flow would pass anyway. The target goes through the same
check as every surface (:meth:`switchboard.policy.DestinationPolicy.transfer_target`): a phone
number, or a SIP user that is one, passes the forwarding destination policy (the flow may build it
from caller input, and the SMA pays for the outbound call); feature codes and dialling prefixes are
refused; a SIP user must be on ``VOICE_CONNECTOR_ARN``; our own numbers (every DNIS pair of the pool, the
phone inventory, ``MANAGED_NUMBERS``: :class:`switchboard.adapters.own_numbers.OwnNumbers`) are refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.domain.pool import PairClaim, PoolEntry
from switchboard.domain.rules import is_e164
from switchboard.domain.transfer import TransferRules, TransferTarget
from switchboard.ports import CallControl, CallControlError, StorageError
from switchboard.telemetry import logger_for

if TYPE_CHECKING:
    from switchboard.policy import DestinationPolicy

logger = logger_for("connect")

GET_DATA = "getdata"
TRANSFER_CALL = "transfercall"
_SEPARATORS = re.compile(r"[\s().-]")

Result = dict[str, str]


class RequestError(ValueError):
    """The request cannot be served; the message is the ``reason`` returned to the flow."""


class PairLookup(Protocol):
    def find(self, sma_number: str, connect_number: str) -> PoolEntry | None: ...


# Connect rejects a Lambda response over 32 KB and the flow stores every value as a contact
# attribute; reasons quote what the flow sent, so every value is cut to this length.
MAX_VALUE_LENGTH = 256


def ok(**fields: str) -> Result:
    return {"status": "ok", **fields}


def failure(reason: str) -> Result:
    return {"status": "error", "reason": reason}


def bounded(result: Result) -> Result:
    """``result`` with every value at most :data:`MAX_VALUE_LENGTH` characters (cut ones end in …)."""
    return {
        key: value if len(value) <= MAX_VALUE_LENGTH else value[: MAX_VALUE_LENGTH - 1] + "…"
        for key, value in result.items()
    }


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    purpose: str
    contact_id: str
    parameters: Mapping[str, str]
    customer_number: str  # ContactData.CustomerEndpoint.Address, the fallback CallingNumber
    system_number: str  # ContactData.SystemEndpoint.Address, the fallback CalledNumber

    @classmethod
    def parse(cls, event: Any) -> ConnectRequest:
        details = event.get("Details") if isinstance(event, Mapping) else None
        if not isinstance(details, Mapping):
            raise RequestError("not an Amazon Connect contact flow event (no Details)")
        raw = details.get("Parameters") or {}
        contact = details.get("ContactData") or {}
        if not isinstance(raw, Mapping) or not isinstance(contact, Mapping):
            raise RequestError("Details.Parameters and Details.ContactData must be objects")
        parameters = {str(k): str(v).strip() for k, v in raw.items() if v is not None}
        purpose = parameters.get("Purpose", "")
        if not purpose:
            raise RequestError("missing parameter Purpose (GetData or TransferCall)")
        return cls(
            purpose=purpose,
            contact_id=str(contact.get("ContactId") or ""),
            parameters=parameters,
            customer_number=_address(contact.get("CustomerEndpoint")),
            system_number=_address(contact.get("SystemEndpoint")),
        )

    def number(self, name: str, fallback: str) -> str:
        text = self.parameters.get(name) or fallback
        if not text:
            raise RequestError(f"missing parameter {name}")
        return text


def _address(endpoint: Any) -> str:
    if isinstance(endpoint, Mapping):
        return str(endpoint.get("Address") or "").strip()
    return ""


@dataclass
class ConnectApp:
    """Serves GetData and TransferCall; every dependency is passed in (built once in :func:`_build`)."""

    pool: PairLookup
    calls: CallControl
    default_country: str = "US"
    allowed_countries: tuple[str, ...] = ("US",)
    rules: TransferRules = field(default_factory=TransferRules)
    is_ours: Callable[[str], bool] | None = None  # OwnNumbers: the pool, the inventory

    def handle(self, event: Any) -> Result:
        try:
            request = ConnectRequest.parse(event)
        except RequestError as error:
            return failure(str(error))
        purpose = request.purpose.replace("_", "").replace("-", "").lower()
        logger.append_keys(contact_id=request.contact_id or None, purpose=request.purpose)
        try:
            if purpose == GET_DATA:
                return self.get_data(request)
            if purpose == TRANSFER_CALL:
                return self.transfer_call(request)
            raise RequestError(f"unknown Purpose {request.purpose!r}: use GetData or TransferCall")
        except RequestError as error:
            return failure(str(error))
        except StorageError as error:
            logger.error("DNIS pool read failed", extra={"error": str(error)})
            return failure("could not read the DNIS pool; try again")

    def get_data(self, request: ConnectRequest) -> Result:
        claim = self._claim(request)
        now_ms = int(time.time() * 1000)
        return ok(
            transaction_id=claim.transaction_id,
            # The flow speaks it (SSML): only a phone number, never whatever LEG-A's From held.
            original_calling_number=(
                claim.original_calling_number if is_e164(claim.original_calling_number) else ""
            ),
            claimed_at=_iso(claim.claimed_at),
            claim_age_seconds=str(int(claim.age_seconds(now_ms))),
            sma_number=claim.pair.sma_number,
            connect_number=claim.pair.connect_number,
        )

    def transfer_call(self, request: ConnectRequest) -> Result:
        target = self._target(request)
        claim = self._claim(request)
        # A TransactionId from the flow must be the call holding the pair the contact came in on:
        # otherwise any contact flow could take back (and redirect) any call of the SMA.
        transaction_id = request.parameters.get("TransactionId", "") or claim.transaction_id
        if transaction_id != claim.transaction_id:
            raise RequestError(
                f"TransactionId is not the call holding the DNIS pair {claim.pair}: "
                "pass the transaction_id GetData returned for this contact"
            )
        try:
            self._refuse_our_own(target, claim)
            self.calls.request_transfer(transaction_id, target)
        except CallControlError as error:
            return failure(str(error))
        logger.info("transfer requested", extra={"transaction_id": transaction_id, "target": target.target})
        return ok(transaction_id=transaction_id, transfer_target=target.target)

    # ------------------------------------------------------------------------------ helpers

    def _claim(self, request: ConnectRequest) -> PairClaim:
        """The claim on the pair the request names; :class:`RequestError` when there is none."""
        sma_number = self._number(request.number("CallingNumber", request.customer_number))
        connect_number = self._number(request.number("CalledNumber", request.system_number))
        entry = self.pool.find(sma_number, connect_number)
        if entry is None:
            raise RequestError(
                f"{sma_number} → {connect_number} is not a DNIS pair of the pool "
                "(was the call sent to Connect by the SIP media application?)"
            )
        if entry.claim is None:
            raise RequestError(
                f"no call holds the DNIS pair {sma_number} → {connect_number}: "
                "the call has ended or already been transferred"
            )
        return entry.claim

    def _number(self, text: str) -> str:
        """E.164 from what Connect passes; national formats are read in ``default_country``."""
        compact = _SEPARATORS.sub("", text)
        if is_e164(compact):
            return compact
        try:
            return self._policy().our_number(text)
        except ValueError as error:
            raise RequestError(f"{text!r} is not a phone number") from error

    def _target(self, request: ConnectRequest) -> TransferTarget:
        """The target through the same checks as every surface (policy.transfer_target)."""
        target = request.parameters.get("TransferTarget", "")
        arn = request.parameters.get("TransferTargetArn", "")
        if not target:
            raise RequestError("missing parameter TransferTarget")
        try:
            return self._policy().transfer_target(target, self.rules, arn)
        except ValueError as error:
            raise RequestError(f"refused transfer target: {error}") from error

    def _refuse_our_own(self, target: TransferTarget, claim: PairClaim) -> None:
        number = target.target if is_e164(target.target) else ""
        if not number:
            return
        if number in claim.pair or (self.is_ours is not None and self.is_ours(number)):
            raise RequestError(
                f"refused transfer target: {number} is one of our own numbers; transfer to a person instead"
            )

    def _policy(self) -> DestinationPolicy:
        # phonenumbers (large metadata) is loaded on first use: GetData with E.164 numbers never needs it.
        from switchboard.policy import DestinationPolicy  # noqa: PLC0415

        return DestinationPolicy(self.default_country, self.allowed_countries)
