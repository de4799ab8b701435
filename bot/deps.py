"""What the bot's listeners need, as ports: nothing here names DynamoDB or Chime SDK Voice.

AWS-backed parts are factories, built on first use (see ``bot.app``), so an acknowledgement that
needs none of them never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.auth import Authorizer
from bot.transfers import Transfers
from switchboard.adapters.voicemail_messages import VoicemailMessages
from switchboard.people import PeopleResolver
from switchboard.policy import DestinationPolicy
from switchboard.ports import CallReader
from switchboard.service import ForwardingService
from switchboard.settings import Settings


@dataclass
class BotDeps:
    settings: Settings
    policy: DestinationPolicy
    authorizer: Authorizer
    service: Callable[[], ForwardingService]
    call_log: Callable[[], CallReader]
    transfers: Callable[[], Transfers]
    voicemails: Callable[[], VoicemailMessages] | None = None  # voicemail messages (Mark handled)
    # A new resolver per change (it caches what it read for that change only).
    people: Callable[[], PeopleResolver] = field(default=lambda: PeopleResolver(None, DestinationPolicy()))
    # The workspace's user groups (id, handle) for the form; None: cannot be listed.
    user_groups: Callable[[], list[tuple[str, str]] | None] = field(default=lambda: None)
