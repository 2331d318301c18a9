"""Check the layer `sam build` produced: aarch64 extensions for the runtime's CPython, the pinned
distributions, the runtime package exactly as it is in layers/nxbridge (nothing more: the development package
nxbridge_dev and moto are neither in it nor imported by it), nothing the runtime ships, no operator-console
library (Flask) in it or imported by any module the handlers load, and bytecode for the runtime's CPython (every
module, unchecked-hash, as layers/Makefile compiles it) or none at all.

Usage: python tools/check_layer.py [--layer .aws-sam/build/SharedLayer] [--runtime python3.13]
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EM_AARCH64 = 183
ELF_MAGIC = b"\x7fELF"
# The Lambda runtime ships these (boto3 and its dependencies); a copy in the layer only adds weight and skew.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "python_dateutil", "six"})
DEV_ONLY = frozenset({"pip", "setuptools", "wheel", "moto", "pytest", "mypy", "ruff", "hypothesis"})
# Development-only packages: never in the layer, never imported by what is in it.
DEV_PACKAGES = frozenset({"nxbridge_dev", "moto"})
# The operator console's web library and its dependencies, and the progress bar of `nxbridge import`: pyproject's
# dependencies give them to an operator (`nxbridge console`, `nxbridge import`); the layer ships nxbridge/console and
# nxbridge/importer as part of the package but never these, so no module the handlers load may import them.
OPERATOR_ONLY = frozenset({"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker", "tqdm"})
RUNTIME_SOURCE = ROOT / "layers" / "nxbridge"
MAX_LAYER_BYTES = 100 * 1024 * 1024  # Lambda allows 250 MB unzipped for code and all layers together.
# The flags word of a .pyc (PEP 552): bit 0 hash-based, bit 1 check the source. Lambda's /opt is read-only and a
# zip's timestamps are not the build's, so the bytecode must be used as it is: hash-based, unchecked.
PYC_UNCHECKED_HASH = 0b01


def normalize(name: str) -> str:
    """A distribution name as dist-info directories spell it (PEP 503 normalization, underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def read_pins(requirements: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, keyed by normalized name."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", line)
        if match is None:
            raise ValueError(f"{requirements}: not an exact pin: {line!r}")
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a shared object, or None when the file is not a 64-bit little-endian ELF."""
    header = path.read_bytes()[:20]
    if len(header) < 20 or header[:4] != ELF_MAGIC or header[4] != 2 or header[5] != 1:
        return None
    return int.from_bytes(header[18:20], "little")


def _imports(path: Path, package: str) -> list[tuple[str, str | None]]:
    """(module, name) pairs a file imports: name is None for ``import m``, else the name taken ``from m``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found += [(base, alias.name) for alias in node.names]
    return found


def _module_file(site: Path, name: str) -> Path | None:
    base = site.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def _package(site: Path, path: Path) -> str:
    """The package a file of the layer belongs to (what its relative imports are relative to)."""
    return ".".join(path.relative_to(site).with_suffix("").parts[:-1])


def unresolved_imports(site: Path, handlers: Sequence[Path]) -> list[str]:
    """``nxbridge`` modules imported by the layer's package or the handlers that the layer does not contain."""

    def module_file(name: str) -> Path | None:
        return _module_file(site, name)

    sources = [(p, _package(site, p)) for p in (site / "nxbridge").rglob("*.py")]
    sources += [(p, "") for p in handlers]
    problems = []
    for path, package in sources:
        for module, name in _imports(path, package):
            top = module.split(".")[0]
            if top in DEV_PACKAGES:
                problems.append(f"{path.name} imports {module}, which is development-only and not in the layer")
                continue
            if top != "nxbridge":
                continue
            found = module_file(module)
            if found is None:
                problems.append(f"{path.name} imports {module}, which is not in the layer")
            elif (
                found.name == "__init__.py"
                and name not in (None, "*")
                and module_file(f"{module}.{name}") is None
                and not re.search(rf"\b{re.escape(name)}\b", found.read_text(encoding="utf-8"))
            ):
                # ``from package import x``: x must be a submodule in the layer or a name the package defines.
                problems.append(f"{path.name} imports {module}.{name}, which is not in the layer")
    return problems


def handler_modules(site: Path, handlers: Sequence[Path]) -> dict[Path, list[tuple[str, str | None]]]:
    """Every file the functions may load: the handlers, then each ``nxbridge`` module (and its packages) they
    import, transitively, each with what it imports. Imports inside functions count too."""
    pending = [(p, "") for p in handlers] + [
        (p, "nxbridge.handlers") for p in (site / "nxbridge" / "handlers").glob("*.py")
    ]
    loaded: dict[Path, list[tuple[str, str | None]]] = {}
    while pending:
        path, package = pending.pop()
        if path in loaded:
            continue
        loaded[path] = _imports(path, package)
        for module, name in loaded[path]:
            parts = module.split(".")
            if parts[0] != "nxbridge":
                continue
            names = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
            names += [f"{module}.{name}"] if name not in (None, "*") else []
            found = [p for p in (_module_file(site, n) for n in names) if p is not None]
            pending += [(p, _package(site, p)) for p in found]
        if path.name == "__init__.py" and path.parent != site / "nxbridge":
            # A subpackage may import its own modules by name (sources.source_for does): count them all.
            pending += [(p, package) for p in path.parent.glob("*.py")]
    return loaded


def operator_imports(site: Path, handlers: Sequence[Path]) -> list[str]:
    """Operator-console libraries (OPERATOR_ONLY) imported by a file the functions load."""

    def shown(path: Path) -> str:
        return path.relative_to(site).as_posix() if path.is_relative_to(site) else path.name

    return [
        f"{shown(path)} imports {module}, which is for the operator console only, and the functions load it"
        for path, imports in sorted(handler_modules(site, handlers).items())
        for module, _ in imports
        if normalize(module.split(".")[0]) in OPERATOR_ONLY
    ]


@dataclass(frozen=True)
class Report:
    """What the check found: problems (empty when the layer is fine) and a few figures."""

    problems: list[str]
    extensions: int
    distributions: int
    size_bytes: int
    # Modules with bytecode for the runtime's CPython (0: the build machine had none), and its share of the size.
    compiled_modules: int = 0
    bytecode_bytes: int = 0


def package_differences(built: Path, source: Path) -> list[str]:
    """Modules of the built package that the source package does not have, and the other way round."""

    def modules(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*.py")} if root.is_dir() else set()

    shipped, runtime = modules(built), modules(source)
    return [f"nxbridge/{rel} is in the layer but not in layers/nxbridge" for rel in sorted(shipped - runtime)] + [
        f"nxbridge/{rel} of layers/nxbridge is missing from the layer" for rel in sorted(runtime - shipped)
    ]


def check_layer(layer_dir: Path, runtime: str, requirements: Path) -> Report:
    """Inspect a built layer directory (the one holding ``python/``) for a Lambda runtime like python3.13."""
    problems: list[str] = []
    site = layer_dir / "python"
    if not site.is_dir():
        return Report([f"{site} does not exist: run sam build first"], 0, 0, 0)
    version = runtime.removeprefix("python").replace(".", "")
    expected_tag = f".cpython-{version}-aarch64-linux-gnu.so"

    if not (site / "nxbridge" / "__init__.py").is_file():
        problems.append("python/nxbridge is missing: the handlers import it from the layer")
    problems += package_differences(site / "nxbridge", RUNTIME_SOURCE)
    problems += [
        f"{name} (development only) is in the layer" for name in sorted(DEV_PACKAGES) if (site / name).exists()
    ]
    # sam build puts each function's code beside the layer: .aws-sam/build/<Function>/app.py.
    handlers = sorted(layer_dir.parent.glob("*/app.py"))
    problems += unresolved_imports(site, handlers)
    problems += operator_imports(site, handlers)

    installed = {
        normalize(path.name.removesuffix(".dist-info").rsplit("-", 1)[0]): path.name.removesuffix(".dist-info")
        for path in site.glob("*.dist-info")
    }
    for name, version_pin in read_pins(requirements).items():
        found = installed.get(name)
        if found is None:
            problems.append(f"{name}=={version_pin} from the requirements is not installed")
        elif found.rsplit("-", 1)[1] != version_pin:
            problems.append(f"{found} installed, {name}=={version_pin} pinned")
    for name in sorted(installed.keys() & (RUNTIME_PROVIDED | DEV_ONLY | OPERATOR_ONLY)):
        problems.append(
            f"{installed[name]} must not be in the layer (the runtime ships it, or it is a dev or operator tool)"
        )

    extensions = sorted(site.rglob("*.so"))
    if not extensions:
        problems.append("no extension modules found: pydantic-core alone should bring one")
    for so in extensions:
        rel = so.relative_to(layer_dir)
        if not (so.name.endswith(expected_tag) or so.name.endswith(".abi3.so")):
            problems.append(f"{rel}: not built for CPython {runtime.removeprefix('python')} on aarch64")
        machine = elf_machine(so)
        if machine != EM_AARCH64:
            problems.append(f"{rel}: ELF machine {machine}, expected {EM_AARCH64} (aarch64)")

    bytecode_problems, compiled = bytecode_check(site, f"cpython-{version}")
    problems += bytecode_problems

    size = sum(p.stat().st_size for p in layer_dir.rglob("*") if p.is_file())
    if size > MAX_LAYER_BYTES:
        problems.append(f"layer is {size / 2**20:.0f} MiB unzipped, over the {MAX_LAYER_BYTES / 2**20:.0f} MiB budget")
    bytecode_bytes = sum(p.stat().st_size for p in site.rglob("*.pyc"))
    return Report(problems, len(extensions), len(installed), size, len(compiled), bytecode_bytes)


def bytecode_check(site: Path, tag: str) -> tuple[list[str], list[Path]]:
    """Problems with the layer's bytecode, and the modules compiled for ``tag`` (``cpython-313``).

    Either every module has unchecked-hash bytecode for the runtime's CPython, or none has (a build machine
    without that CPython): bytecode for another Python is never loaded, and a checked or timestamp .pyc makes
    the read-only runtime look at the source on every import.
    """
    problems: list[str] = []
    compiled: list[Path] = []
    sources = sorted(site.rglob("*.py"))
    for pyc in sorted(site.rglob("*.pyc")):
        stem, _, rest = pyc.name.partition(".")
        source = pyc.parent.parent / f"{stem}.py"
        shown = pyc.relative_to(site.parent)
        if pyc.parent.name != "__pycache__" or rest != f"{tag}.pyc":
            problems.append(f"{shown}: bytecode built for the build machine's Python, not {tag}")
        elif not source.is_file():
            problems.append(f"{shown}: bytecode without its source")
        elif int.from_bytes(pyc.read_bytes()[4:8], "little") != PYC_UNCHECKED_HASH:
            problems.append(f"{shown}: not unchecked-hash bytecode (compileall --invalidation-mode unchecked-hash)")
        else:
            compiled.append(source)
    problems += [
        f"{cache.relative_to(site.parent)}: __pycache__ without bytecode for {tag}"
        for cache in sorted(site.rglob("__pycache__"))
        if not any(cache.glob(f"*.{tag}.pyc"))
    ]
    if compiled:
        missing = sorted(set(sources) - set(compiled))
        problems += [f"{p.relative_to(site.parent)}: no bytecode, unlike the rest of the layer" for p in missing]
    if len(problems) > 10:
        problems = [*problems[:10], f"... and {len(problems) - 10} more bytecode problems"]
    return problems, compiled


def main(argv: Sequence[str] | None = None) -> int:
    """Print what the check found; exit 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--layer", type=Path, default=ROOT / ".aws-sam" / "build" / "SharedLayer")
    parser.add_argument("--runtime", default="python3.13", help="the functions' Lambda runtime")
    parser.add_argument("--requirements", type=Path, default=ROOT / "layers" / "requirements.txt")
    args = parser.parse_args(argv)
    report = check_layer(args.layer, args.runtime, args.requirements)
    for problem in report.problems:
        sys.stderr.write(f"check_layer: {problem}\n")
    if report.problems:
        return 1
    bytecode = (
        f"bytecode for all {report.compiled_modules} modules ({report.bytecode_bytes / 2**20:.1f} MiB of it)"
        if report.compiled_modules
        else "no bytecode"
    )
    sys.stdout.write(
        f"check_layer: OK: {report.extensions} aarch64 extension modules for {args.runtime}, "
        f"{report.distributions} distributions, {report.size_bytes / 2**20:.1f} MiB unzipped, {bytecode}\n"
    )
    if not report.compiled_modules:
        sys.stdout.write(
            f"check_layer: note: without bytecode every cold start compiles the modules it imports; build on a "
            f"machine with {args.runtime} (see layers/Makefile) to ship it\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
