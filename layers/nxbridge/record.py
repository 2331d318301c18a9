"""``Record``: a frozen value class, as ``@dataclass(frozen=True)`` makes one, that costs nothing to define.

``dataclass`` writes and compiles the source of each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``
and frozen ``__setattr__`` when the class is defined: about half a millisecond per class, paid by every cold start
for every class on its path (the ingest's outcomes, problems and requests are two dozen). A Record subclass gets
the same behaviour from methods written once here: the constructor of its annotated fields (positional or by
name, defaults and ``field(default_factory=...)``), the ``repr``, equality and hash over its fields, immutability
(``FrozenInstanceError``) and ``__match_args__``. Not for what needs the dataclasses module's view of a class
(``dataclasses.fields``, ``replace``, ``asdict``), nor where constructing millions of instances matters: the
constructor is generic. No ``__post_init__``: a Record that must check or derive values does it in a
classmethod. ``class State(Record, frozen=False)`` is a plain ``@dataclass`` instead: its fields may be assigned
and deleted, and it is unhashable (equality over mutable fields), as a dataclass with ``eq`` and without ``frozen``.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, Field, FrozenInstanceError, field
from typing import Any, ClassVar, dataclass_transform


class _Factory:
    """A ``default_factory`` while the fields are collected."""

    def __init__(self, make: Any) -> None:
        self.make = make


def _is_class_var(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and (text.startswith(("ClassVar", "typing.ClassVar")) or text == "ClassVar")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """A frozen value: subclasses declare fields as annotations, as a ``@dataclass(frozen=True)`` does."""

    __record_fields__: ClassVar[tuple[str, ...]] = ()
    # Field -> its default value, or a zero-argument factory (``__record_factories__``) for a fresh one per instance.
    __record_defaults__: ClassVar[dict[str, Any]] = {}
    __record_factories__: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, *, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not frozen:
            cls.__setattr__ = object.__setattr__  # type: ignore[method-assign,assignment]
            cls.__delattr__ = object.__delattr__  # type: ignore[method-assign]
            cls.__hash__ = None  # type: ignore[method-assign,assignment]
        names = list(cls.__record_fields__)
        defaults = dict(cls.__record_defaults__)
        factories = dict(cls.__record_factories__)
        for name, annotation in inspect.get_annotations(cls).items():
            if _is_class_var(annotation):
                continue
            if name not in names:
                names.append(name)
            value = cls.__dict__.get(name, MISSING)
            if isinstance(value, Field):
                # A dataclass removes a field() from the class; it keeps a plain default as a class attribute.
                delattr(cls, name)
                value = value.default if value.default_factory is MISSING else _Factory(value.default_factory)
            if value is MISSING:
                continue
            defaults.pop(name, None)
            factories.pop(name, None)
            if isinstance(value, _Factory):
                factories[name] = value.make
            else:
                defaults[name] = value
        seen_default = False
        for name in names:
            has_default = name in defaults or name in factories
            if seen_default and not has_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            seen_default = seen_default or has_default
        cls.__record_fields__ = tuple(names)
        cls.__record_defaults__ = defaults
        cls.__record_factories__ = factories
        # What class patterns (``case Accepted(count)``) match positionally, as a dataclass sets it.
        setattr(cls, "__match_args__", tuple(names))  # noqa: B010 - mypy knows no __match_args__ on a class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__record_fields__
        setter = object.__setattr__
        if not kwargs and len(args) == len(names):
            # Every field given in order, the common call: nothing to look up.
            for name, value in zip(names, args, strict=True):
                setter(self, name, value)
            return
        if len(args) > len(names):
            raise TypeError(f"{type(self).__qualname__}() takes {len(names)} arguments but {len(args)} were given")
        values = kwargs
        if args:
            values = dict(zip(names, args, strict=False))
            for name in kwargs:
                if name in values:
                    raise TypeError(f"{type(self).__qualname__}() got multiple values for argument {name!r}")
            values.update(kwargs)
        defaults, factories = self.__record_defaults__, self.__record_factories__
        used = 0
        for name in names:
            value = values.get(name, MISSING)
            if value is not MISSING:
                used += 1
            elif name in defaults:
                value = defaults[name]
            elif name in factories:
                value = factories[name]()
            else:
                raise TypeError(f"{type(self).__qualname__}() missing required argument: {name!r}")
            setter(self, name, value)
        if used != len(values):
            unexpected = next(name for name in values if name not in names)
            raise TypeError(f"{type(self).__qualname__}() got an unexpected keyword argument {unexpected!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__record_fields__)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_fields__)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
