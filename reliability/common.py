"""What every part shares: the figure rows it reports, fd-level quiet, and hypothesis plumbing.

The fuzz parts do not let hypothesis stop at the first failure: a case that breaks the contract is
counted (and the first few are kept as examples), so one run measures *how often* a handler fails,
which is what the report is for. The pytest tests then assert that the count is zero.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from switchboard_local.console_output import silenced

MAX_EXAMPLES_KEPT = 5

# Checks that fail today because of a defect another change is fixing (issue 11): reported as
# open, with the item, and not counted in the exit status. Remove an entry when its fix lands:
# from then on a failure of that check fails the run (and CI) again.
KNOWN_OPEN: dict[str, str] = {}


@dataclass
class Figure:
    """One row of the report: ``cases`` tried, ``failures`` among them, and what a failure means."""

    part: str
    check: str
    cases: int = 0
    failures: int = 0
    detail: str = ""
    examples: list[str] = field(default_factory=list)

    def fail(self, example: str) -> None:
        self.failures += 1
        if len(self.examples) < MAX_EXAMPLES_KEPT:
            self.examples.append(example[:400])

    @property
    def open_item(self) -> str:
        """The known, not yet fixed defect behind this check's failures ("" when none)."""
        return KNOWN_OPEN.get(self.check, "") if self.failures else ""

    @property
    def blocking(self) -> bool:
        return bool(self.failures) and not self.open_item

    def as_dict(self) -> dict[str, object]:
        return {
            "part": self.part,
            "check": self.check,
            "cases": self.cases,
            "failures": self.failures,
            "open_item": self.open_item,
            "detail": self.detail,
            "examples": self.examples,
        }

    @property
    def rate(self) -> str:
        if not self.cases:
            return "n/a"
        return f"{100 * (self.cases - self.failures) / self.cases:.1f} %"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send stdout/stderr to /dev/null at the file-descriptor level.

    The handlers log (and print EMF metrics) for every generated event; Powertools holds the
    original ``sys.stdout``, hence fd-level redirection rather than ``redirect_stdout``.
    """
    if os.environ.get("RELIABILITY_VERBOSE"):
        yield
        return
    with silenced():
        yield


def explore(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int, seed: int) -> None:
    """Run ``check`` on ``examples`` values drawn from ``strategy`` (generation only, no shrinking).

    ``check`` records failures itself and never raises, so hypothesis runs every example.
    """

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(strategy)
    def run(value: Any) -> None:
        check(value)

    run()


# -- values a JSON payload can carry --------------------------------------------------------------

# Strings that have broken parsers before: non-ASCII digits that int() or \d accept, numbers far
# beyond int()'s 4,300-digit limit, Slack markup, control characters, right-to-left text.
NASTY_STRINGS = (
    "",
    " ",
    "９１１",
    "٩١١",
    "۹۱۱",
    "९११",
    "๙๑๑",
    "𝟗𝟏𝟏",
    "²",
    "timeout ²",
    "+１２０２５５５０１００",
    "9" * 4300,
    "+1" + "2" * 5000,
    "<!channel>",
    "<!here|here>",
    "<https://evil.example|click>",
    "<@U0ADMIN>",
    "\x00",
    "\u202e0010555202+",
    "1e999",
    "NaN",
    "-1",
    "0",
    "null",
    "[]",
    "{}",
    "sip:*72+19005550100",
    "a" * 70_000,
)

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NASTY_STRINGS),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], max_mutations: int = 3) -> Mutated:
    """A document from ``base``, then up to ``max_mutations`` random edits: a field removed, a
    field replaced by any JSON value (wrong type, huge, unicode...), or an extra field added."""
    document = copy.deepcopy(draw(base))  # sampled values are shared objects
    edits: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_mutations))):
        paths = list(_paths(document))[1:]
        kind = draw(st.sampled_from(("remove", "replace", "add")))
        if kind == "add" or not paths:
            targets = [p for p in [(), *paths] if isinstance(_get(document, p), dict)]
            where = draw(st.sampled_from(targets))
            key = draw(
                st.text(max_size=12) | st.sampled_from(("Extra", "TransactionAttributes", "__proto__"))
            )
            _get(document, where)[key] = draw(json_values)
            edits.append(f"add {'/'.join(map(str, (*where, key)))}")
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(document, path)
        if kind == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
        edits.append(f"{kind} {'/'.join(map(str, path))}")
    return Mutated(document, tuple(edits))


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path:
        node = node[step]
    return node


@dataclass(frozen=True, slots=True)
class Mutated:
    document: dict[str, Any]
    edits: tuple[str, ...]

    @property
    def pristine(self) -> bool:
        return not self.edits


def short(value: Any, limit: int = 300) -> str:
    """A bounded, JSON-ish rendering of a case for the report."""
    try:
        text = json.dumps(value, default=repr, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def json_safe(value: Any) -> bool:
    """True when ``value`` serialises as strict JSON (no NaN/Infinity), as the Lambda runtime needs."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
