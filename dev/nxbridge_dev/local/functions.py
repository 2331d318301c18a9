"""The Lambda side of the local stack: the real handlers (``nxbridge.handlers.*``), invoked like the runtime does."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
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
class ExecutionEnvironment:
    """One warm execution environment: a handler with its own cold start, never running two events at once."""

    handler: Handler
    # What the handler builds on its first invocation (None for a bare handler).
    dependency: Lazy[Any] | None = None
    busy: bool = False
    # How many of the function's ``each_dependency`` setups this environment's dependency went through.
    prepared: int = 0


@dataclass
class LocalFunction:
    """One deployed function: its configuration and the execution environments that run its invocations.

    ``handler`` and ``dependency`` are the first environment's. An environment runs one event at a time, so
    module-level caches see the concurrency they see in Lambda. With ``new_environment``, an invocation that
    finds every environment busy gets a new one (a cold start), as Lambda scales out, up to ``max_environments``
    (None: no limit); beyond that, or without it, invocations wait for an environment to be free, as a
    function at its concurrency limit holds its callers (the local front does not answer 429 for Lambda).
    """

    name: str
    handler: Handler
    region: str
    timeout_seconds: float
    memory_mb: int = 512
    dependency: Lazy[Any] | None = None
    arn: str | None = None
    new_environment: Callable[[], ExecutionEnvironment] | None = None
    max_environments: int | None = None
    invocations: int = 0
    _environments: list[ExecutionEnvironment] = field(default_factory=list, repr=False)
    _idle: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _setups: list[Callable[[Any], None]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._environments.append(ExecutionEnvironment(self.handler, self.dependency))

    @classmethod
    def cold(
        cls,
        name: str,
        module: str,
        *,
        env: Mapping[str, str],
        region: str,
        timeout_seconds: float,
        memory_mb: int = 512,
        arn: str | None = None,
        concurrency: int = 1,
    ) -> LocalFunction:
        """The function whose handler is ``module``'s, with up to ``concurrency`` execution environments, each built
        from ``env`` on its first event."""
        handlers = importlib.import_module(module)
        environment = dict(env)

        def fresh() -> ExecutionEnvironment:
            dependency: Lazy[Any] = handlers.build_dependency(environment)
            return ExecutionEnvironment(handlers.make_handler(dependency), dependency)

        first = fresh()
        return cls(
            name,
            first.handler,
            region,
            timeout_seconds,
            memory_mb,
            first.dependency,
            arn=arn,
            new_environment=fresh if concurrency > 1 else None,
            max_environments=concurrency,
        )

    @property
    def environments(self) -> int:
        """How many execution environments the function has (1 until two invocations overlap)."""
        with self._idle:
            return len(self._environments)

    def context(self) -> LambdaContext:
        """A fresh context for one invocation."""
        request_id = str(uuid.uuid4())
        now_ms = time.time_ns() // 1_000_000
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn or f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}",
            aws_request_id=request_id,
            deadline_ms=now_ms + int(self.timeout_seconds * 1000),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}",
        )

    def each_dependency(self, setup: Callable[[Any], None]) -> None:
        """Call ``setup`` with the dependency of every execution environment, the ones running and the ones the
        function scales out to, before the environment's next event (its dependency is built then, if it was not).

        For tests that reach inside the function (wrap the drain's NXCloud sender, say): an environment that never
        went through it would run its events unobserved."""
        with self._idle:
            self._setups.append(setup)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call a free environment's handler with ``event`` and a new context; exceptions propagate to the caller."""
        environment = self._acquire()
        try:
            self._prepare(environment)
            return environment.handler(event, self.context())
        finally:
            with self._idle:
                environment.busy = False
                self._idle.notify()

    def _prepare(self, environment: ExecutionEnvironment) -> None:
        # The environment is this thread's until it is released: its setups run here, outside the lock.
        with self._idle:
            pending = self._setups[environment.prepared :]
        if pending and environment.dependency is not None:
            dependency = environment.dependency()
            for setup in pending:
                setup(dependency)
        environment.prepared += len(pending)

    def _acquire(self) -> ExecutionEnvironment:
        with self._idle:
            while True:
                # The first free one: like Lambda, warm environments are reused before new ones start.
                environment = next((e for e in self._environments if not e.busy), None)
                new = self._new_environment_allowed()
                if environment is None and new is not None:
                    environment = new()
                    self._environments.append(environment)
                if environment is not None:
                    environment.busy = True
                    self.invocations += 1
                    return environment
                self._idle.wait()

    def _new_environment_allowed(self) -> Callable[[], ExecutionEnvironment] | None:
        """What starts another environment, while the function may have one more."""
        limit = self.max_environments
        return self.new_environment if limit is None or len(self._environments) < limit else None
