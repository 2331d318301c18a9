"""A package's public names, each imported from its module on first use (PEP 562's module ``__getattr__``).

So that a function's cold start loads only the modules its path needs, while ``from nxbridge.config import X``
and ``from nxbridge.replay import X`` keep working.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``modules`` maps each public name to the submodule that holds it;
    a name, once imported, is kept in ``namespace`` (the package's globals) so it is looked up only once."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
