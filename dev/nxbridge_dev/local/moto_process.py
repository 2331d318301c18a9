"""The embedded AWS's own process: moto's server with the local stack's additions, until its parent goes away.

``python -m nxbridge_dev.local.moto_process HOST PORT`` serves on HOST:PORT (0: a free port), prints ``HOST PORT``
once it listens, and stops when its standard input closes, which is also what happens when the parent dies.
"""

from __future__ import annotations

import copy
import functools
import logging
import sys
from collections import deque
from typing import Any

from moto import backends
from moto.core import responses
from moto.dynamodb import comparisons
from moto.dynamodb.parsing import ast_nodes, expressions, validators

from nxbridge_dev.local import http_headers, moto_cloudformation, moto_sqs
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
# moto's syntax tree classes, found the same way.
_Node = getattr(ast_nodes, "Node")  # noqa: B009
_DESCENDED = (getattr(ast_nodes, "Expression"), getattr(ast_nodes, "UpdateExpressionFunction"))  # noqa: B009
_DepthFirstTraverser = getattr(ast_nodes, "DepthFirstTraverser")  # noqa: B009


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


_IS_A: dict[tuple[type, Any], bool] = {}


def _is_a(kind: type, classes: Any) -> bool:
    """``isinstance`` of an object of class ``kind``, asked once per class: moto asks it against its ABCs (no class
    is registered with them, so the class decides) for every node of every traversal, ten traversals per
    UpdateItem. (A dict, not functools.cache: typeshed does not take a class for a cache key.)"""
    key = (kind, classes)
    answer = _IS_A.get(key)
    if answer is None:
        answer = _IS_A[key] = issubclass(kind, classes)
    return answer


# Whether a traverser class processes a node class (moto builds the traverser's processing map and a tuple of its
# keys to answer it, for every node).
_PROCESSES: dict[tuple[type, type], bool] = {}


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's ``DepthFirstTraverser.traverse_node_recursively``, step for step, with the two ``isinstance`` answers
    looked up by class (moto builds the traverser's processing map and a tuple of its keys for every node)."""
    if _is_a(type(node), _Node):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        key = (type(self), type(node))
        processed = _PROCESSES.get(key)
        if processed is None:
            processed = _PROCESSES[key] = isinstance(node, self.nodes_to_be_processed())
        if processed:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


def _find_clauses(self: Any, clause_types: Any) -> list[Any]:
    """moto's ``Node.find_clauses`` with its ``isinstance`` answers looked up by class (the validators call it on
    every UpdateExpression node of the tree)."""
    clauses: list[Any] = []
    for child in self.children or []:
        kind = type(child)
        if kind in clause_types:
            clauses.append(child)
            continue
        if _is_a(kind, _DESCENDED):
            clauses.extend(child.find_clauses(clause_types))
    return clauses


_ATOMIC = frozenset({str, int, float, bool, type(None)})
_UNKNOWN = object()


def _known(node: Any, memo: dict[int, Any]) -> Any:
    """What a tree copy uses for ``node`` without copying it: itself when atomic, its copy when already made in
    this copy (``memo``); else ``_UNKNOWN``."""
    if type(node) in _ATOMIC:
        return node
    return memo.get(id(node), _UNKNOWN)


def _copy_tree(node: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of a syntax tree, as deepcopy makes it (same memo, so that a node reached twice, by a child
    list and by a ``parent`` left over from moto's normalizing, is copied once), with nodes and lists copied here;
    anything else in the tree goes to deepcopy itself with the same memo."""
    known = _known(node, memo)
    if known is not _UNKNOWN:
        return known
    kind = type(node)
    if kind is list:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_copy_tree(item, memo) for item in node)
        _keep_alive(node, memo)
        return items
    # A node of moto's tree that does not copy itself its own way (none does): what deepcopy would reconstruct.
    if _is_a(kind, _Node) and not hasattr(kind, "__deepcopy__"):
        # What deepcopy does for an instance (``__reduce_ex__``): a new object of the class, then its state copied.
        new = object.__new__(kind)
        memo[id(node)] = new
        state = {name: _copy_tree(value, memo) for name, value in node.__dict__.items()}
        _keep_alive(node, memo)
        new.__dict__.update(state)
        return new
    return copy.deepcopy(node, memo)


def _keep_alive(original: Any, memo: dict[int, Any]) -> None:
    """What deepcopy keeps in its memo so that an id stays the original's while the copy is made."""
    memo.setdefault(id(memo), []).append(original)


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` for moto's validators: a syntax tree by :func:`_copy_tree`, anything else by deepcopy."""
    if memo is None:
        memo = {}
    return _copy_tree(value, memo)


_ConditionParser = comparisons.ConditionExpressionParser
_lex_condition = _ConditionParser._lex_condition_expression


@functools.lru_cache(maxsize=512)
def _condition_tokens(expression: str) -> tuple[Any, ...]:
    """A condition's tokens, lexed once per distinct text (moto lexes it with six regexes per token on every call);
    a text moto cannot lex raises, as it does, and is not kept."""
    return tuple(_lex_condition(_ConditionParser(expression, None, None)))


def _lex_condition_expression(self: Any) -> Any:
    """moto's ``_lex_condition_expression``: a new deque of new tokens (each with its own empty children list, as
    the lexer makes them), from the tokens of the first time this text was lexed."""
    return deque(token._replace(children=[]) for token in _condition_tokens(self.condition_expression))


class _Placeholder:
    """What a cached condition tree holds where an ExpressionAttributeValue's content goes (see :func:`_parse`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<value {self.name}>"


_parse_condition = _ConditionParser.parse
_AttributeValue = comparisons.AttributeValue
_CONDITION_NODES = (comparisons.Op, comparisons.Func)
_Template = tuple[Any, tuple[str, ...], tuple[str, ...]]


def _condition_key(parser: Any) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] | None:
    """What decides ``parser``'s tree and its errors: the text, the attribute names and each value's type; None when
    it is not one to cache (no text, or a value that is not a single-typed attribute value: moto's parser then goes
    its own way and raises its own error)."""
    expression = parser.condition_expression
    names = parser.expression_attribute_names or {}
    values = parser.expression_attribute_values or {}
    if not isinstance(expression, str) or not expression or not isinstance(names, dict) or not isinstance(values, dict):
        return None
    typed: list[tuple[str, str]] = []
    for name, value in values.items():
        if not isinstance(value, dict) or len(value) != 1:
            return None
        typed.append((name, next(iter(value))))
    return expression, tuple(names.items()), tuple(typed)


@functools.lru_cache(maxsize=512)
def _condition_template(
    expression: str, names: tuple[tuple[str, str], ...], typed: tuple[tuple[str, str], ...]
) -> _Template | None:
    """A condition's tree with placeholders for its values, and the names and values moto found in it; None when
    moto refuses it (it is then parsed by moto with the request's values, so that the error is moto's own)."""
    # moto's annotation says values are strings; its parser only carries them into the tree.
    placeholders: dict[str, dict[str, Any]] = {name: {kind: _Placeholder(name)} for name, kind in typed}
    template = _ConditionParser(expression, dict(names), placeholders)
    try:
        tree = _parse_condition(template)
    except Exception:  # whatever moto raises, it raises again with the request's values
        return None
    return tree, tuple(template.expr_attr_names_found), tuple(template.expr_attr_values_found)


def _parse(self: Any) -> Any:
    """moto's ``ConditionExpressionParser.parse``, parsed once per condition text, attribute names and value types.

    The tree moto builds depends on the values' types alone (BETWEEN refuses a NULL bound; nothing else looks at a
    value while parsing): it is built once with placeholders for the values, then copied for each request with the
    request's values in their place. moto's parse cost a seventh of its process under the local stack's webhooks
    (the idempotency record's PutItem and the watermark claim's UpdateItem each carry a condition).
    """
    key = _condition_key(self)
    cached = None if key is None else _condition_template(*key)
    if cached is None:
        return _parse_condition(self)
    tree, names_found, values_found = cached
    self.expr_attr_names_found.extend(names_found)
    self.expr_attr_values_found.extend(values_found)
    return _bind(tree, self.expression_attribute_values, {})


def _bind(node: Any, values: dict[str, Any], memo: dict[int, Any]) -> Any:
    """A copy of a cached condition tree with each placeholder's attribute value made from ``values``: operators
    and functions copied (one object reached twice, as a function's argument and its named attribute, copied once),
    attribute paths and literals shared (nothing changes them once parsed)."""
    known = _known(node, memo)
    if known is not _UNKNOWN:
        return known
    kind = type(node)
    copied: Any
    if kind is _AttributeValue and type(node.value) is _Placeholder:
        copied = _AttributeValue(values[node.value.name])
    elif kind is tuple:
        copied = tuple(_bind(item, values, memo) for item in node)
    elif kind is list:
        copied = [_bind(item, values, memo) for item in node]
    elif issubclass(kind, _CONDITION_NODES):
        # A condition tree has no cycles: the copy is recorded once its parts are made.
        copied = object.__new__(kind)
        copied.__dict__.update({name: _bind(value, values, memo) for name, value in node.__dict__.items()})
    else:
        return node
    memo[id(node)] = copied
    return copied


def _speed_up_update_validation() -> None:
    """UpdateItem's validation, moto's costliest step for the drain's watermarks, without its per-node overhead:
    the traversals and clause searches ask ``isinstance`` by class once, and the tree each validator copies is
    copied without deepcopy's generic dispatch. The trees, their order and their errors are moto's own."""
    _DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
    _Node.find_clauses = _find_clauses
    setattr(validators, "deepcopy", _deepcopy)  # noqa: B010 - the name validators.py imported from copy
    setattr(_ConditionParser, "_lex_condition_expression", _lex_condition_expression)  # noqa: B010 - a method of moto's
    setattr(_ConditionParser, "parse", _parse)  # noqa: B010 - a method of moto's


def start_server(host: str, port: int) -> MotoServer:
    """moto's server on ``host:port``, in this process, with the local stack's additions installed."""
    # moto's server logs every request through werkzeug; the stack reports what matters itself.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_cloudformation.install()
    moto_sqs.install()
    _speed_up_dispatch()
    _speed_up_update_validation()
    server = MotoServer(host, port)
    server.start()
    return server


def main(argv: list[str]) -> int:
    """Serve until standard input reaches its end."""
    host, port = argv[0], int(argv[1])
    # This process is moto's alone: every request it reads goes through the plain-header parser.
    http_headers.install()
    server = start_server(host, port)
    bound_host, bound_port = server.get_host_and_port()
    print(f"{bound_host} {bound_port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
