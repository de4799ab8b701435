"""Business hours in the Lambda runtime, which has no system time zone database.

``zoneinfo`` reads the system's files (``zoneinfo.TZPATH``) and falls back to the ``tzdata``
package. The Lambda runtime image ships no ``/usr/share/zoneinfo``, so the call-path functions get
``tzdata`` from their layers: these tests run the hours with an empty TZPATH (exactly that
situation) and check the packaging that puts ``tzdata`` there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from switchboard_local.aws.template import load_template

ROOT = Path(__file__).resolve().parents[2]

# Run with PYTHONTZPATH="" (zoneinfo.TZPATH == ()): only the tzdata package can answer.
NO_SYSTEM_DATABASE = """
import zoneinfo
from datetime import UTC, datetime
assert zoneinfo.TZPATH == (), zoneinfo.TZPATH
from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import ForwardRule

hours = parse_hours("daily 09:00-17:30", "America/Chicago")
# 2026-03-08: clocks go 02:00 CST -> 03:00 CDT; 09:00 is UTC-5 that day, UTC-6 the day before.
assert hours.next_change(datetime(2026, 3, 7, 12, tzinfo=UTC)) == datetime(2026, 3, 7, 15, tzinfo=UTC)
assert hours.next_change(datetime(2026, 3, 8, 12, tzinfo=UTC)) == datetime(2026, 3, 8, 14, tzinfo=UTC)
# 2026-11-01: clocks go 02:00 CDT -> 01:00 CST; 17:30 is UTC-6 that day, UTC-5 the day before.
assert hours.next_change(datetime(2026, 10, 31, 20, tzinfo=UTC)) == datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
assert hours.next_change(datetime(2026, 11, 1, 20, tzinfo=UTC)) == datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
rule = ForwardRule(number="+12025550100", destinations=("+12065550111",), hours=hours,
                   else_destinations=("+14155550133",))
assert rule.destinations_at(datetime(2026, 11, 1, 23, 0, tzinfo=UTC).timestamp()) == ("+12065550111",)
assert rule.destinations_at(datetime(2026, 11, 1, 23, 30, tzinfo=UTC).timestamp()) == ("+14155550133",)
print("ok")
"""


def test_hours_across_both_dst_change_overs_need_only_the_tzdata_package() -> None:
    environment = {**os.environ, "PYTHONTZPATH": "", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", NO_SYSTEM_DATABASE],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_tzdata_is_a_runtime_dependency_and_in_the_layer_of_every_function_reading_hours() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("tzdata") for dep in project["dependencies"])
    resources = load_template()["Resources"]
    layers = {
        props["Properties"].get("Handler"): props["Properties"].get("Layers", [])
        for props in resources.values()
        if props.get("Type") == "AWS::Serverless::Function"
    }
    # The call path decides with the hours; the bot parses and shows them.
    for handler, layer, requirements in (
        ("sma.app.handler", "CallPathLayer", "call-path.txt"),
        ("connect_lambda.app.handler", "CallPathLayer", "call-path.txt"),
        ("bot.app.handler", "DependenciesLayer", "lambda.txt"),
    ):
        assert {"Ref": layer} in layers[handler], handler
        lines = (ROOT / "requirements" / requirements).read_text().splitlines()
        assert any(line.startswith("tzdata") for line in lines), requirements
