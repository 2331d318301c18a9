"""The ``nxbridge`` command. Each subcommand lives with the code it drives and registers itself here.

The operator commands (``dlq``, ``import``, ``console``) are in the runtime package. The development commands (``run``,
``demo``, ``simulator``) live in the development package ``nxbridge_dev``; on a runtime-only install they are still
listed, and say which package to install instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# subcommand -> the module that owns it; each module exposes register(subparsers).
OPERATOR_COMMANDS: dict[str, str] = {
    "dlq": "nxbridge.replay.cli",
    "import": "nxbridge.importer.cli",
    "console": "nxbridge.console.cli",
}
DEVELOPMENT_COMMANDS: dict[str, tuple[str, str]] = {
    "simulator": ("nxbridge_dev.simulator", "run the strict NXCloud simulator"),
    "run": ("nxbridge_dev.local.stack", "run the whole bridge locally (embedded AWS + NXCloud simulator)"),
    "demo": ("nxbridge_dev.local.demo", "start the local stack, post every events/ file, check the outcome"),
}
DEVELOPMENT_INSTALL = "pip install -e ./dev (from a checkout; `make run` does it for you)"


def _missing(command: str, missing: str) -> Callable[[argparse.Namespace], int]:
    def explain(args: argparse.Namespace) -> int:
        print(
            f"nxbridge {command}: needs the development package (missing: {missing}); install it with"
            f" {DEVELOPMENT_INSTALL}",
            file=sys.stderr,
        )
        return 2

    return explain


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered (development ones as a hint when not installed)."""
    parser = argparse.ArgumentParser(prog="nxbridge", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in OPERATOR_COMMANDS.values():
        importlib.import_module(module_name).register(sub)
    for command, (module_name, summary) in DEVELOPMENT_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only a missing development package (or its moto) is expected; any other import error is a bug.
            if (exc.name or "").split(".")[0] not in ("nxbridge_dev", "moto"):
                raise
            placeholder = sub.add_parser(command, help=f"{summary} [needs the development package]", add_help=False)
            placeholder.set_defaults(func=_missing(command, exc.name or "nxbridge_dev"))
            placeholder.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
