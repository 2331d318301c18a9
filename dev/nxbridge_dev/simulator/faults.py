"""Fault injection: faults queued for the next calls, and seeded chaos drawn when none is queued."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAULTS: frozenset[str] = frozenset({"http_500", "http_429", "timeout", "garbage", "code", "store_then_500"})


@dataclass(frozen=True)
class Fault:
    """One fault to answer a call with; ``code`` and ``message`` only for the ``code`` fault."""

    kind: str
    code: int | None = None
    message: str | None = None


@dataclass
class _Pending:
    fault: Fault
    remaining: int


def make_fault(kind: str, code: int | None, message: str | None) -> Fault:
    """A checked fault: ``kind`` one of FAULTS, and a code for the ``code`` fault; ValueError otherwise."""
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULTS))}")
    if kind == "code" and code is None:
        raise ValueError("the 'code' fault needs a code")
    return Fault(kind, code, message)


class FaultPlan:
    """The faults still to serve, and how many of each kind were served (not thread-safe: the caller locks)."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._chaos: tuple[random.Random, list[tuple[float, Fault]]] | None = None
        self.injected: Counter[str] = Counter()

    def inject(self, fault: str, count: int = 1, code: int | None = None, message: str | None = None) -> None:
        """Serve ``fault`` to the next ``count`` calls, after the faults already queued."""
        made = make_fault(fault, code, message)
        if count < 1:
            raise ValueError("count must be at least 1")
        self._pending.append(_Pending(made, count))

    def chaos(self, seed: int, rates: Mapping[str, float], code: int | None = None) -> None:
        """Draw one fault per call with the given probabilities (keys: fault names or ``code:<N>``)."""
        table: list[tuple[float, Fault]] = []
        total = 0.0
        for name, rate in sorted(rates.items()):
            kind, _, number = name.partition(":")
            fault = make_fault(kind, int(number) if number else code, None)
            if rate < 0:
                raise ValueError(f"rate of {name} is negative")
            total += rate
            table.append((total, fault))
        if total > 1.0:
            raise ValueError("the rates add up to more than 1")
        self._chaos = (random.Random(seed), table)

    def clear(self) -> None:
        """Drop queued faults and chaos; the served counts stay."""
        self._pending.clear()
        self._chaos = None

    def next(self) -> Fault | None:
        """The fault for this call (queued first, then chaos), counted as served; None for a normal answer."""
        fault = self._draw()
        if fault is not None:
            self.injected[fault.kind] += 1
        return fault

    def _draw(self) -> Fault | None:
        if self._pending:
            head = self._pending[0]
            head.remaining -= 1
            if head.remaining == 0:
                self._pending.pop(0)
            return head.fault
        if self._chaos is not None:
            rng, table = self._chaos
            draw = rng.random()
            for bound, fault in table:
                if draw < bound:
                    return fault
        return None

    @property
    def chaos_on(self) -> bool:
        """Whether chaos is set."""
        return self._chaos is not None

    def pending(self) -> list[dict[str, Any]]:
        """The queued faults as ``GET /_sim/state`` lists them."""
        return [{"fault": p.fault.kind, "remaining": p.remaining, "code": p.fault.code} for p in self._pending]
