"""``python -m bench``: run the benchmarks, print every figure with its target and verdict, rewrite the docs."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from bench.common import DOCS, ROOT, Figure, machine, now_utc, python_speed

NAMES = ("api", "drain", "ingest", "coldstart", "memory", "cost", "import", "sequential", "chaos", "local")
# Cheap and local first; the bursts after them; the cost model after them, as it uses the others' measurements;
# the chaos run, the longest, last.
ORDER = ("drain", "ingest", "coldstart", "memory", "import", "api", "sequential", "local", "cost", "chaos")
TITLES = {
    "api": (1, "API efficiency"),
    "drain": (2, "Drain CPU per batch"),
    "ingest": (3, "Ingest per request"),
    "coldstart": (4, "Cold start (imports)"),
    "memory": (5, "Drain memory"),
    "cost": (6, "Cost per million customers"),
    "import": (7, "Import of a Shopify export"),
    "sequential": (8, "Full batches at ordinary rates"),
    "chaos": (9, "Conservation under chaos"),
    "local": (10, "Local stack ingest rate"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(NAMES), help=f"comma-separated figures of {', '.join(NAMES)}")
    parser.add_argument("--big", action="store_true", help="10,000 webhooks for figure 1 and a deeper moto probe")
    parser.add_argument("--webhooks", type=int, default=None, help="burst size of figure 1 (default 2,000)")
    parser.add_argument("--window", type=float, default=None, help="batching window of figure 1 in seconds")
    parser.add_argument("--chaos-webhooks", type=int, default=None, help="webhooks of figure 9 (default 20,000)")
    parser.add_argument("--chaos-seed", type=int, default=None, help="seed of figure 9's traffic, faults and kills")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure fails its target")
    return parser


def _runners(args: argparse.Namespace, results: dict[str, dict[str, object]]) -> dict[str, Callable[[], Figure]]:
    # Imported when chosen: each benchmark pulls in what it measures.
    def api() -> Figure:
        from bench import burst  # noqa: PLC0415

        return burst.run(
            webhooks=args.webhooks or (10_000 if args.big else 2000),
            batch_window=args.window if args.window is not None else burst.DEFAULT_WINDOW,
            big=args.big,
        )

    def drain() -> Figure:
        from bench import drain_cpu  # noqa: PLC0415

        return drain_cpu.run()

    def ingest() -> Figure:
        from bench import ingest as ingest_bench  # noqa: PLC0415

        return ingest_bench.run()

    def coldstart() -> Figure:
        from bench import coldstart as coldstart_bench  # noqa: PLC0415

        return coldstart_bench.run()

    def memory() -> Figure:
        from bench import memory as memory_bench  # noqa: PLC0415

        return memory_bench.run()

    def cost() -> Figure:
        from bench import cost as cost_bench  # noqa: PLC0415

        return cost_bench.run(results)

    def import_rows() -> Figure:
        from bench import import_rows as import_bench  # noqa: PLC0415

        return import_bench.run()

    def sequential() -> Figure:
        from bench import sequential as sequential_bench  # noqa: PLC0415

        return sequential_bench.run()

    def chaos() -> Figure:
        from bench import chaos as chaos_bench  # noqa: PLC0415

        return chaos_bench.run(webhooks=args.chaos_webhooks or chaos_bench.WEBHOOKS, seed=args.chaos_seed)

    def local() -> Figure:
        from bench import local_rate  # noqa: PLC0415

        return local_rate.run()

    return {
        "sequential": sequential,
        "api": api,
        "drain": drain,
        "ingest": ingest,
        "coldstart": coldstart,
        "memory": memory,
        "cost": cost,
        "import": import_rows,
        "chaos": chaos,
        "local": local,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks in order; print; write docs/benchmarks.md after a full run."""
    args = _parser().parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(NAMES))
    if unknown:
        _parser().error(f"unknown figure(s): {', '.join(unknown)}")
    host = machine()
    started, clock = now_utc(), time.monotonic()
    print(f"nxbridge benchmarks on {host.label()}; load average {host.load_average}", flush=True)
    speed_before = python_speed()
    print(f"Python speed probe: `import boto3` takes {speed_before:.0f} ms of CPU", flush=True)
    results: dict[str, dict[str, object]] = {}
    figures: list[Figure] = []
    runners = _runners(args, results)
    for name in (n for n in ORDER if n in chosen):
        number, title = TITLES[name]
        print(f"\n=== {number}. {title} ...", flush=True)
        began = time.monotonic()
        try:
            figure = runners[name]()
        except Exception as exc:  # a benchmark that cannot run is a failed figure, not a crashed run
            traceback.print_exc()
            figure = Figure(
                number=number,
                name=name,
                title=title,
                value=f"could not run: {type(exc).__name__}: {exc}"[:300],
                target="(the figure did not run: see the issue)",
                passed=False,
                command=f"python -m bench --only {name}",
            )
        if not figure.target.strip():
            # A figure without a target cannot pass: say so rather than print a verdict of nothing.
            figure.target, figure.passed = "(none set)", False
        results[name] = figure.data
        figures.append(figure)
        print(figure.headline(), flush=True)
        print("\n".join(figure.details), flush=True)
        print(f"({time.monotonic() - began:.0f} s)", flush=True)
    figures.sort(key=lambda f: f.number)
    speed_after = python_speed()
    seconds = time.monotonic() - clock
    print(f"\n=== Summary ({seconds:.0f} s)")
    print(
        f"Python speed probe: `import boto3` took {speed_before:.0f} ms of CPU at the start, "
        f"{speed_after:.0f} ms at the end"
    )
    for figure in figures:
        print(figure.headline())
    failed = [f for f in figures if not f.passed]
    print(
        f"{len(figures) - len(failed)} of {len(figures)} figures pass"
        + (f"; FAIL: {', '.join(f.name for f in failed)}" if failed else "")
    )
    if set(chosen) == set(NAMES) and not args.no_docs:
        from bench import report  # noqa: PLC0415

        command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
        report.write(report.render(figures, host, command, started, seconds, (speed_before, speed_after)))
        print(f"wrote {DOCS.relative_to(ROOT)}")
    elif not args.no_docs:
        print(f"{DOCS.relative_to(ROOT)} not rewritten: only a run of every figure rewrites it")
    if args.strict and failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
