"""Resolve Slack users and user groups to destinations, and keep forwards that name them in sync.

:class:`PeopleResolver` turns what a person asked for (``@alice``, ``@sre-oncall``, numbers) into
the rule's destinations and sources, through the :class:`~switchboard.ports.PeopleDirectory` port
(Slack's Web API in the bot) and the same :class:`~switchboard.policy.DestinationPolicy` as any
destination. :class:`PeopleSync` re-resolves every rule that names a changed user or group and saves
it through :class:`~switchboard.service.ForwardingService` (conditional on its version, with
history, so the change is announced like any other).

Finding the rules that name a group: one query of the rules index (``gsi1pk = RULES``, which
:meth:`ForwardingService.list_forwards` already does) filtered here. At this scale (hundreds to a few
thousand forwards, a few KB each) that is a handful of 1 MB pages per event; an inverted index
(``SOURCE#<id>`` items) would cost a write per source on every change to save reads that are cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from switchboard.domain.people import (
    SYNC_ACTOR,
    DestinationSource,
    Group,
    Person,
    Profile,
    Skipped,
    SourceKind,
    assemble,
    names_any,
    parse_mention,
)
from switchboard.domain.rules import CONNECT, MAX_DESTINATIONS, ForwardRule
from switchboard.policy import DestinationPolicy, DestinationRefusedError
from switchboard.ports import DirectoryError, MissingScopeError, NotInDirectoryError, PeopleDirectory
from switchboard.service import ChangeFailedError, ForwardingService, RefusedError

log = logging.getLogger("switchboard.people")


class PeopleRefusedError(RefusedError):
    """A forward that names people cannot be resolved (missing scope, nobody with a number...)."""


def missing_scope_text(scope: str) -> str:
    return (
        f"Forwarding to people needs the Slack app's `{scope}` scope, which it has not been granted. "
        "Forwards to phone numbers work without it; ask a workspace admin to reinstall the app "
        'with the manifest\'s scopes (README, "Slack scopes"). Nothing was changed.'
    )


@dataclass(frozen=True, slots=True)
class Resolution:
    destinations: tuple[str, ...]
    sources: tuple[DestinationSource, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def names_people(self) -> bool:
        return any(source.is_person for source in self.sources)


class PeopleResolver:
    """Resolves sources through ``directory``; one instance caches what it read (one request,
    one sync run), so 1,000 rules naming one group read that group and its members once."""

    def __init__(self, directory: PeopleDirectory | None, policy: DestinationPolicy) -> None:
        self._directory = directory
        self._policy = policy
        self._profiles: dict[str, Profile | DirectoryError] = {}
        self._groups: dict[str, Group | DirectoryError] = {}

    # -- entry points ------------------------------------------------------------------------------

    def resolve_entries(self, entries: Sequence[str]) -> Resolution:
        """What a person typed or picked (numbers and ``<@U…>`` / ``<!subteam^S…>`` entries).

        Numbers are left as typed when nobody is named (the service validates them as always);
        otherwise each number is normalised here so the sources hold E.164.
        """
        wanted = [parse_mention(entry) or entry.strip() for entry in entries]
        if not any(isinstance(item, DestinationSource) for item in wanted):
            return Resolution(tuple(entries), ())
        sources: list[DestinationSource] = []
        for index, item in enumerate(wanted):
            if isinstance(item, DestinationSource):
                sources.append(item)
                continue
            if item.lower() == CONNECT:
                raise PeopleRefusedError("`connect` must be the only destination")
            try:
                sources.append(DestinationSource(SourceKind.NUMBER, self._policy.destination(item)))
            except DestinationRefusedError as error:
                raise DestinationRefusedError(error.number, error.reason, index=index) from None
        resolution = self.resolve(sources)
        if not resolution.destinations:
            reasons = "; ".join(f"{skip.who}: {skip.why}" for skip in resolution.skipped)
            raise PeopleRefusedError(
                f"Nobody named has a number to forward to ({reasons}). Nothing was changed."
            )
        return resolution

    def resolve(self, sources: Sequence[DestinationSource]) -> Resolution:
        """Resolve each user/group source again from the directory (numbers stay as they are).

        Raises :class:`PeopleRefusedError` when the app lacks a scope it needs; a user or group
        that cannot be read is skipped with the reason.
        """
        resolved: list[DestinationSource] = []
        skipped: list[Skipped] = []
        for source in sources:
            if source.kind is SourceKind.NUMBER:
                resolved.append(source)
            elif source.kind is SourceKind.USER:
                person, why = self._person(source.id, source.people[0] if source.people else None)
                label = source.label or (person.name if person else "")
                resolved.append(
                    DestinationSource(SourceKind.USER, source.id, label, (person,) if person else ())
                )
                if why:
                    skipped.append(Skipped(f"<@{source.id}>", why))
            else:
                group_source, group_skips = self._group(source)
                resolved.append(group_source)
                skipped.extend(group_skips)
        destinations, over_limit = assemble(resolved, MAX_DESTINATIONS)
        return Resolution(destinations, tuple(resolved), tuple(skipped + over_limit))

    # -- internals ---------------------------------------------------------------------------------

    def _group(self, source: DestinationSource) -> tuple[DestinationSource, list[Skipped]]:
        who = f"<!subteam^{source.id}>"
        try:
            group = self._read_group(source.id, source.label)
        except NotInDirectoryError:
            return DestinationSource(SourceKind.GROUP, source.id, source.label), [
                Skipped(source.handle, "is not a user group in this workspace (deleted?)")
            ]
        except DirectoryError as error:
            return source, [Skipped(who, f"could not be read from Slack ({error}); kept as it was")]
        people: list[Person] = []
        skipped: list[Skipped] = []
        known = {person.user_id: person for person in source.people}
        for member in group.members:
            person, why = self._person(member, known.get(member))
            if person is not None:
                people.append(person)
            if why:
                skipped.append(Skipped(f"<@{member}>", why))
        if not group.members:
            skipped.append(Skipped("@" + (group.handle or source.id), "has no members"))
        return DestinationSource(
            SourceKind.GROUP, source.id, group.handle or source.label, tuple(people)
        ), skipped

    def _person(self, user_id: str, before: Person | None = None) -> tuple[Person | None, str]:
        """The person (number empty when unusable) and why they give no number ("" when they do).

        A profile that cannot be read right now (Slack failing, rate limits) keeps ``before``, what
        the rule had: a passing failure must not take someone off a forward.
        """
        try:
            profile = self._read_profile(user_id)
        except NotInDirectoryError:
            return None, "is not a member of this workspace"
        except DirectoryError as error:
            if before is not None:
                return before, ""
            return None, f"could not be read from Slack ({error})"
        if profile.deleted:
            return Person(user_id, profile.name, ""), "has been deactivated"
        if not profile.phone.strip():
            return Person(user_id, profile.name, ""), "has no phone number in their Slack profile"
        try:
            number = self._policy.destination(profile.phone)
        except DestinationRefusedError as error:
            return Person(user_id, profile.name, ""), f"has a profile phone we cannot use: {error.reason}"
        return Person(user_id, profile.name, number), ""

    def _directory_or_refuse(self) -> PeopleDirectory:
        if self._directory is None:
            raise PeopleRefusedError("Forwarding to people is not available here: use phone numbers.")
        return self._directory

    def _read_profile(self, user_id: str) -> Profile:
        cached = self._profiles.get(user_id)
        if cached is None:
            try:
                cached = self._directory_or_refuse().profile(user_id)
            except MissingScopeError as error:
                raise PeopleRefusedError(missing_scope_text(error.scope)) from error
            except DirectoryError as error:
                cached = error
            self._profiles[user_id] = cached
        if isinstance(cached, DirectoryError):
            raise cached
        return cached

    def _read_group(self, group_id: str, label: str) -> Group:
        cached = self._groups.get(group_id)
        if cached is None:
            try:
                cached = self._directory_or_refuse().group(group_id, label)
            except MissingScopeError as error:
                raise PeopleRefusedError(missing_scope_text(error.scope)) from error
            except DirectoryError as error:
                cached = error
            self._groups[group_id] = cached
        if isinstance(cached, DirectoryError):
            raise cached
        return cached


@dataclass
class SyncReport:
    """What one re-resolution did, by our number."""

    checked: int = 0
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # would have had no destination: last numbers kept
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class PeopleSync:
    """Re-resolves the rules that name changed users or groups, from Slack's state *now*.

    Events are only a hint of *what* to look at: the payload's member list is never used, so a
    duplicate or out-of-order event re-resolves to the same current state (and writes nothing), and
    the scheduled :meth:`refresh_all` repairs any event that never came.
    """

    def __init__(
        self,
        service: ForwardingService,
        resolver: Callable[[], PeopleResolver],
        *,
        warn: Callable[[str], None] = lambda text: None,
    ) -> None:
        self._service = service
        self._resolver = resolver
        self._warn = warn

    def refresh(self, *, users: Iterable[str] = (), groups: Iterable[str] = ()) -> SyncReport:
        user_ids, group_ids = set(users), set(groups)
        listed = self._service.list_forwards()
        rules = [
            rule
            for rule in listed
            if names_any((*rule.sources, *rule.else_sources), users=user_ids, groups=group_ids)
        ]
        return self._refresh(rules, listed)

    def refresh_all(self) -> SyncReport:
        listed = self._service.list_forwards()
        return self._refresh([rule for rule in listed if rule.names_people], listed)

    @staticmethod
    def _branch(
        resolver: PeopleResolver, sources: tuple[DestinationSource, ...], numbers: tuple[str, ...]
    ) -> Resolution:
        """One branch re-resolved; a branch of numbers only stays as it is."""
        if not sources:
            return Resolution(numbers, ())
        return resolver.resolve(sources)

    def _refresh(self, rules: list[ForwardRule], listed: list[ForwardRule]) -> SyncReport:
        """Re-resolve ``rules`` (picked from ``listed``, the one listing of the run, which is also
        what the loop checks read)."""
        report = SyncReport()
        resolver = self._resolver()
        context = self._service.change_context(listed) if rules else None
        for rule in rules:
            report.checked += 1
            try:
                resolution = self._branch(resolver, rule.sources, rule.destinations)
                after_hours = self._branch(resolver, rule.else_sources, rule.else_destinations)
            except PeopleRefusedError as error:
                report.failed.append(rule.number)
                report.warnings.append(f"{rule.number}: {error}")
                continue
            if not resolution.destinations or (rule.hours is not None and not after_hours.destinations):
                report.kept.append(rule.number)
                report.warnings.append(_kept_text(rule, resolution, after_hours))
                continue
            if (
                resolution.destinations,
                resolution.sources,
                after_hours.destinations,
                after_hours.sources,
            ) == (
                rule.destinations,
                rule.sources,
                rule.else_destinations,
                rule.else_sources,
            ):
                report.unchanged.append(rule.number)
                continue
            try:
                self._service.update_sources(
                    rule,
                    resolution.destinations,
                    resolution.sources,
                    actor=SYNC_ACTOR,
                    context=context,
                    after_hours=(after_hours.destinations, after_hours.sources)
                    if rule.else_sources
                    else None,
                )
            except (RefusedError, ChangeFailedError) as error:
                log.warning("could not re-resolve %s: %s", rule.number, error)
                report.failed.append(rule.number)
                report.warnings.append(f"{rule.number} kept its destinations: {error}")
                continue
            report.updated.append(rule.number)
        for text in report.warnings:
            self._warn(text)
        return report


def _kept_text(rule: ForwardRule, *resolutions: Resolution) -> str:
    names = ", ".join(source.handle for source in (*rule.sources, *rule.else_sources) if source.is_person)
    skipped = [skip for resolution in resolutions for skip in resolution.skipped]
    reasons = "; ".join(f"{skip.who} {skip.why}" for skip in skipped) or "nobody has a number"
    return (
        f":warning: The forward on {rule.number} names {names}, but nobody there has a usable number now "
        f"({reasons}). It keeps forwarding to its last numbers until someone fixes that "
        "or changes the forward."
    )
