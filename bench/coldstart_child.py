"""The fresh interpreter of figure 4, run by the runtime's CPython with Lambda's environment and sys.path.

``record SPEC OUT``: import the handler as the Lambda runtime does (``importlib.import_module`` of ``_HANDLER``'s
module), invoke it once with SPEC's event, and write to OUT every module that loaded (in order, with its file and
the modules whose code was running when it was asked for) and the handler's answer. ``time SPEC OUT``: import
SPEC's handler module (or none) and then SPEC's modules (and, for a baseline, pydantic's first model), and write
the CPU and wall seconds it took.

Before either, only what the Lambda runtime has loaded before it imports a handler (awslambdaric's bootstrap:
importlib, json, logging, os, sys, time, traceback) is imported, so nothing else is hidden from the record or
paid in advance. Run with ``python -P`` (no script directory on sys.path): this file is not part of the function.
"""

import importlib
import json
import logging  # noqa: F401 - loaded by the runtime before the handler
import os
import sys
import time
import traceback  # noqa: F401 - loaded by the runtime before the handler

# Module -> the modules whose code was running when it was first asked for, innermost first (the importer, then
# what imported that, ...; this script left out). No typing import: typing is one of the modules being measured.
_importers: dict[str, list[str]] = {}


class _ImporterRecorder:
    """A meta path finder that finds nothing: it notes whose code asked for each new module."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        """Note the modules running code when ``name`` was asked for; leave the finding to the other finders."""
        if name not in _importers:
            chain: list[str] = []
            frame = sys._getframe(1)
            while frame is not None:
                # The import machinery (frozen importlib, importlib.import_module) is nobody's code.
                module = str(frame.f_globals.get("__name__", ""))
                machinery = frame.f_code.co_filename.startswith("<frozen") or module.startswith("importlib")
                if not machinery and module != "__main__" and (not chain or chain[-1] != module):
                    chain.append(module)
                frame = frame.f_back
            _importers[name] = chain
        return None


class _Context:
    """The attributes and method of the runtime's LambdaContext that handlers and Powertools read."""

    def __init__(self, fields: dict, deadline_ms: int) -> None:
        self.__dict__.update(fields)
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, self._deadline_ms - time.time_ns() // 1_000_000)


def _origin(name: str) -> str | None:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    # Only modules importable under their own name (not aliases such as os.path, nor six.moves' virtual ones).
    if spec is None or spec.name != name:
        return None
    return str(spec.origin or "(namespace)")


def record(spec: dict, out: str) -> None:
    """Import the handler, invoke it once, write what loaded and the answer."""
    sys.meta_path.insert(0, _ImporterRecorder())
    before = set(sys.modules)
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    imported = [name for name in sys.modules if name not in before]
    context = _Context(spec["context"], time.time_ns() // 1_000_000 + spec["timeout_ms"])
    answer = handler(spec["event"], context)
    loaded = set(imported)
    first_call = [name for name in sys.modules if name not in before and name not in loaded]

    def described(names: list[str]) -> list[list[object]]:
        return [[name, _origin(name), _importers.get(name, [])] for name in names if _origin(name) is not None]

    result = {"import": described(imported), "first_call": described(first_call), "answer": answer}
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)


def time_imports(spec: dict, out: str) -> None:
    """Import the handler module (if any) and the modules, timed; then, with ``first_model``, define one pydantic
    model: the first one pays pydantic's one-time work (its plugin scan), whoever defines it."""
    cpu, wall = time.process_time(), time.perf_counter()
    if spec["handler"]:
        importlib.import_module(spec["handler"])
    for name in spec["modules"]:
        importlib.import_module(name)
    if spec.get("first_model"):
        pydantic = sys.modules["pydantic"]
        type(pydantic.BaseModel)("First", (pydantic.BaseModel,), {"__annotations__": {"x": int}, "__module__": "x"})
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with open(out, "w", encoding="utf-8") as handle:
        json.dump([cpu, wall], handle)


if __name__ == "__main__":
    _mode, _spec_path, _out = sys.argv[1:4]
    with open(_spec_path, encoding="utf-8") as _handle:
        _spec = json.load(_handle)
    (record if _mode == "record" else time_imports)(_spec, _out)
