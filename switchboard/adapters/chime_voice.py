"""Chime SDK Voice adapters: number routing (SIP rule ↔ voice connector) and the phone inventory.

Routing a number is several API calls (UpdatePhoneNumber changes one attribute per call, a SIP
rule must be disabled before it is deleted, a number must leave its voice connector before its
product type changes). Each step registers its undo; if a later step fails, the earlier ones are
undone in reverse order, so the number is never left half-moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.domain.rules import NumberHome
from switchboard.ports import InventoryError, NoHomeError, RoutingError

SMA_PRODUCT = "SipMediaApplicationDialIn"
VOICE_CONNECTOR_PRODUCT = "VoiceConnector"
RULE_PREFIX = "switchboard-"


def describe_error(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "")
        return f"{operation} failed: {details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return str(error)


def rule_name(number: str) -> str:
    """SIP rule names may not contain ``+``."""
    return RULE_PREFIX + number.lstrip("+")


class _Saga:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self._undo: list[tuple[str, Callable[[], Any]]] = []

    def done(self, step: str, undo: Callable[[], Any]) -> None:
        self.steps.append(step)
        self._undo.append((step, undo))

    def supersede(self, step: str, undo: Callable[[], Any]) -> None:
        """Record ``step`` whose undo also covers the previous step's (which it made obsolete)."""
        self._undo.pop()
        self.steps.append(step)
        self._undo.append((step, undo))

    def rollback(self) -> bool:
        """Undo every step, newest first; False when any undo failed (the others are still tried).

        Every exception counts, not only AWS client errors: an undo that re-associates a number
        reports per-number failures as a :class:`RoutingError`, and it must not escape and hide
        the original failure (nor be reported as a clean rollback).
        """
        ok = True
        for _step, undo in reversed(self._undo):
            try:
                undo()
            except Exception:
                ok = False
        return ok


class ChimeVoiceRouting:
    """:class:`~switchboard.ports.NumberRouting` through the ``chime-sdk-voice`` API."""

    def __init__(
        self,
        client: Any,
        sip_media_application_id: str,
        voice_connector_id: str = "",
        region: str = "",
    ) -> None:
        self._client = client
        self._sma_id = sip_media_application_id
        self._voice_connector_id = voice_connector_id
        self._region = region or client.meta.region_name

    def route_to_forwarding(self, number: str) -> list[str]:
        saga = _Saga()
        try:
            phone = self._phone(number)
            for vc in self._voice_connectors(phone):
                self._disassociate(vc, number)
                saga.done(f"removed {number} from voice connector {vc}", partial(self._associate, vc, number))
            previous_product = phone.get("ProductType")
            if previous_product != SMA_PRODUCT:
                self._client.update_phone_number(PhoneNumberId=number, ProductType=SMA_PRODUCT)
                saga.done(
                    f"set product type {SMA_PRODUCT}",
                    lambda: self._client.update_phone_number(
                        PhoneNumberId=number, ProductType=previous_product
                    ),
                )
            rule = self._rule_for(number)
            if rule is None:
                created = self._client.create_sip_rule(
                    Name=rule_name(number),
                    TriggerType="ToPhoneNumber",
                    TriggerValue=number,
                    Disabled=False,
                    TargetApplications=[self._target()],
                )["SipRule"]
                saga.done(
                    f"created SIP rule {created['SipRuleId']} → SIP media application {self._sma_id}",
                    lambda: self._delete_rule(created["SipRuleId"], created["Name"]),
                )
            elif rule.get("Disabled"):
                self._client.update_sip_rule(
                    SipRuleId=rule["SipRuleId"],
                    Name=rule["Name"],
                    Disabled=False,
                    TargetApplications=[self._target()],
                )
                saga.done(
                    f"enabled SIP rule {rule['SipRuleId']}",
                    lambda: self._client.update_sip_rule(
                        SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True
                    ),
                )
        except (ClientError, BotoCoreError, RoutingError) as error:
            undone = saga.rollback()
            raise RoutingError(describe_error(error), undone=undone) from error
        return saga.steps

    def home(self, number: str) -> NumberHome:
        try:
            phone = self._phone(number)
        except (ClientError, BotoCoreError) as error:
            raise RoutingError(describe_error(error)) from error
        return NumberHome(
            product_type=str(phone.get("ProductType") or VOICE_CONNECTOR_PRODUCT),
            voice_connectors=tuple(self._voice_connectors(phone)),
        )

    def _way_home(self, number: str, home: NumberHome | None) -> NumberHome:
        """The recorded home, or the configured voice connector for a number that had none."""
        if home is not None and home.voice_connectors:
            return home
        if self._voice_connector_id:
            return NumberHome(VOICE_CONNECTOR_PRODUCT, (self._voice_connector_id,))
        raise NoHomeError(
            f"{number} was on no voice connector before its first forward and VOICE_CONNECTOR_ID is "
            "not set: putting it back would leave it routed nowhere"
        )

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        return self._route_home(number, self._way_home(number, home))

    def hand_back(self, number: str, home: NumberHome | None) -> list[str]:
        """Put ``number`` back where it was before its first forward, even if that was nowhere.

        For taking a SIP media application out of service (the stack's Delete): unlike
        :meth:`route_to_voice_connector`, a number that was on no voice connector (and no
        VOICE_CONNECTOR_ID to fall back on) still loses its SIP rule and gets its recorded product
        type back, because the application it points at is about to go.
        """
        try:
            target = self._way_home(number, home)
        except NoHomeError:
            target = home or NumberHome(SMA_PRODUCT)
        return self._route_home(number, target)

    def move_rules(self, to_sip_media_application_id: str, to_region: str = "") -> list[str]:
        """Re-target every switchboard SIP rule of this application at another one.

        For a stack that changes which SIP media application it uses: the forwards keep working
        (same numbers, same rules), only the application their calls reach changes.
        """
        target = {
            "SipMediaApplicationId": to_sip_media_application_id,
            "Priority": 1,
            "AwsRegion": to_region or self._region,
        }
        moved: list[str] = []
        for rule in self.owned_rules():
            # Enabled: a switchboard rule exists while its number is forwarded. A disabled one is
            # left by an application deleted out of band (its rules had to be disabled first).
            self._client.update_sip_rule(
                SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=False, TargetApplications=[target]
            )
            moved.append(str(rule["TriggerValue"]))
        return moved

    def owned_rules(self) -> list[dict[str, Any]]:
        """The ``switchboard-<digits>`` ToPhoneNumber SIP rules that target this application."""
        return [
            rule
            for rule in self._all_rules()
            if rule.get("TriggerType") == "ToPhoneNumber"
            and str(rule.get("Name", "")).startswith(RULE_PREFIX)
            and self._sma_id in {t.get("SipMediaApplicationId") for t in rule.get("TargetApplications") or []}
        ]

    def _route_home(self, number: str, target: NumberHome) -> list[str]:
        saga = _Saga()
        try:
            phone = self._phone(number)
            rule = self._rule_for(number)
            if rule is not None:
                if not rule.get("Disabled"):
                    self._client.update_sip_rule(
                        SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True
                    )
                    saga.done(
                        f"disabled SIP rule {rule['SipRuleId']}",
                        lambda: self._client.update_sip_rule(
                            SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=False
                        ),
                    )
                self._client.delete_sip_rule(SipRuleId=rule["SipRuleId"])
                record = saga.supersede if not rule.get("Disabled") else saga.done
                # Undoing the delete re-creates the rule enabled, which also undoes the disable.
                record(
                    f"deleted SIP rule {rule['SipRuleId']}",
                    lambda: self._client.create_sip_rule(
                        Name=rule["Name"],
                        TriggerType="ToPhoneNumber",
                        TriggerValue=number,
                        Disabled=False,
                        TargetApplications=[self._target()],
                    ),
                )
            previous_product = phone.get("ProductType")
            if previous_product != target.product_type:
                self._client.update_phone_number(PhoneNumberId=number, ProductType=target.product_type)
                saga.done(
                    f"set product type {target.product_type}",
                    lambda: self._client.update_phone_number(
                        PhoneNumberId=number, ProductType=previous_product
                    ),
                )
            already = self._voice_connectors(phone)
            for vc in target.voice_connectors:
                if vc in already:
                    continue
                self._associate(vc, number)
                saga.done(
                    f"associated {number} with voice connector {vc}", partial(self._disassociate, vc, number)
                )
        except (ClientError, BotoCoreError, RoutingError) as error:
            undone = saga.rollback()
            raise RoutingError(describe_error(error), undone=undone) from error
        return saga.steps

    def _target(self) -> dict[str, Any]:
        return {"SipMediaApplicationId": self._sma_id, "Priority": 1, "AwsRegion": self._region}

    def _phone(self, number: str) -> dict[str, Any]:
        phone: dict[str, Any] = self._client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
        return phone

    @staticmethod
    def _voice_connectors(phone: dict[str, Any]) -> list[str]:
        return [a["Value"] for a in phone.get("Associations") or [] if a.get("Name") == "VoiceConnectorId"]

    def _associate(self, voice_connector_id: str, number: str) -> None:
        response = self._client.associate_phone_numbers_with_voice_connector(
            VoiceConnectorId=voice_connector_id, E164PhoneNumbers=[number], ForceAssociate=False
        )
        errors = response.get("PhoneNumberErrors") or []
        if errors:
            first = errors[0]
            raise RoutingError(
                f"could not associate {number} with voice connector {voice_connector_id}: "
                f"{first.get('ErrorCode', '')} {first.get('ErrorMessage', '')}".strip()
            )

    def _disassociate(self, voice_connector_id: str, number: str) -> None:
        response = self._client.disassociate_phone_numbers_from_voice_connector(
            VoiceConnectorId=voice_connector_id, E164PhoneNumbers=[number]
        )
        errors = response.get("PhoneNumberErrors") or []
        if errors:
            first = errors[0]
            raise RoutingError(
                f"could not disassociate {number} from voice connector {voice_connector_id}: "
                f"{first.get('ErrorCode', '')} {first.get('ErrorMessage', '')}".strip()
            )

    def _delete_rule(self, rule_id: str, name: str) -> None:
        self._client.update_sip_rule(SipRuleId=rule_id, Name=name, Disabled=True)
        self._client.delete_sip_rule(SipRuleId=rule_id)

    def _all_rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._client.list_sip_rules(**kwargs)
            rules.extend(page.get("SipRules", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return rules

    def _rule_for(self, number: str) -> dict[str, Any] | None:
        """The ToPhoneNumber SIP rule for ``number``; refuse to touch one owned by another app."""
        for rule in self._all_rules():
            if rule.get("TriggerType") == "ToPhoneNumber" and rule.get("TriggerValue") == number:
                targets = {t.get("SipMediaApplicationId") for t in rule.get("TargetApplications") or []}
                if targets and self._sma_id not in targets:
                    raise RoutingError(
                        f"{number} is routed to another SIP media application by SIP rule "
                        f"{rule.get('SipRuleId')} ({rule.get('Name')}); switchboard will not take it over"
                    )
                return rule
        return None


class ChimePhoneInventory:
    """:class:`~switchboard.ports.PhoneInventory`: the account's numbers, cached briefly.

    ``managed`` (``MANAGED_NUMBERS``) narrows the inventory when the account also holds numbers
    this team must not touch.
    """

    def __init__(self, client: Any, managed: tuple[str, ...] = (), ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._managed = set(managed)
        self._ttl = ttl_seconds
        self._cached: tuple[float, list[str]] | None = None

    def our_numbers(self) -> list[str]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self._ttl:
            return self._cached[1]
        numbers: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:
            try:
                page = self._client.list_phone_numbers(**kwargs)
            except (ClientError, BotoCoreError) as error:
                raise InventoryError(f"could not list the account's phone numbers: {error}") from error
            numbers.extend(
                p["E164PhoneNumber"] for p in page.get("PhoneNumbers", []) if p.get("E164PhoneNumber")
            )
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        if self._managed:
            numbers = [n for n in numbers if n in self._managed]
        result = sorted(set(numbers))
        self._cached = (now, result)
        return result
