"""What the benchmarks share: the repository first on ``sys.path``, progress lines, a loopback moto
server, timings of fresh interpreters, and the closing (the figures printed, and written as JSON when
``--json`` names a file)."""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Credentials moto accepts; a benchmark adds its endpoints and settings.
BENCH_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# DynamoDB operations by kind, for the benchmarks that count a handler's table calls.
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def progress(text: str) -> None:
    """Say what is being measured (stderr), so a minute of measuring is not a minute of silence."""
    print(f"bench: {text}…", file=sys.stderr, flush=True)


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server on loopback for the block (its request log off): its URL."""
    from moto.server import ThreadedMotoServer

    from switchboard_local.console_output import silenced

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        with silenced():
            server.stop()


def fresh_interpreter_ms(
    programs: Mapping[str, str], env: Mapping[str, str], rounds: int
) -> dict[str, float]:
    """The median wall time (ms) of ``python -c <program>`` for each program, in fresh interpreters,
    rounds interleaved so drift hits every program alike."""
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(rounds):
        for name, code in programs.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=dict(env), check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def write_json(path: Path | None, figures: Any) -> None:
    """The figures as JSON in ``path`` (its folder made if need be); nothing when no path was given."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")


def report(text: str, figures: Any, path: Path | None) -> int:
    """The closing of a benchmark's ``main``: the figures printed as ``text``, then written as JSON."""
    print(text)
    write_json(path, figures)
    return 0
