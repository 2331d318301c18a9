"""The ``nxbridge`` command. Each subcommand lives with the code it drives and registers itself here.

The operator commands (``dlq``, ``import``, ``console``) are in the runtime package. The development commands (``run``,
``demo``, ``simulator``) live in the development package ``nxbridge_dev``, whose module is imported only when its
command is chosen; on a runtime-only install they are still listed, and say which package to install instead of
failing with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

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
NEEDS_DEVELOPMENT = " [needs the development package]"

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


def _missing(command: str, missing: str) -> Callable[[argparse.Namespace], int]:
    def explain(args: argparse.Namespace) -> int:
        print(
            f"nxbridge {command}: needs the development package (missing: {missing}); install it with"
            f" {DEVELOPMENT_INSTALL}",
            file=sys.stderr,
        )
        return 2

    return explain


class _Commands(_SubParsers):
    """The subcommands; a development command's module is imported only when that command is chosen.

    The local stack's modules import moto (about 2 s of CPU and 160 MB of memory): ``nxbridge import`` or ``nxbridge
    dlq`` on a development install must not pay for them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: dict[str, tuple[str, str]] = {}

    def add_deferred(self, command: str, module_name: str, summary: str) -> None:
        """List ``command``; its module registers it when it is chosen."""
        hint = "" if _findable(module_name) else NEEDS_DEVELOPMENT
        self.add_parser(command, help=summary + hint, add_help=False)
        self._deferred[command] = (module_name, summary)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Register the chosen command if it is deferred, then parse its arguments."""
        if isinstance(values, list) and values and values[0] in self._deferred:
            self._register(values[0])
        super().__call__(parser, namespace, values, option_string)

    def _register(self, command: str) -> None:
        module_name, summary = self._deferred.pop(command)
        # The listing's entry gives way to the module's own parser (argparse refuses a name registered twice).
        del self._name_parser_map[command]
        self._choices_actions = [action for action in self._choices_actions if action.dest != command]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only a missing development package (or its moto) is expected; any other import error is a bug.
            if (exc.name or "").split(".")[0] not in ("nxbridge_dev", "moto"):
                raise
            placeholder = self.add_parser(command, help=summary + NEEDS_DEVELOPMENT, add_help=False)
            placeholder.set_defaults(func=_missing(command, exc.name or "nxbridge_dev"))
            placeholder.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            return
        module.register(self)


def _findable(module_name: str) -> bool:
    """Whether the top package of ``module_name`` is installed (found, not imported)."""
    try:
        return importlib.util.find_spec(module_name.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered (development ones when chosen, as a hint if missing)."""
    parser = argparse.ArgumentParser(prog="nxbridge", description=__doc__.split("\n", 1)[0])
    sub = cast(_Commands, parser.add_subparsers(dest="command", required=True, metavar="COMMAND", action=_Commands))
    for module_name in OPERATOR_COMMANDS.values():
        importlib.import_module(module_name).register(sub)
    for command, (module_name, summary) in DEVELOPMENT_COMMANDS.items():
        sub.add_deferred(command, module_name, summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
