"""One retry policy for the AWS calls the code retries itself: capped exponential backoff, full jitter, a deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from nxbridge.record import Record


class RetryPolicy(Record):
    """How many attempts, how long to pause between them, and when to stop because a deadline is near.

    The pause before retry ``n`` is at most ``min(cap, base * 2 ** (n - 1))`` seconds, drawn uniformly below that
    ceiling when ``jitter`` (full jitter). ``time_left`` (seconds the caller may still spend, None for no
    deadline) and ``call_seconds`` (the longest one call can take with its client's timeouts) decide whether a
    call may start: never unless it can finish in time, pause included.
    """

    attempts: int
    base: float
    cap: float
    jitter: bool
    sleep: Callable[[float], None]
    rng: random.Random
    time_left: Callable[[], float] | None
    call_seconds: float

    # A Record rather than a dataclass (whose generated methods are compiled at import): defaults and checks here.
    def __init__(  # noqa: PLR0917 - positional, as the dataclass's constructor was
        self,
        attempts: int = 3,
        base: float = 0.05,
        cap: float = 1.0,
        jitter: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        time_left: Callable[[], float] | None = None,
        call_seconds: float = 0.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if base < 0 or cap < 0 or call_seconds < 0:
            raise ValueError("base, cap and call_seconds must not be negative")
        rng = random.Random() if rng is None else rng
        super().__init__(attempts, base, cap, jitter, sleep, rng, time_left, call_seconds)

    def replace(self, **changes: Any) -> RetryPolicy:
        """This policy with ``changes``, as ``dataclasses.replace`` makes one: checked as a new policy is."""
        return RetryPolicy(**{**{name: getattr(self, name) for name in self.__record_fields__}, **changes})

    def delay(self, retry: int) -> float:
        """The pause in seconds before retry number ``retry`` (1 is the second attempt)."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return self.rng.uniform(0, ceiling) if self.jitter else ceiling

    def can_call(self, after: float = 0.0) -> bool:
        """Whether a call started ``after`` seconds from now still finishes before the deadline."""
        return self.time_left is None or self.time_left() - after >= self.call_seconds

    def pause(self, retry: int) -> bool:
        """Sleep before retry ``retry``; False, without sleeping, when the retry could not finish in time."""
        delay = self.delay(retry)
        if not self.can_call(delay):
            return False
        self.sleep(delay)
        return True
