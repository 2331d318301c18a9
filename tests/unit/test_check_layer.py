"""tools/check_layer.py tells a Lambda-ready layer from one built for the wrong machine or Python."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.check_layer import EM_AARCH64, RUNTIME_SOURCE, check_layer, main

EM_X86_64 = 62
TAG = ".cpython-313-aarch64-linux-gnu.so"


def elf(machine: int) -> bytes:
    """The first bytes of a 64-bit little-endian ELF shared object for ``machine``."""
    return b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little")


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("# pinned\npydantic-core==2.0.1\naws-lambda-powertools[tracer]==3.1.0  # logging\n")
    return path


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A layer as sam build leaves it for python3.13 on arm64."""
    site = tmp_path / "layer" / "python"
    site.mkdir(parents=True)
    shutil.copytree(RUNTIME_SOURCE, site / "nxbridge", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "pydantic_core").mkdir()
    (site / "pydantic_core" / f"_pydantic_core{TAG}").write_bytes(elf(EM_AARCH64))
    (site / "pydantic_core-2.0.1.dist-info").mkdir()
    (site / "aws_lambda_powertools-3.1.0.dist-info").mkdir()
    return tmp_path / "layer"


def test_a_layer_built_for_the_runtime_passes(layer: Path, requirements: Path) -> None:
    report = check_layer(layer, "python3.13", requirements)
    assert report.problems == []
    assert (report.extensions, report.distributions) == (1, 2)


def test_an_x86_64_extension_is_rejected(layer: Path, requirements: Path) -> None:
    (layer / "python" / "pydantic_core" / f"_pydantic_core{TAG}").write_bytes(elf(EM_X86_64))
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert "ELF machine 62" in problem


def test_an_extension_for_another_python_is_rejected(layer: Path, requirements: Path) -> None:
    (layer / "python" / "pydantic_core" / f"_pydantic_core{TAG}").rename(
        layer / "python" / "pydantic_core" / "_pydantic_core.cpython-311-aarch64-linux-gnu.so"
    )
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert "not built for CPython 3.13 on aarch64" in problem


def test_botocore_and_dev_only_modules_are_rejected(layer: Path, requirements: Path) -> None:
    (layer / "python" / "botocore-1.35.0.dist-info").mkdir()
    (layer / "python" / "nxbridge" / "simulator.py").write_text("")
    (layer / "python" / "nxbridge_dev").mkdir()
    problems = check_layer(layer, "python3.13", requirements).problems
    assert len(problems) == 3
    assert any("botocore-1.35.0" in p for p in problems)
    assert "nxbridge/simulator.py is in the layer but not in layers/nxbridge" in problems
    assert "nxbridge_dev (development only) is in the layer" in problems


def test_a_runtime_module_missing_from_the_layer_is_reported(layer: Path, requirements: Path) -> None:
    (layer / "python" / "nxbridge" / "drain" / "delivery.py").unlink()
    problems = check_layer(layer, "python3.13", requirements).problems
    assert "nxbridge/drain/delivery.py of layers/nxbridge is missing from the layer" in problems


def test_a_missing_or_different_pin_is_reported(layer: Path, requirements: Path) -> None:
    (layer / "python" / "aws_lambda_powertools-3.1.0.dist-info").rename(
        layer / "python" / "aws_lambda_powertools-3.2.0.dist-info"
    )
    (layer / "python" / "pydantic_core-2.0.1.dist-info").rmdir()
    problems = check_layer(layer, "python3.13", requirements).problems
    assert sorted(problems) == [
        "aws_lambda_powertools-3.2.0 installed, aws_lambda_powertools==3.1.0 pinned",
        "pydantic_core==2.0.1 from the requirements is not installed",
    ]


def test_bytecode_from_the_build_machine_is_rejected(layer: Path, requirements: Path) -> None:
    (layer / "python" / "nxbridge" / "__pycache__").mkdir()
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert "__pycache__" in problem


def pyc(flags: int) -> bytes:
    """The 16-byte header of a .pyc (magic, PEP 552 flags, then hash or mtime and size) and no code."""
    return b"\xf3\x0d\x0d\x0a" + flags.to_bytes(4, "little") + bytes(8)


def compile_all(site: Path, tag: str = "cpython-313", flags: int = 0b01) -> None:
    """Bytecode beside every module, as ``compileall --invalidation-mode unchecked-hash`` writes it."""
    for source in list(site.rglob("*.py")):
        cache = source.parent / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / f"{source.stem}.{tag}.pyc").write_bytes(pyc(flags))


def test_unchecked_hash_bytecode_for_the_runtime_passes_and_is_counted(layer: Path, requirements: Path) -> None:
    compile_all(layer / "python")
    report = check_layer(layer, "python3.13", requirements)
    assert report.problems == []
    assert report.compiled_modules == len(list((layer / "python").rglob("*.py")))
    assert report.bytecode_bytes == 16 * report.compiled_modules


def test_bytecode_for_another_python_is_rejected(layer: Path, requirements: Path) -> None:
    compile_all(layer / "python", tag="cpython-311")
    problems = check_layer(layer, "python3.13", requirements).problems
    assert problems[0].endswith("bytecode built for the build machine's Python, not cpython-313")
    assert problems[-1].startswith("... and ")


def test_timestamp_bytecode_is_rejected(layer: Path, requirements: Path) -> None:
    compile_all(layer / "python", flags=0)
    problems = check_layer(layer, "python3.13", requirements).problems
    assert "not unchecked-hash bytecode" in problems[0]


def test_a_module_left_without_bytecode_is_reported(layer: Path, requirements: Path) -> None:
    compile_all(layer / "python")
    (layer / "python" / "nxbridge" / "__pycache__" / "ordering.cpython-313.pyc").unlink()
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert problem == "python/nxbridge/ordering.py: no bytecode, unlike the rest of the layer"


def test_bytecode_without_its_source_is_reported(layer: Path, requirements: Path) -> None:
    compile_all(layer / "python")
    (layer / "python" / "nxbridge" / "__pycache__" / "gone.cpython-313.pyc").write_bytes(pyc(0b01))
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert problem == "python/nxbridge/__pycache__/gone.cpython-313.pyc: bytecode without its source"


def test_the_command_says_when_the_layer_has_no_bytecode(
    layer: Path, requirements: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--layer", str(layer), "--requirements", str(requirements)]) == 0
    out = capsys.readouterr().out
    assert "no bytecode" in out
    assert "every cold start compiles" in out
    compile_all(layer / "python")
    assert main(["--layer", str(layer), "--requirements", str(requirements)]) == 0
    assert "bytecode for all" in capsys.readouterr().out


def test_the_command_exits_nonzero_when_nothing_was_built(tmp_path: Path, requirements: Path) -> None:
    assert main(["--layer", str(tmp_path / "missing"), "--requirements", str(requirements)]) == 1


def test_a_module_importing_an_excluded_module_is_reported(layer: Path, requirements: Path) -> None:
    (layer / "python" / "nxbridge" / "ordering.py").write_text("from nxbridge_dev.simulator import Simulator\n")
    # sam build puts each function beside the layer, as .aws-sam/build/<Function>/app.py.
    (layer.parent / "IngestFunction").mkdir()
    (layer.parent / "IngestFunction" / "app.py").write_text(
        "from nxbridge import local\nfrom nxbridge.ordering import x\nimport moto\n"
    )
    problems = check_layer(layer, "python3.13", requirements).problems
    assert sorted(problems) == [
        "app.py imports moto, which is development-only and not in the layer",
        "app.py imports nxbridge.local, which is not in the layer",
        "ordering.py imports nxbridge_dev.simulator, which is development-only and not in the layer",
    ]


def test_the_console_may_import_flask_but_no_module_the_functions_load_may(layer: Path, requirements: Path) -> None:
    site = layer / "python"
    assert "from flask import" in (site / "nxbridge" / "console" / "app.py").read_text(encoding="utf-8")
    assert check_layer(layer, "python3.13", requirements).problems == []
    with (site / "nxbridge" / "redact.py").open("a", encoding="utf-8") as handle:
        handle.write("\n\ndef _page() -> None:\n    import jinja2\n")
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert problem.startswith("nxbridge/redact.py imports jinja2, which is for the operator console only")


def test_a_handler_importing_the_console_is_reported(layer: Path, requirements: Path) -> None:
    # sam build puts each function's code beside the layer.
    (layer.parent / "ReplayFunction").mkdir()
    (layer.parent / "ReplayFunction" / "app.py").write_text("from nxbridge.console.app import create_app\n")
    problems = check_layer(layer, "python3.13", requirements).problems
    assert (
        "nxbridge/console/app.py imports flask, which is for the operator console only, and the functions load it"
        in problems
    )


def test_flask_installed_in_the_layer_is_rejected(layer: Path, requirements: Path) -> None:
    (layer / "python" / "flask-3.1.0.dist-info").mkdir()
    (problem,) = check_layer(layer, "python3.13", requirements).problems
    assert "flask-3.1.0 must not be in the layer" in problem
