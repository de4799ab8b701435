"""``python -m reliability [--quick] [--part NAME]...``: run the suite, print the figures.

The full run (``make reliability``) uses the sizes the issue asks for and rewrites
``docs/reliability.md`` with its figures; ``--quick`` (CI) runs every part small and writes nothing
unless ``--doc`` says where. The exit status is 1 when any figure has failures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reliability.common import Figure

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"

# part name → (full size, quick size); what a size counts is the part's own unit.
SIZES: dict[str, tuple[int, int]] = {
    "fuzz-sma": (10_000, 300),
    "fuzz-connect": (10_000, 300),
    "fuzz-notifier": (2_000, 60),
    "fuzz-slack": (2_000, 60),
    "races": (300, 25),
    "forged": (1, 1),
    "toll-fraud": (1, 0),
    "load": (200, 20),
}


def _runners() -> dict[str, Callable[..., list[Figure]]]:
    from reliability import forged, fuzz, load, races, tollfraud

    return {
        "fuzz-sma": lambda h, n: [fuzz.fuzz_sma(h, n)],
        "fuzz-connect": lambda h, n: [fuzz.fuzz_connect(h, n)],
        "fuzz-notifier": lambda h, n: [fuzz.fuzz_notifier(h, n)],
        "fuzz-slack": lambda h, n: [fuzz.fuzz_slack(h, n)],
        "races": lambda h, n: races.run(n),
        "forged": lambda h, n: forged.run(h),
        "toll-fraud": lambda h, n: tollfraud.run(h, quick=n == 0),
        "load": load.run,
    }


def render_table(figures: list[Figure]) -> str:
    lines = [
        "| part | check | cases | failures | held | detail |",
        "|---|---|---:|---:|---:|---|",
    ]
    for f in figures:
        failures = f"{f.failures} (open: {f.open_item})" if f.open_item else str(f.failures)
        lines.append(f"| {f.part} | {f.check} | {f.cases} | {failures} | {f.rate} | {f.detail} |")
    return "\n".join(lines)


def render_examples(figures: list[Figure]) -> str:
    lines: list[str] = []
    for f in figures:
        if f.examples:
            lines.append(f"- **{f.part}: {f.check}** ({f.failures} failures), e.g.:")
            lines += ["  - `" + example.replace("`", "'") + "`" for example in f.examples]
    return "\n".join(lines)


def peak_memory_mb() -> int:
    """The process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI); writes no doc")
    parser.add_argument("--part", action="append", choices=sorted(SIZES), help="run only these parts")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--doc", type=Path, help=f"write the report here (default for a full run: {DOC})")
    args = parser.parse_args(argv)

    from reliability import harness, report

    parts = args.part or list(SIZES)
    runners = _runners()
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    started = time.monotonic()
    with harness.running() as h:
        for name in parts:
            size = SIZES[name][1 if args.quick else 0]
            began = time.monotonic()
            print(f"… {name} ({size})", file=sys.stderr, flush=True)
            figures += runners[name](h, size)
            timings[name] = time.monotonic() - began
            print(
                f"  {name}: {timings[name]:.0f} s, peak memory {peak_memory_mb()} MB",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.monotonic() - started
    table = render_table(figures)
    print(table)
    examples = render_examples(figures)
    if examples:
        print("\nFailures (first examples):\n" + examples)
    print(
        f"\n{len(parts)} parts in {elapsed:.0f} s: " + ", ".join(f"{n} {t:.0f} s" for n, t in timings.items())
    )
    doc = args.doc or (None if args.quick or args.part else DOC)
    if doc is not None:
        doc.write_text(report.document(table, examples, elapsed, quick=args.quick))
        print(f"wrote {doc}")
    if args.json:
        args.json.write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")
    return 1 if any(f.blocking for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
