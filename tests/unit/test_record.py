"""``Record`` behaves as ``@dataclass(frozen=True)`` does for what the bridge uses of it: each behaviour is checked
against a frozen dataclass declaring the same fields."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, ClassVar

import pytest

from nxbridge.record import Record


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    KIND: ClassVar[str] = "point"


@dataclass(frozen=True)
class DataPoint:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    KIND: ClassVar[str] = "point"


class Labelled(Point):
    label: str = "none"


def _both(*args: Any, **kwargs: Any) -> tuple[Point, DataPoint]:
    return Point(*args, **kwargs), DataPoint(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1, 2, ["a"]), {}), ((1,), {}), ((), {"x": 3}), ((4,), {"tags": ["b"]}), ((), {"y": 5, "x": 6})],
)
def test_the_constructor_takes_fields_by_position_or_name_with_their_defaults(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    record, data = _both(*args, **kwargs)
    assert (record.x, record.y, record.tags) == (data.x, data.y, data.tags)
    assert repr(record) == repr(data).replace("DataPoint", "Point")


def test_a_default_factory_gives_each_instance_its_own_value() -> None:
    first, second = Point(1), Point(2)
    assert first.tags == [] and first.tags is not second.tags


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2, [], 4), {}), ((1,), {"x": 2}), ((1,), {"z": 2})],
    ids=["missing", "too-many", "twice", "unknown"],
)
def test_wrong_arguments_raise_type_error_as_a_dataclass_does(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        DataPoint(*args, **kwargs)
    with pytest.raises(TypeError):
        Point(*args, **kwargs)


def test_equality_and_hash_are_over_the_fields_and_the_class() -> None:
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert hash(Point(1, 2, ())) == hash(Point(1, 2, ()))  # type: ignore[arg-type]
    assert Point(1) != Labelled(1)
    assert Point(1) != DataPoint(1)
    assert len({Point(1, 2, ()), Point(1, 2, ())}) == 1  # type: ignore[arg-type]


def test_an_instance_is_immutable() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.x
    assert point.x == 1


def test_class_patterns_match_fields_in_order_and_class_vars_are_not_fields() -> None:
    match Labelled(1, 2, [], "l"):
        case Labelled(x, y, tags, label):
            assert (x, y, tags, label) == (1, 2, [], "l")
        case _:
            pytest.fail("no match")
    assert Point.__match_args__ == DataPoint.__match_args__ == ("x", "y", "tags")
    assert Point.KIND == "point"


def test_a_field_without_default_after_one_with_a_default_is_refused_at_definition() -> None:
    with pytest.raises(TypeError):

        class Wrong(Record):
            a: int = 0
            b: int  # type: ignore[misc]


class State(Record, frozen=False):
    count: int
    seen: list[str] = field(default_factory=list)


@dataclass
class DataState:
    count: int
    seen: list[str] = field(default_factory=list)


def test_a_record_that_is_not_frozen_is_a_plain_dataclass() -> None:
    state, data = State(1), DataState(1)
    state.count += 1
    data.count += 1
    state.seen.append("a")
    data.seen.append("a")
    assert (state.count, state.seen) == (data.count, data.seen) == (2, ["a"])
    assert repr(state) == repr(data).replace("DataState", "State")
    assert state == State(2, ["a"]) and state != State(2)
    with pytest.raises(TypeError):
        hash(state)
    with pytest.raises(TypeError):
        hash(data)
    del state.count
    assert not hasattr(state, "count")
    # The frozen ones stay frozen.
    with pytest.raises(FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]
