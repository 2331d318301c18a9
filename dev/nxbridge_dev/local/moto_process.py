"""The embedded AWS's own process: moto's server with the local stack's additions, until its parent goes away.

``python -m nxbridge_dev.local.moto_process HOST PORT`` serves on HOST:PORT (0: a free port), prints ``HOST PORT``
once it listens, and stops when its standard input closes, which is also what happens when the parent dies.
"""

from __future__ import annotations

import functools
import logging
import sys

from moto import backends
from moto.core import responses
from moto.dynamodb.parsing import expressions

from nxbridge_dev.local import moto_cloudformation, moto_sqs
from nxbridge_dev.local.moto_server import MotoServer

_list_of_moto_modules = backends.list_of_moto_modules
_method_names_from_class = responses.method_names_from_class  # type: ignore[attr-defined]


@functools.cache
def _moto_modules() -> tuple[str, ...]:
    """moto's service packages, listed once: moto lists its package directory for every request, under a lock."""
    return tuple(_list_of_moto_modules())


@functools.cache
def _method_names(clazz: object) -> list[str]:
    """A response class's method names, listed once per class: moto lists them with inspect for every request."""
    names: list[str] = _method_names_from_class(clazz)
    return names


# moto's parser class, found at run time (moto's typing does not export it).
_UpdateExpressionParser = getattr(expressions, "UpdateExpressionParser")  # noqa: B009
_parse_update_expression = _UpdateExpressionParser.make


@functools.lru_cache(maxsize=512)
def _update_expression(expression: str) -> object:
    """An UpdateExpression's syntax tree, parsed once per distinct text: moto parses it twice per UpdateItem, and
    every user of the tree reads it or validates a deep copy of it (``Validator.__init__``), never changes it."""
    return _parse_update_expression(expression)


def _speed_up_dispatch() -> None:
    """Answer what moto's server recomputes for every request from the first computation (none of it changes)."""
    backends.list_of_moto_modules = _moto_modules
    # The name moto's responses module calls it by (moto only tests membership in the list).
    setattr(responses, "method_names_from_class", _method_names)  # noqa: B010
    _UpdateExpressionParser.make = classmethod(lambda _cls, expression: _update_expression(expression))


def start_server(host: str, port: int) -> MotoServer:
    """moto's server on ``host:port``, in this process, with the local stack's additions installed."""
    # moto's server logs every request through werkzeug; the stack reports what matters itself.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_cloudformation.install()
    moto_sqs.install()
    _speed_up_dispatch()
    server = MotoServer(host, port)
    server.start()
    return server


def main(argv: list[str]) -> int:
    """Serve until standard input reaches its end."""
    host, port = argv[0], int(argv[1])
    server = start_server(host, port)
    bound_host, bound_port = server.get_host_and_port()
    print(f"{bound_host} {bound_port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
