"""The seed comparison (``bench/seed.py``) compares like with like: both handlers answer the same
new call with the same bridge, each in its own fresh interpreter, from source and from bytecode."""

from __future__ import annotations

from bench.seed import DESTINATION, OURS, compare


def test_both_handlers_bridge_the_same_call_and_every_figure_is_measured() -> None:
    result = compare(rounds=1, calls=3)

    for side in ("seed", "ours"):
        (bridge,) = [a for a in result["responses"][side]["Actions"] if a["Type"] == "CallAndBridge"]
        assert bridge["Parameters"]["Endpoints"][0]["Uri"] == DESTINATION
        assert bridge["Parameters"]["CallerIdNumber"] == OURS
        assert bridge["Parameters"]["RingbackTone"]["Type"] == "S3"
    assert "TransactionAttributes" not in result["responses"]["seed"]  # the seed keeps no state
    for clock in ("cpu", "wall"):
        figures = result[clock]
        for side in ("seed", "ours"):
            assert all(figures[side][name] > 0 for name in ("warm", "cold", "import", "cold_bytecode"))
        assert figures["warm_ratio"] > 0
        assert figures["cold_ratio"] > 0
