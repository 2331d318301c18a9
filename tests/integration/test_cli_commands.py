"""The ``nxbridge`` parser: a development command's module (the local stack imports moto) loads only when chosen."""

from __future__ import annotations

import json
import subprocess
import sys

from nxbridge.cli import build_parser

# Parse ARGV in a fresh interpreter; print the development modules that got imported.
PARSE_AND_LIST = """
import json, sys
from nxbridge.cli import build_parser

build_parser().parse_args(sys.argv[1:])
print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in ("moto", "nxbridge_dev"))))
"""


def _imported_by_parsing(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PARSE_AND_LIST, *argv], capture_output=True, text=True, timeout=120, check=True
    )
    imported: list[str] = json.loads(done.stdout)
    return imported


def test_an_operator_command_imports_neither_moto_nor_the_development_package() -> None:
    argv = ("import", "customers.csv", "--format", "shopify-csv", "--endpoint", "shopify", "--dry-run")

    assert _imported_by_parsing(*argv) == []


def test_a_development_command_is_registered_by_its_module_when_chosen() -> None:
    imported = _imported_by_parsing("run", "--port", "0")

    assert "nxbridge_dev.local.stack" in imported
    assert "nxbridge_dev.local.demo" not in imported


def test_the_listing_names_every_command_without_loading_the_development_ones() -> None:
    listing = build_parser().format_help()

    for command in ("dlq", "import", "console", "simulator", "run", "demo"):
        assert command in listing
    assert "[needs the development package]" not in listing
