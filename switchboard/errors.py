"""The exceptions of the shared library, and where each one lives.

The port-level errors (what an adapter raises when the outside world fails) are defined here;
:mod:`switchboard.ports` re-exports them next to the protocols that name them. The others stay next
to the code whose rules they report, and are drawn here so the whole hierarchy is in one place::

    Exception
    ├── StorageError                   the store failed (throttled, unreachable, misconfigured)
    │   └── InventoryError             the phone inventory could not be read
    ├── ConflictError                  someone else changed the rule since it was read
    ├── RoutingError  .undone          a routing step failed (were the steps taken rolled back?)
    │   ├── NoHomeError                putting the number back would leave it on no voice connector
    │   └── NumberPlacementError       the number cannot be routed where it is (both backends, ...)
    ├── DirectoryError                 Slack's directory (profiles, user groups) could not be read
    │   ├── MissingScopeError .scope   the Slack app lacks the scope that reading needs
    │   └── NotInDirectoryError        no such user or user group
    ├── PoolError                      the DNIS pool's own errors (domain/pool.py)
    │   ├── PoolExhaustedError .attempts   every pair is held by a live call
    │   ├── InvalidPairError           (also ValueError) the two numbers cannot form a pair
    │   └── PairNotFoundError          (also LookupError) the pair is not in the pool
    ├── RuntimeError
    │   ├── CallControlError  .gone    a request did not reach a live call (gone: the call ended)
    │   ├── LostRaceError              an alert thread anchor changed under us (adapters/alert_threads.py)
    │   ├── TranscriptUnavailableError a finished job's transcript cannot be read (transcription.py)
    │   ├── ConfigurationError         an environment variable is missing or malformed (settings.py)
    │   │   └── UnsafeStateError       the dev state file could have been planted (dev_state.py)
    │   └── ChangeFailedError  .consistent .detail   a change could not be applied (service.py)
    │       └── ConcurrentChangeError  .number .current .in_progress   someone else changed it
    ├── ValueError                     the input is wrong; nothing was changed
    │   ├── RefusedError               a request the service refuses (service.py)
    │   │   ├── AlreadyForwardedError  .current   a *new* forward on a forwarded number
    │   │   └── PeopleRefusedError     people named cannot be resolved (people.py)
    │   ├── DestinationRefusedError  .index   a number we will not forward to (policy.py)
    │   ├── RuleError                  a rule that cannot exist (domain/rules.py)
    │   ├── DurationError              not a duration we understand (domain/durations.py)
    │   ├── HoursError                 business hours we cannot understand (domain/hours.py)
    │   └── TransferTargetError        a transfer target we will not use (domain/transfer.py)
    └── LookupError
        └── RuleNotFoundError          there is no forward on that number (adapters/dynamodb.py)

How callers use them: a Lambda never lets any of them escape (the SMA answers with an error prompt,
Connect with an error result, the bot with a plain Slack message from ``bot.failures.explain``);
``ValueError`` kinds are shown to the person who typed the input, the others as a plain sentence
with their details logged. Each entry point's own parse errors stay beside its parser (for
example ``sma.events.MalformedInvocationError``, ``bot.commands.CommandSyntaxError``).
"""

from __future__ import annotations


class StorageError(Exception):
    """The store failed (throttled, unreachable, misconfigured). Callers degrade, never crash a call."""


class InventoryError(StorageError):
    """The phone inventory could not be read (throttled, unreachable, not allowed)."""


class ConflictError(Exception):
    """Someone else changed the rule since it was read; re-read and try again."""


class RoutingError(Exception):
    """A routing step failed. ``undone`` tells whether the steps already taken were rolled back."""

    def __init__(self, message: str, *, undone: bool = True) -> None:
        super().__init__(message)
        self.undone = undone


class NoHomeError(RoutingError):
    """Putting the number back would leave it on no voice connector; no step was taken."""


class NumberPlacementError(RoutingError):
    """The number cannot be routed where it is (e.g. it is in both backends, or its home flow is
    unknown); no step was taken. The message is a sentence for the person who asked."""


class CallControlError(RuntimeError):
    """A request was not delivered to a live call. ``gone``: the call is no longer in progress."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class DirectoryError(Exception):
    """Slack's directory (profiles, user groups) could not be read."""


class MissingScopeError(DirectoryError):
    """The Slack app was not granted ``scope``; forwards to numbers still work."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"the Slack app lacks the {scope} scope")
        self.scope = scope


class NotInDirectoryError(DirectoryError):
    """No such user or user group (deleted, or never existed)."""
