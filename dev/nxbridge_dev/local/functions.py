"""The Lambda side of the local stack: the real handlers (``nxbridge.handlers.*``), invoked like the runtime does."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nxbridge.handlers import Lazy
from nxbridge_dev.local.aws import ACCOUNT_ID

Handler = Callable[[Any, Any], Any]


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
    # What the handler builds on its first invocation (None for a bare handler).
    dependency: Lazy[Any] | None = None
    invocations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def cold(
        cls, name: str, module: str, *, region: str, timeout_seconds: float, memory_mb: int = 512
    ) -> LocalFunction:
        """The function whose handler is ``module``'s, in a new execution environment (its own cold start)."""
        handlers = importlib.import_module(module)
        dependency: Lazy[Any] = handlers.build_dependency()
        return cls(name, handlers.make_handler(dependency), region, timeout_seconds, memory_mb, dependency)

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
