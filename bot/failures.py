"""What a Slack user is told when something goes wrong, and what the log keeps.

Errors from the table, Chime SDK Voice or Slack carry account ids, role ARNs and table names in
their text. None of that is for a workspace: every Slack surface (slash command, form, App Home,
alert buttons, transfers) turns an error into a plain sentence through :func:`explain`, and when
the cause is ours, not the user's, the sentence ends with a short reference id. The log line with
the technical detail carries the same id, so whoever runs switchboard can find it::

    reference 3f9c2a1b: ChangeFailedError: Could not route +12025550100 ... | detail: An error
    occurred (AccessDeniedException) ... (the role ARN, account id, table name)

Refusals of the user's own input (:class:`~switchboard.service.RefusedError` and friends) are the
user's to fix and are shown as they are, escaped.
"""

from __future__ import annotations

import logging
import secrets

from bot import views
from bot.transfers import TransferRefusedError
from switchboard.ports import InventoryError, StorageError
from switchboard.service import ChangeFailedError, ConcurrentChangeError, RefusedError
from switchboard.settings import ConfigurationError

log = logging.getLogger("bot")


def new_reference() -> str:
    """8 hex characters: short enough to read out, unique enough to find one log line."""
    return secrets.token_hex(4)


def explain(error: BaseException, *, changing: bool = True) -> str:
    """The sentence for Slack about ``error`` (logged, with a reference, when it is ours).

    ``changing``: the user asked for a change (so "nothing was changed" is worth saying).
    """
    if isinstance(error, RefusedError | TransferRefusedError):
        return views.refused_text(str(error))
    if isinstance(error, ConcurrentChangeError):
        return views.concurrent_change_text(str(error))
    reference = new_reference()
    detail = getattr(error, "detail", "")
    log.error(
        "reference %s: %s: %s%s",
        reference,
        type(error).__name__,
        error,
        f" | detail: {detail}" if detail else "",
        exc_info=error if not isinstance(error, ChangeFailedError | StorageError) else None,
    )
    if isinstance(error, ChangeFailedError):
        return views.change_failed_text(str(error), reference, consistent=error.consistent)
    if isinstance(error, InventoryError):
        return views.inventory_unavailable_text(reference, changing=changing)
    if isinstance(error, StorageError):
        return views.table_unavailable_text(reference, changing=changing)
    if isinstance(error, ConfigurationError):
        return views.not_configured_text(reference)
    return views.internal_error_text(reference, changing=changing)
