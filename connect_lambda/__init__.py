"""Amazon Connect contact-flow Lambda: find the call behind a DNIS pair and ask the SMA to transfer it.

See :mod:`connect_lambda.app` and ``docs/transfer.md``.
"""
