"""LocalFunction's execution environments: a setup registered with ``each_dependency`` reaches every one of them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nxbridge.handlers import Lazy
from nxbridge_dev.local.functions import ExecutionEnvironment, LocalFunction


class Dependency:
    """What one environment builds on its first event: it notes the setups it went through."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.setups: list[str] = []


def _function(barrier: threading.Barrier | None = None) -> tuple[LocalFunction, list[tuple[int, list[str]]]]:
    """A function of up to two environments whose handler records what its dependency had been set up with."""
    seen: list[tuple[int, list[str]]] = []
    built = iter(range(1, 100))

    def environment() -> ExecutionEnvironment:
        dependency: Lazy[Dependency] = Lazy(lambda: Dependency(next(built)))

        def handler(event: dict[str, Any], context: Any) -> Any:
            if barrier is not None and event.get("overlap"):
                barrier.wait()
            value = dependency()
            seen.append((value.number, list(value.setups)))
            return value.number

        return ExecutionEnvironment(handler, dependency)

    first = environment()
    function = LocalFunction(
        "DrainFunction",
        first.handler,
        "eu-west-1",
        timeout_seconds=5,
        dependency=first.dependency,
        new_environment=environment,
        max_environments=2,
    )
    return function, seen


def test_every_environment_the_function_scales_out_to_is_set_up_before_its_first_event() -> None:
    barrier = threading.Barrier(2, timeout=10)
    function, seen = _function(barrier)
    function.each_dependency(lambda dependency: dependency.setups.append("wrapped"))

    with ThreadPoolExecutor(2) as pool:
        numbers = sorted(pool.map(function.invoke, [{"overlap": True}, {"overlap": True}]))

    assert function.environments == 2
    assert numbers == [1, 2]
    assert sorted(seen) == [(1, ["wrapped"]), (2, ["wrapped"])]


def test_a_setup_registered_later_reaches_a_warm_environment_once_at_its_next_event() -> None:
    function, seen = _function()
    function.invoke({})
    function.each_dependency(lambda dependency: dependency.setups.append("late"))
    function.invoke({})
    function.invoke({})

    assert seen == [(1, []), (1, ["late"]), (1, ["late"])]
