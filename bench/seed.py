"""``sma.app.handler`` side by side with the seed sample's handler (``bench/seed_handler.py``).

Each side runs in its own fresh interpreter, rounds interleaved (seed, ours, seed, ours, …), against
one DynamoDB endpoint that answers at once: a small HTTP server on loopback returning a canned
``GetItem`` response (our rule item, or the seed's ``destination_number`` item, by table name). So
the figures are what each handler itself costs, not the table's speed. Inside each interpreter:

* **cold** = importing the handler's module (Lambda's init: the client is built there on both
  sides) plus its first NEW_INBOUND_CALL, timed from inside the interpreter (startup excluded);
* **warm** = the median of the following NEW_INBOUND_CALL invocations.

The shipped code (``sma/``, ``switchboard/``, the seed module) is copied to a scratch directory and
run without bytecode caching, because Lambda packages built on any Python but the runtime's ship
without ``.pyc`` files and ``/var/task`` is read-only: a cold start compiles them. A second copy
with bytecode gives the cold figure of a package built on the runtime's Python (3.12), which ships
it (the Makefile's build targets). The standard library and botocore/boto3 keep their bytecode, as
the runtime's do. Both sides write their log lines to
stdout, which goes to /dev/null: formatting costs, rendering does not.

``python -m bench.seed [--rounds N] [--calls N] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import ROOT, progress, report

OURS = "+12025550100"
DESTINATION = "+12065550111"
TABLE = "switchboard-bench"
SIDES = {"seed": "bench.seed_handler", "ours": "sma.app"}
CLOCKS = {"cpu": "CPU", "wall": "wall"}

# The child program: nothing imported before the clock starts but what the interpreter already has.
CHILD = """\
import sys, time
EVENT = {event!r}
clocks = (time.perf_counter, time.process_time)
start = [clock() for clock in clocks]
from {module} import handler
imported = [clock() for clock in clocks]
first = handler(EVENT, None)
done = [clock() for clock in clocks]
warm = [[], []]
for _ in range({calls}):
    began = [clock() for clock in clocks]
    handler(EVENT, None)
    ended = [clock() for clock in clocks]
    for kind in (0, 1):
        warm[kind].append(ended[kind] - began[kind])
import json
result = {{"response": first}}
for kind, name in enumerate(("wall", "cpu")):
    result[name] = {{
        "import": imported[kind] - start[kind],
        "first": done[kind] - imported[kind],
        "warm": warm[kind],
    }}
with open(sys.argv[1], "w") as out:
    json.dump(result, out)
"""


def canned_items() -> dict[str, dict[str, Any]]:
    """GetItem's ``Item`` per table: our stored rule for ``OURS``, and the seed's mapping."""
    from switchboard.adapters.dynamo_codec import encode_item
    from switchboard.adapters.dynamodb import rule_to_item
    from switchboard.domain.rules import ForwardRule, NumberHome

    # As the bot stores it: authorship, version, time and where the number goes back to.
    rule = ForwardRule(
        number=OURS,
        destinations=(DESTINATION,),
        created_by="U0BENCH",
        updated_by="U0BENCH",
        updated_at="2026-12-01T00:00:00+00:00",
        version=1,
        home=NumberHome(product_type="VoiceConnector", voice_connectors=("abcdef1234",)),
    )
    return {
        TABLE: encode_item({k: v for k, v in rule_to_item(rule).items() if v is not None}),
        "calledNumber": {"dialed_number": {"S": OURS}, "destination_number": {"S": DESTINATION}},
    }


@contextmanager
def instant_dynamodb(items: dict[str, dict[str, Any]] | None = None) -> Iterator[str]:
    """A loopback endpoint that answers every GetItem at once with the table's canned item (``items``
    maps a table to its item; the seed's by default) and any other request with an empty success."""
    chosen = canned_items() if items is None else items
    bodies = {table: json.dumps({"Item": item}).encode() for table, item in chosen.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as DynamoDB: warm calls reuse the connection
        disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            body = bodies.get(request.get("TableName", ""), b"{}")
            if "ProjectionExpression" in request:  # as DynamoDB: only the attributes asked for
                names = request.get("ExpressionAttributeNames", {})
                paths = (name.strip() for name in request["ProjectionExpression"].split(","))
                wanted = {names.get(path, path) for path in paths}
                item = json.loads(body)["Item"]
                body = json.dumps({"Item": {k: v for k, v in item.items() if k in wanted}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("x-amzn-RequestId", "bench")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def shipped_copy(into: Path) -> Path:
    """What the Lambda packages hold (and the seed module), without any bytecode."""
    into.mkdir(parents=True, exist_ok=True)
    for package in ("sma", "switchboard"):
        shutil.copytree(ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__"))
    (into / "bench").mkdir()
    (into / "bench" / "__init__.py").write_text("")
    shutil.copy(ROOT / "bench" / "seed_handler.py", into / "bench" / "seed_handler.py")
    return into


def compiled_copy(into: Path) -> Path:
    """The same with bytecode, as a package built by the runtime's Python version ships it."""
    shipped_copy(into)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(into)],
        check=True,
    )
    return into


def new_inbound_call() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "tests" / "events" / "new_inbound_call.json").read_text())
    event["CallDetails"]["Participants"][0]["To"] = OURS
    return event


def run_side(side: str, code_dir: Path, endpoint: str, calls: int, out: Path) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "PYTHON", "TABLE_NAME", "PROMPT_"))
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "TABLE_NAME": TABLE,
            "PROMPT_BUCKET": "bench-prompts",
            "POWERTOOLS_METRICS_NAMESPACE": "SwitchboardBench",
            "PYTHONPATH": str(code_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    code = CHILD.format(event=new_inbound_call(), module=SIDES[side], calls=calls)
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        env=env,
        cwd=code_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{side} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def compare(rounds: int, calls: int) -> dict[str, Any]:
    """Interleaved fresh-interpreter rounds of both sides; medians and ratios per clock."""
    samples = {
        clock: {side: {"cold": [], "warm": [], "import": [], "cold_bytecode": []} for side in SIDES}
        for clock in CLOCKS
    }
    responses: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as scratch, instant_dynamodb() as endpoint:
        code_dir = shipped_copy(Path(scratch) / "source")
        compiled_dir = compiled_copy(Path(scratch) / "bytecode")
        out = Path(scratch) / "result.json"
        for index in range(rounds):
            order = list(SIDES) if index % 2 == 0 else list(reversed(SIDES))
            for side in order:
                data = run_side(side, code_dir, endpoint, calls, out)
                responses[side] = data["response"]
                for clock in CLOCKS:
                    figures: dict[str, Any] = data[clock]
                    samples[clock][side]["import"].append(figures["import"])
                    samples[clock][side]["cold"].append(figures["import"] + figures["first"])
                    samples[clock][side]["warm"].append(statistics.median(figures["warm"]))
                compiled = run_side(side, compiled_dir, endpoint, 0, out)
                for clock in CLOCKS:
                    samples[clock][side]["cold_bytecode"].append(
                        compiled[clock]["import"] + compiled[clock]["first"]
                    )
    result: dict[str, Any] = {"rounds": rounds, "calls_per_round": calls, "responses": responses}
    for clock in CLOCKS:
        med = {
            side: {name: statistics.median(values) * 1000 for name, values in figures.items()}
            for side, figures in samples[clock].items()
        }
        result[clock] = {
            **{side: {name: round(value, 3) for name, value in med[side].items()} for side in SIDES},
            "warm_ratio": round(med["ours"]["warm"] / med["seed"]["warm"], 3),
            "cold_ratio": round(med["ours"]["cold"] / med["seed"]["cold"], 3),
            "import_ratio": round(med["ours"]["import"] / med["seed"]["import"], 3),
            "cold_bytecode_ratio": round(med["ours"]["cold_bytecode"] / med["seed"]["cold_bytecode"], 3),
        }
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"## sma.app.handler vs the seed sample's handler ({result['rounds']} fresh interpreters "
        f"each, interleaved; {result['calls_per_round']} warm calls in each)",
        "",
        "| clock | measure | seed-equivalent handler | sma.app.handler | ratio |",
        "|---|---|---|---|---|",
    ]
    for clock, label in CLOCKS.items():
        figures = result[clock]
        seed, ours = figures["seed"], figures["ours"]
        lines += [
            f"| {label} | warm NEW_INBOUND_CALL (median) | {seed['warm']:.3f} ms | {ours['warm']:.3f} ms "
            f"| **{figures['warm_ratio']}×** |",
            f"| {label} | cold: import + first call (median) | {seed['cold']:.1f} ms | {ours['cold']:.1f} ms "
            f"| **{figures['cold_ratio']}×** |",
            f"| {label} | of which import (median) | {seed['import']:.1f} ms | {ours['import']:.1f} ms "
            f"| {figures['import_ratio']}× |",
            f"| {label} | cold, packages with bytecode (median) | {seed['cold_bytecode']:.1f} ms "
            f"| {ours['cold_bytecode']:.1f} ms | **{figures['cold_bytecode_ratio']}×** |",
        ]
    lines += [
        "",
        "Both against a loopback DynamoDB endpoint that answers GetItem at once; the seed side is "
        "`bench/seed_handler.py` (boto3 client, stdlib logging, one GetItem, one CallAndBridge). "
        "Shipped code runs without bytecode, as `make build` packages it on any Python but the "
        "runtime's (Lambda cannot write bytecode, so a cold start compiles it); the bytecode row "
        "is the same code with bytecode, as a build on Python 3.12 ships it. "
        "CPU = the interpreter's own CPU time (`time.process_time`), which a busy machine does not "
        "inflate; wall = `time.perf_counter`.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="fresh interpreters per side")
    parser.add_argument("--calls", type=int, default=300, help="warm calls in each interpreter")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    progress(f"seed vs ours, {args.rounds} fresh interpreters per side")
    result = compare(args.rounds, args.calls)
    return report(render(result), result, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
