"""People as destinations: Slack users and user groups a forward names, and the numbers they give.

A rule that names people keeps two things (see docs/slack.md, "People and user groups"):

* ``ForwardRule.destinations``: the resolved E.164 numbers, in order. The call path (SIP media
  application, Connect Lambda) reads only these, so it never calls Slack and still does one read.
* ``ForwardRule.sources``: what the person asked for, in order: a Slack user, a user group, or a
  plain number, with the people each one resolved to. The bot re-resolves the sources when Slack
  says a group or a profile changed, and shows them as a roster.

Plain data and pure functions only: no Slack, no phone-number library (the resolver in
:mod:`switchboard.people` parses profile phones with the destination policy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Who re-resolved a forward after Slack said a group or a profile changed (the history's actor).
SYNC_ACTOR = "Slack sync"


class SourceKind(StrEnum):
    USER = "user"  # a Slack user: the phone number in their profile
    GROUP = "group"  # a Slack user group: its members' numbers, in the group's order
    NUMBER = "number"  # a number typed as it is (kept so the order of a mixed list survives)


# What Slack puts in a slash command's text (with "escape users" on): ``<@U123>``,
# ``<@U123|alice>``, ``<!subteam^S123>``, ``<!subteam^S123|@sre-oncall>``.
MENTION = re.compile(
    r"<(?:@(?P<user>[UW][A-Z0-9]{1,20})|!subteam\^(?P<group>S[A-Z0-9]{1,20}))(?:\|(?P<label>[^<>]{0,80}))?>"
)


@dataclass(frozen=True, slots=True)
class Person:
    """One person a source named: Slack user id, display name, and their number (E.164; empty when
    their profile has no usable number: kept so a profile change of theirs re-resolves the rule)."""

    user_id: str
    name: str
    number: str


@dataclass(frozen=True, slots=True)
class DestinationSource:
    """Where (some of) a rule's destinations came from.

    ``id`` is the Slack id (``U…``/``S…``) or, for a number, the E.164 number; ``label`` what people
    call it (``sre-oncall``, ``alice``; no ``@``); ``people`` whom it resolved to last time, in
    order (empty for a number).
    """

    kind: SourceKind
    id: str
    label: str = ""
    people: tuple[Person, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SourceKind(str(self.kind)))
        object.__setattr__(self, "people", tuple(self.people))

    @property
    def is_person(self) -> bool:
        return self.kind is not SourceKind.NUMBER

    @property
    def handle(self) -> str:
        """``@sre-oncall`` / ``@alice`` (the id when no label is known)."""
        if self.kind is SourceKind.NUMBER:
            return self.id
        return "@" + (self.label or self.id)

    def numbers(self) -> tuple[str, ...]:
        if self.kind is SourceKind.NUMBER:
            return (self.id,)
        return tuple(person.number for person in self.people if person.number)


@dataclass(frozen=True, slots=True)
class Profile:
    """What the directory says of a Slack user: display name and the profile's phone as typed."""

    user_id: str
    name: str
    phone: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """A Slack user group: its handle (no ``@``) and its members' ids, in the group's order."""

    id: str
    handle: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Someone a source named who gives no destination, and why (said in the reply)."""

    who: str  # a Slack mention (``<@U…>``) or a handle
    why: str


def parse_mention(text: str) -> DestinationSource | None:
    """The user or group a destination entry mentions (``<@U…|alice>``), or None for a number."""
    match = MENTION.fullmatch(text.strip())
    if match is None:
        return None
    label = (match.group("label") or "").strip().lstrip("@")
    if match.group("user"):
        return DestinationSource(SourceKind.USER, match.group("user"), label)
    return DestinationSource(SourceKind.GROUP, match.group("group"), label)


def mention_text(source: DestinationSource) -> str:
    """The entry :func:`parse_mention` reads back (what the form and the parser hand over)."""
    label = f"|{source.label}" if source.label else ""
    if source.kind is SourceKind.USER:
        return f"<@{source.id}{label}>"
    if source.kind is SourceKind.GROUP:
        return f"<!subteam^{source.id}{label}>"
    return source.id


def is_mention(text: str) -> bool:
    return parse_mention(text) is not None


def assemble(sources: Sequence[DestinationSource], limit: int) -> tuple[tuple[str, ...], list[Skipped]]:
    """The destinations the sources give, in order: duplicates dropped (someone in two named groups
    rings once), at most ``limit`` (a rule's destination limit); people past it are skipped."""
    destinations: list[str] = []
    skipped: list[Skipped] = []
    for source in sources:
        if source.kind is SourceKind.NUMBER:
            if source.id not in destinations:
                destinations.append(source.id)
            continue
        for person in source.people:
            if not person.number or person.number in destinations:
                continue
            if len(destinations) >= limit:
                skipped.append(
                    Skipped(f"<@{person.user_id}>", f"a forward rings at most {limit} destinations")
                )
                continue
            destinations.append(person.number)
    return tuple(destinations[:limit]), skipped


def names_any(
    sources: Iterable[DestinationSource], *, users: Iterable[str] = (), groups: Iterable[str] = ()
) -> bool:
    """The sources name one of ``groups``, or one of ``users`` directly or as a group member."""
    user_ids, group_ids = set(users), set(groups)
    for source in sources:
        if source.kind is SourceKind.GROUP and (
            source.id in group_ids or any(person.user_id in user_ids for person in source.people)
        ):
            return True
        if source.kind is SourceKind.USER and source.id in user_ids:
            return True
    return False


def who_gives(number: str, sources: Iterable[DestinationSource]) -> tuple[Person, DestinationSource] | None:
    """The person (and the source they came from) whose number ``number`` is, for the roster."""
    for source in sources:
        for person in source.people:
            if person.number and person.number == number:
                return person, source
    return None
