"""Figure 4's bookkeeping: whose module is it (ours or a dependency's), and what the dependencies alone import."""

from __future__ import annotations

import re
from pathlib import Path

from bench.coldstart import Invocation, Loaded, classify, dependency_modules, template_runtime

ROOT = Path(__file__).resolve().parents[2]
LAYER = Path("/opt/python")
RUNTIME = Path("/var/runtime")
STDLIB = "/var/lang/lib/python3.13"


def loaded(name: str, where: str, *importers: str) -> Loaded:
    return Loaded(name, f"{where}/{name.replace('.', '/')}.py", importers)


MODULES = [
    loaded("app", "/var/task", "importlib"),
    loaded("nxbridge", str(LAYER), "app"),
    loaded("nxbridge.drain", str(LAYER), "nxbridge", "app"),
    loaded("concurrent.futures", STDLIB, "nxbridge.drain", "app"),
    loaded("queue", STDLIB, "concurrent.futures", "nxbridge.drain"),
    loaded("boto3", str(RUNTIME), "nxbridge.drain", "app"),
    loaded("socket", STDLIB, "boto3", "nxbridge.drain"),
    loaded("_socket", STDLIB, "types", "socket", "boto3"),
    loaded("pydantic", str(LAYER), "nxbridge.drain"),
    loaded("email.utils", STDLIB, "logging"),
]


def test_a_standard_library_module_is_charged_to_the_package_whose_code_imported_it() -> None:
    owners = classify(MODULES, [LAYER, RUNTIME])
    assert owners["concurrent.futures"] == owners["queue"] == "nxbridge"
    assert owners["socket"] == "boto3"
    # "types" was loaded before the cold start (not in the record): the next importer that was, counts.
    assert owners["_socket"] == "boto3"
    assert owners["pydantic"] == "pydantic"
    assert owners["app"] == owners["nxbridge.drain"] == "nxbridge"


def test_what_only_the_runtime_preloaded_modules_asked_for_is_charged_to_us() -> None:
    assert classify(MODULES, [LAYER, RUNTIME])["email.utils"] == "nxbridge"


def test_the_dependencies_alone_import_their_modules_and_what_they_imported_in_order() -> None:
    invocation = Invocation("DrainFunction", "Active", {}, MODULES[:6], MODULES[6:])
    assert dependency_modules(invocation, [LAYER, RUNTIME]) == ["boto3", "socket", "_socket", "pydantic"]


def test_the_benchmark_reads_the_runtime_the_layer_is_built_for() -> None:
    makefile = (ROOT / "layers" / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^RUNTIME_PYTHON := (\S+)$", makefile, re.M)
    assert match is not None
    assert template_runtime() == match.group(1)
