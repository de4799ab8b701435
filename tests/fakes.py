"""In-memory fakes of the ports, with the same conflict semantics as the real adapters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from switchboard.domain.people import Group, Profile
from switchboard.domain.rules import ForwardRule, NumberHome
from switchboard.ports import (
    ConflictError,
    DirectoryError,
    MissingScopeError,
    NoHomeError,
    NotInDirectoryError,
    RoutingError,
    StorageError,
)


class MemoryRules:
    """The rule table in memory: conditional writes, the per-number change guard, hooks.

    ``hooks[name]`` (a list of callables) runs, one per call, at the start of the method ``name``
    ("get", "save", "delete", "claim_change", "release_change"), outside the lock: a test puts
    another actor's whole change there to interleave deterministically.
    """

    def __init__(self) -> None:
        self.rules: dict[str, ForwardRule] = {}
        self.history: list[tuple[str, str, str]] = []  # (action, number, actor)
        self.fail_next: list[Exception] = []  # raised by the next save/delete, in order
        self.fail_claim: list[Exception] = []  # raised by the next claim_change, in order
        self.guards: dict[str, tuple[str, float]] = {}  # number -> (owner, lease until)
        self.hooks: dict[str, list[Callable[[], object]]] = {}
        self._lock = threading.RLock()

    def _hook(self, name: str) -> None:
        pending = self.hooks.get(name)
        if pending:
            pending.pop(0)()

    def get(self, number: str) -> ForwardRule | None:
        self._hook("get")
        with self._lock:
            return self.rules.get(number)

    def list_rules(self) -> list[ForwardRule]:
        with self._lock:
            return [self.rules[n] for n in sorted(self.rules)]

    def save(
        self,
        rule: ForwardRule,
        *,
        actor: str,
        previous: ForwardRule | None = None,
        unforwarded: Sequence[str] = (),
    ) -> ForwardRule:
        self._hook("save")
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            current = self.rules.get(rule.number)
            if (current.version if current else 0) != rule.version:
                raise ConflictError(f"the forward on {rule.number} changed since it was read")
            if any(number in self.rules for number in unforwarded):
                raise ConflictError(f"a destination of {rule.number} was forwarded since it was read")
            stored = rule.with_changes(
                version=rule.version + 1, updated_by=actor, created_by=rule.created_by or actor
            )
            self.rules[rule.number] = stored
            self.history.append(("set", rule.number, actor))
            return stored

    def delete(
        self, number: str, *, expected_version: int, actor: str, previous: ForwardRule | None = None
    ) -> ForwardRule:
        self._hook("delete")
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            current = self.rules.get(number)
            if current is None or current.version != expected_version:
                raise ConflictError(f"the forward on {number} changed since it was read")
            del self.rules[number]
            self.history.append(("remove", number, actor))
            return current

    def claim_change(self, number: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        self._hook("claim_change")
        with self._lock:
            if self.fail_claim:
                raise self.fail_claim.pop(0)
            held = self.guards.get(number)
            if held is not None and held[1] >= now:
                return False
            self.guards[number] = (owner, now + lease_seconds)
            return True

    def release_change(self, number: str, *, owner: str) -> None:
        self._hook("release_change")
        with self._lock:
            held = self.guards.get(number)
            if held is not None and held[0] == owner:
                del self.guards[number]


class MemoryRouting:
    """Tracks where each number goes; ``fail`` makes the next call of a direction fail.

    A number not on the SMA is at ``homes[number]`` (default: the configured voice connector, or
    nowhere when there is none); putting it back follows the adapter's rule (the recorded home,
    else ``voice_connector_id``, else :class:`NoHomeError`).
    """

    def __init__(self, voice_connector_id: str = "vc-pbx") -> None:
        self.to_sma: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, RoutingError] = {}
        self.voice_connector_id = voice_connector_id
        self.homes: dict[str, NumberHome] = {}

    def home(self, number: str) -> NumberHome:
        if "home" in self.fail:
            raise self.fail.pop("home")
        if number in self.to_sma:
            return NumberHome("SipMediaApplicationDialIn")
        default = (self.voice_connector_id,) if self.voice_connector_id else ()
        return self.homes.get(number, NumberHome("VoiceConnector", default))

    def route_to_forwarding(self, number: str) -> list[str]:
        self.calls.append(("sma", number))
        if "sma" in self.fail:
            raise self.fail.pop("sma")
        if number in self.to_sma:
            return []
        self.to_sma.add(number)
        return [f"routed {number} to the SMA"]

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        self.calls.append(("vc", number))
        if home is not None and home.voice_connectors:
            target = home
        elif self.voice_connector_id:
            target = NumberHome("VoiceConnector", (self.voice_connector_id,))
        else:
            raise NoHomeError(f"{number} has no home and there is no voice connector")
        if "vc" in self.fail:
            raise self.fail.pop("vc")
        if number not in self.to_sma:
            return []
        self.to_sma.discard(number)
        self.homes[number] = target
        return [f"routed {number} to the voice connector"]


class StaticInventory:
    def __init__(self, *numbers: str) -> None:
        self.numbers = sorted(numbers)

    def our_numbers(self) -> list[str]:
        return self.numbers


__all__ = ["MemoryRouting", "MemoryRules", "StaticInventory", "StorageError"]


class MemoryDirectory:
    """:class:`~switchboard.ports.PeopleDirectory` in memory: ``phones`` by user id, ``groups`` by
    group id (members in order). ``missing_scope`` makes every read fail as Slack does without it;
    ``fail`` makes reads of those ids fail as a passing Slack error; ``calls`` counts reads."""

    def __init__(
        self,
        phones: dict[str, str] | None = None,
        groups: dict[str, list[str]] | None = None,
        *,
        names: dict[str, str] | None = None,
        handles: dict[str, str] | None = None,
    ) -> None:
        self.phones = dict(phones or {})
        self.groups = {k: list(v) for k, v in (groups or {}).items()}
        self.names = dict(names or {})
        self.handles = dict(handles or {})
        self.deleted: set[str] = set()
        self.missing_scope = ""
        self.fail: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def _check(self, what: str, key: str, scope: str) -> None:
        self.calls.append((what, key))
        if self.missing_scope == scope:
            raise MissingScopeError(scope)
        if key in self.fail:
            raise DirectoryError("ratelimited")

    def profile(self, user_id: str) -> Profile:
        self._check("profile", user_id, "users.profile:read")
        if user_id not in self.phones:
            raise NotInDirectoryError(user_id)
        name = self.names.get(user_id, user_id.lower())
        return Profile(user_id, name, self.phones[user_id], deleted=user_id in self.deleted)

    def group(self, group_id: str, label: str = "") -> Group:
        self._check("group", group_id, "usergroups:read")
        if group_id not in self.groups:
            raise NotInDirectoryError(group_id)
        return Group(group_id, self.handles.get(group_id, label), tuple(self.groups[group_id]))
