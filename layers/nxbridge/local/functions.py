"""The Lambda side of the local stack: load the real handlers by path and invoke them like the runtime does."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from nxbridge.local.aws import ACCOUNT_ID

Handler = Callable[[Any, Any], Any]

_module_ids = itertools.count(1)


def load_module(path: Path) -> ModuleType:
    """Import ``path`` as a fresh module with a unique name.

    Every function's module is called ``app``; a unique name per load keeps them apart and gives each
    stack its own cold start (handlers cache their clients at module level).
    """
    name = f"nxbridge_local_{path.parent.name}_app_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a module from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda runtime's context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_ms: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout, like the runtime's."""
        return max(0, self.deadline_ms - time.time_ns() // 1_000_000)


@dataclass
class LocalFunction:
    """One deployed function: its handler, timeout and memory, invoked one event at a time.

    A lock serializes invocations: like a single warm execution environment, the handler never runs
    twice at once, so module-level caches see the same concurrency they see in Lambda.
    """

    name: str
    handler: Handler
    region: str
    timeout_seconds: float
    memory_mb: int = 512
    module_name: str | None = None
    invocations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_path(
        cls, name: str, path: Path, *, region: str, timeout_seconds: float, memory_mb: int = 512
    ) -> LocalFunction:
        """The function whose code is ``path`` (handler ``lambda_handler``), freshly imported."""
        module = load_module(path)
        handler: Handler = module.lambda_handler
        return cls(name, handler, region, timeout_seconds, memory_mb, module_name=module.__name__)

    def unload(self) -> None:
        """Forget the imported module, with the clients it cached."""
        if self.module_name is not None:
            sys.modules.pop(self.module_name, None)

    def context(self) -> LambdaContext:
        """A fresh context for one invocation."""
        request_id = str(uuid.uuid4())
        now_ms = time.time_ns() // 1_000_000
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}",
            aws_request_id=request_id,
            deadline_ms=now_ms + int(self.timeout_seconds * 1000),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}",
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with ``event`` and a new context; exceptions propagate to the caller (the event source)."""
        with self._lock:
            self.invocations += 1
            return self.handler(event, self.context())
