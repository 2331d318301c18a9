"""One module per Lambda function: event in, one call into the logic, answer out (``functions/<name>/app.py``
re-exports each module's ``lambda_handler`` as SAM's entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """One execution environment's dependency, built on the first invocation and kept while the environment is warm.

    Not at import: moto and the local stack must be in place first, and nothing is paid before it is used.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None

    def __call__(self) -> T:
        """The dependency, built now if this is the first call."""
        if self._value is None:
            self._value = self._build()
        return self._value

    @property
    def built(self) -> T | None:
        """The dependency if it was built already (a warm environment), else None."""
        return self._value
