"""The local stack: everything that imitates AWS, PSTN Audio and Slack so the Lambdas run on a laptop.

Never shipped in a Lambda package and never imported by ``switchboard``, ``sma``, ``bot``,
``connect_lambda`` or ``deploy`` (tests/unit/test_layering.py). The CLI's local commands
(``switchboard dev|slack|call|demo``) are registered from :mod:`switchboard_local.commands`.
"""
