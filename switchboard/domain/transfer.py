"""Transfer targets: where a live call can be handed over to, checked before anyone is asked.

A call is transferred (taken back from whoever has it, then bridged again, see
:func:`switchboard.domain.callflow.on_transfer_requested`) either to a phone number over the PSTN
or to a SIP user behind one of our voice connectors. Both the Amazon Connect Lambda and the Slack
bot accept targets from people, so both check them here the same way. PSTN numbers additionally
pass the forwarding destination policy (no premium-rate, emergency or foreign numbers), which needs
the phone-number library and lives in :mod:`switchboard.policy`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIP_USER = re.compile(r"^[A-Za-z0-9+*#._~-]{1,64}\Z")
VOICE_CONNECTOR_ARN = re.compile(r"^arn:aws[a-z-]*:chime:[a-z0-9-]+:\d{12}:vc/[A-Za-z0-9]+\Z")
SIP_PREFIX = "sip:"
# Digit-only SIP users this matches are extensions of the PBX (setting SIP_EXTENSION_PATTERN).
DEFAULT_SIP_EXTENSION_PATTERN = "^[0-9]{2,6}$"


class TransferTargetError(ValueError):
    """The target cannot be used; the message says why, for the person who typed it."""


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """``target`` is E.164 (PSTN) or a SIP user; ``voice_connector_arn`` is set for SIP users."""

    target: str
    voice_connector_arn: str = ""

    @property
    def is_sip(self) -> bool:
        return bool(self.voice_connector_arn)

    def arguments(self) -> dict[str, str]:
        """The UpdateSipMediaApplicationCall Arguments the SMA's CALL_UPDATE_REQUESTED expects."""
        arguments = {"Transfer": "true", "TransferTarget": self.target}
        if self.voice_connector_arn:
            arguments["TransferTargetArn"] = self.voice_connector_arn
        return arguments

    def __str__(self) -> str:
        return f"{SIP_PREFIX}{self.target}" if self.is_sip else self.target


def sip_target(user: str, voice_connector_arn: str) -> TransferTarget:
    """A SIP user behind a voice connector, both checked for shape."""
    if not VOICE_CONNECTOR_ARN.match(voice_connector_arn):
        raise TransferTargetError(
            f"TransferTargetArn {voice_connector_arn!r} is not a voice connector ARN (…:vc/<id>)"
        )
    if not SIP_USER.match(user):
        raise TransferTargetError(
            f"TransferTarget {user!r} is not a SIP user (letters, digits, + * # . _ ~ -)"
        )
    return TransferTarget(user, voice_connector_arn)


def is_sip_text(text: str) -> bool:
    """``sip:1234`` names a SIP user; anything else is read as a phone number."""
    return text.strip().lower().startswith(SIP_PREFIX)


def sip_user(text: str) -> str:
    """``sip:agent-7`` (or ``sip:agent-7@pbx.example.com``) → ``agent-7``."""
    user = text.strip()[len(SIP_PREFIX) :]
    return user.split("@", 1)[0].strip()
