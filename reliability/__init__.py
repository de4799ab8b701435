"""The reliability suite (``make reliability`` / ``python -m reliability [--quick]``).

Tests say pass or fail; this suite gives the numbers behind "it holds up": how many generated
events each handler survived, how many interleavings and injected faults the forwarding service
went through, how many forged requests and toll-fraud targets were refused, and whether 200
concurrent calls all got valid answers and left their records. Each part lives in its own module
and returns :class:`~reliability.common.Figure` rows; :mod:`reliability.__main__` prints them as a
table and writes ``docs/reliability.md``. ``tests/functional/test_reliability.py`` runs every part
briefly, so a regression fails CI.
"""
