"""Render call-flow steps as one instruction for the forwarding flow (``forwarding_flow.json``).

The flow cannot take a list of actions the way PSTN Audio does: it saves our reply as contact
attributes and branches on them. So every reply is one *instruction*, a flat string map whose keys
are always all present (unused ones ``""``):

``op``
    ``dial`` (optionally a prompt first, then ``TransferParticipantToThirdParty``),
    ``play_hangup`` (a prompt, then disconnect) or ``hangup``.
``has_prompt`` / ``prompt_uri``
    ``yes`` and the S3 URL of a u-law prompt, or ``no`` and ``""``. (Compare operands cannot be
    empty strings in a published flow, hence the yes/no flag.)
``dial_to`` / ``dial_timeout``
    The destination (E.164) and its ring timeout in seconds.
``cid_mode`` / ``cid``
    ``number`` with the caller ID to present, or ``passthrough`` (the caller's own number shows;
    Connect does that when the transfer block has no ``CallerId``).
``sb``
    The call's state for the next invocation (:mod:`connect_lambda.state`).

What Connect cannot do is degraded here, nowhere else: a looped greeting (ringback) plays once,
before the first destination only, because no transfer parameter plays audio while it rings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connect_lambda import state as call_state
from switchboard.domain.callflow import Bridge, CallState, HangUp, Leg, PlayPrompt, Prompt, Step

DIAL = "dial"
PLAY_HANGUP = "play_hangup"
HANGUP = "hangup"
NUMBER = "number"
PASSTHROUGH = "passthrough"

Reply = dict[str, str]

FIELDS = (
    "op",
    "has_prompt",
    "prompt_uri",
    "dial_to",
    "dial_timeout",
    "cid_mode",
    "cid",
    call_state.STATE_KEY,
)


@dataclass(frozen=True, slots=True)
class ConnectPrompts:
    """Where the u-law prompt files live: ``<base_url><prompt>.wav`` (an S3 object URL)."""

    base_url: str

    def uri(self, prompt: Prompt) -> str:
        return f"{self.base_url}{prompt.value}.wav"


def _caller_id(bridge: Bridge, state: CallState | None) -> tuple[str, str]:
    """The domain already chose the number to present; the caller's own number is passed through
    by leaving ``CallerId`` out (Connect may present only its claimed numbers otherwise)."""
    if (
        state is not None
        and state.caller
        and bridge.caller_id == state.caller
        and state.caller != state.dialed
    ):
        return PASSTHROUGH, ""
    return NUMBER, bridge.caller_id


def render(steps: Iterable[Step], state: CallState | None, prompts: ConnectPrompts | None) -> Reply:
    """One instruction from the steps of a plan.

    Steps for the callee's leg are dropped: whenever the flow runs, the third party is already
    gone (Connect resumes the flow only after they hang up). A plan with nothing left to do for the
    caller ends the call, so the flow never waits in silence for an instruction that will not come.
    """
    reply: Reply = dict.fromkeys(FIELDS, "")
    reply["has_prompt"] = "no"
    prompt: Prompt | None = None
    for step in steps:
        if isinstance(step, PlayPrompt) and step.leg is Leg.CALLER:
            prompt = prompt or step.prompt
        elif isinstance(step, Bridge):
            reply["op"] = DIAL
            reply["dial_to"] = step.destination
            reply["dial_timeout"] = str(step.timeout_seconds)
            reply["cid_mode"], reply["cid"] = _caller_id(step, state)
            # A looped greeting cannot ring on Connect: it plays once, before the first dial.
            first_dial = state is None or not state.attempts
            if prompt is None and step.ringback is not None and first_dial:
                prompt = step.ringback
            break  # the flow dials once per reply; whatever follows comes with its outcome
        elif isinstance(step, HangUp) and step.leg is Leg.CALLER:
            reply["op"] = PLAY_HANGUP if prompt is not None else HANGUP
            break
    if not reply["op"]:
        reply["op"] = HANGUP
    if prompt is not None and prompts is not None and reply["op"] != HANGUP:
        reply["has_prompt"] = "yes"
        reply["prompt_uri"] = prompts.uri(prompt)
    elif reply["op"] == PLAY_HANGUP:
        reply["op"] = HANGUP  # no prompt location: end the call rather than play nothing
    if state is not None:
        reply[call_state.STATE_KEY] = call_state.dump(state)
    return reply
