"""The embedded AWS's speed-ups of moto's UpdateItem validation change nothing but its speed.

Each UpdateItem of the table below (the drain's watermark claim and release, the idempotency record's update, and
every kind of clause, function and error moto validates) runs against moto's own code and against the speed-ups:
the stored item, the answer and the error must be the same. The tree copy is checked against ``copy.deepcopy``
node by node, parents included.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import comparisons
from moto.dynamodb.parsing import ast_nodes, expressions, validators

from nxbridge.ordering import _CLAIM_CONDITION, _NAMES
from nxbridge_dev.local import moto_process

TABLE = "Speedups"
START: dict[str, Any] = {
    "id": {"S": "k"},
    "n": {"N": "5"},
    "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]},
    "m": {"M": {"a": {"M": {"b": {"S": "x"}}}}},
    "s": {"SS": ["red", "green"]},
    "lease_owner": {"S": "drain-1"},
}
# (UpdateExpression, ConditionExpression or None, names, values)
UPDATES: list[tuple[str, str | None, dict[str, str], dict[str, Any]]] = [
    ("SET #a = :v, #b = :w", None, {"#a": "a", "#b": "b"}, {":v": {"S": "one"}, ":w": {"N": "2"}}),
    ("SET n = n + :one", None, {}, {":one": {"N": "1"}}),
    ("SET n = n - :one, l = list_append(l, :more)", None, {}, {":one": {"N": "1"}, ":more": {"L": [{"N": "4"}]}}),
    ("SET l = list_append(:more, l)", None, {}, {":more": {"L": [{"S": "first"}]}}),
    ("SET x = if_not_exists(x, :v), n = if_not_exists(n, :v)", None, {}, {":v": {"N": "9"}}),
    ("REMOVE l[0], m.a.b", None, {}, {}),
    ("REMOVE l[2], l[0] SET m.a.c = :v", None, {}, {":v": {"S": "c"}}),
    ("ADD s :set, #c :one", None, {"#c": "counter"}, {":set": {"SS": ["blue"]}, ":one": {"N": "1"}}),
    ("DELETE s :set", None, {}, {":set": {"SS": ["red"]}}),
    ("SET m.#new = :v", "attribute_exists(m)", {"#new": "new"}, {":v": {"BOOL": True}}),
    ("SET l[1] = :v", "size(l) > :two", {}, {":v": {"NULL": True}, ":two": {"N": "2"}}),
    (
        "SET #owner = :me, #until = :until, #leased = :t, #endpoint = :endpoint, #expiration = :expiration",
        _CLAIM_CONDITION,
        _NAMES,
        {
            ":me": {"S": "drain-1"},
            ":t": {"N": "1700000000000000"},
            ":now": {"N": "1700000000000001"},
            ":until": {"N": "1700000120000000"},
            ":endpoint": {"S": "shopify"},
            ":expiration": {"N": "1702592000"},
        },
    ),
    (
        "REMOVE #owner, #until, #leased SET #sent = :sent",
        "#owner = :me",
        {"#owner": "lease_owner", "#until": "lease_until", "#leased": "lease_t", "#sent": "sent_at"},
        {":me": {"S": "drain-1"}, ":sent": {"N": "1700000000000000"}},
    ),
    (
        "SET #response_data = :response_data, #expiry = :expiry, #status = :status",
        None,
        {"#response_data": "data", "#expiry": "expiration", "#status": "status"},
        {":response_data": {"S": '{"queued": 1}'}, ":expiry": {"N": "1702592000"}, ":status": {"S": "COMPLETED"}},
    ),
    # Refused by moto's validators or its condition:
    ("SET a = :v SET b = :v", None, {}, {":v": {"S": "x"}}),
    ("SET a = :v, a = :w", None, {}, {":v": {"S": "x"}, ":w": {"S": "y"}}),
    ("SET m.a = :v REMOVE m.a.b", None, {}, {":v": {"S": "x"}}),
    ("SET id = :v", None, {}, {":v": {"S": "other"}}),
    ("SET a = :missing, b = :v", None, {}, {":v": {"S": "x"}}),
    ("SET n = n + :text", None, {}, {":text": {"S": "x"}}),
    ("SET z = z + :one", None, {}, {":one": {"N": "1"}}),
    ("SET l = list_append(n, :more)", None, {}, {":more": {"L": []}}),
    ("SET a = :v", "lease_owner = :other", {}, {":v": {"S": "x"}, ":other": {"S": "drain-2"}}),
]


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _outcome(client: Any, update: tuple[str, str | None, dict[str, str], dict[str, Any]]) -> tuple[Any, ...]:
    """The answer (or the error) of one UpdateItem on a fresh copy of START, and the item it left."""
    expression, condition, names, values = update
    client.put_item(TableName=TABLE, Item=START)
    request: dict[str, Any] = {
        "TableName": TABLE,
        "Key": {"id": {"S": "k"}},
        "UpdateExpression": expression,
        "ReturnValues": "ALL_NEW",
    }
    if condition is not None:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        answer: Any = client.update_item(**request).get("Attributes")
    except ClientError as exc:
        answer = (exc.response["Error"]["Code"], exc.response["Error"]["Message"])
    return answer, client.get_item(TableName=TABLE, Key={"id": {"S": "k"}}, ConsistentRead=True).get("Item")


def _install(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed-ups, undone when the test ends (``_speed_up_update_validation`` installs them for good)."""
    traverser = getattr(ast_nodes, "DepthFirstTraverser")  # noqa: B009
    node = getattr(ast_nodes, "Node")  # noqa: B009
    monkeypatch.setattr(traverser, "traverse_node_recursively", traverser.traverse_node_recursively)
    monkeypatch.setattr(node, "find_clauses", node.find_clauses)
    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy)
    parser = comparisons.ConditionExpressionParser
    monkeypatch.setattr(parser, "_lex_condition_expression", parser._lex_condition_expression)
    monkeypatch.setattr(parser, "parse", parser.parse)
    moto_process._speed_up_update_validation()


def test_every_update_ends_as_it_does_in_moto_itself(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_own = [_outcome(table, update) for update in UPDATES]
    _install(monkeypatch)
    assert validators.deepcopy is moto_process._deepcopy
    sped_up = [_outcome(table, update) for update in UPDATES]

    assert sped_up == moto_own
    # The table exercises both ways out: updates that store, and each kind of refusal.
    refused = [answer for answer, _item in moto_own if isinstance(answer, tuple)]
    assert len(refused) == 9
    assert {code for code, _message in refused} == {"ValidationException", "ConditionalCheckFailedException"}


def _shape(node: Any, index: dict[int, int]) -> Any:
    """A node's tree as comparable data: classes, leaf values, and where each node's parent is (by visit order)."""
    index[id(node)] = len(index)
    if not isinstance(node, getattr(ast_nodes, "Node")):  # noqa: B009
        return repr(node)
    children = None if node.children is None else [_shape(child, index) for child in node.children]
    parent = node.parent
    return (type(node).__name__, node.type, children, None if parent is None else index.get(id(parent), "outside"))


@pytest.mark.parametrize("update", [u[0] for u in UPDATES[:14]])
def test_the_tree_copy_is_deepcopys(update: str) -> None:
    tree = getattr(expressions, "UpdateExpressionParser").make(update)  # noqa: B009

    ours, theirs = moto_process._deepcopy(tree), copy.deepcopy(tree)

    assert _shape(ours, {}) == _shape(theirs, {}) == _shape(tree, {})
    assert ours is not tree
    # Nothing of the original is reachable from the copy, down to the leaves' lists.
    originals = {id(n) for n in _walk(tree)}
    assert not any(id(n) in originals for n in _walk(ours) if not isinstance(n, str | int))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, list):
        yield children
        for child in children:
            yield from _walk(child)


CONDITIONS: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    (_CLAIM_CONDITION, _NAMES, {":t": {"N": "1"}, ":me": {"S": "a"}, ":now": {"N": "2"}}),
    ("#owner = :me", {"#owner": "lease_owner"}, {":me": {"S": "a"}}),
    ("attribute_not_exists(id) OR #status <> :done", {"#status": "status"}, {":done": {"S": "COMPLETED"}}),
    ("n BETWEEN :lo AND :hi AND NOT contains(s, :red)", {}, {":lo": {"N": "1"}, ":hi": {"N": "9"}, ":red": {"S": "r"}}),
    ("size(l) >= :two AND m.a.b IN (:x, :y)", {}, {":two": {"N": "2"}, ":x": {"S": "x"}, ":y": {"S": "y"}}),
    ("begins_with(m.a.b, :p) AND (n < :v OR n > :w)", {}, {":p": {"S": "x"}, ":v": {"N": "1"}, ":w": {"N": "8"}}),
]
UNREADABLE = ["n = = :v", "n ! :v", "((n = :v)", "n = :v $"]
# Conditions moto refuses for their names or values rather than their text.
REFUSED: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("n BETWEEN :lo AND :hi", {}, {":lo": {"NULL": True}, ":hi": {"N": "9"}}),
    ("n = :missing", {}, {":v": {"N": "1"}}),
    ("#missing = :v", {}, {":v": {"N": "1"}}),
    ("#n = :v", {"#n": "n"}, {":v": "not an attribute value"}),
]


def _other_values(values: dict[str, Any]) -> dict[str, Any]:
    """The same placeholders with other contents of the same types."""
    other: dict[str, Any] = {}
    for name, value in values.items():
        kind, content = next(iter(value.items())) if isinstance(value, dict) else (None, value)
        if kind == "N":
            other[name] = {"N": str(int(content) + 40)}
        elif kind == "S":
            other[name] = {"S": content + "-other"}
        else:
            other[name] = value
    return other


def _parsed(expression: str, names: dict[str, str], values: dict[str, Any]) -> str:
    try:
        parser = comparisons.ConditionExpressionParser(expression, names, values)
        return repr(parser.parse()) + repr((parser.expr_attr_names_found, parser.expr_attr_values_found))
    except Exception as exc:  # what moto raises is the outcome compared
        return f"{type(exc).__name__}: {exc}"


def test_conditions_parse_as_in_moto_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [*CONDITIONS, *((text, {}, {":v": {"N": "1"}}) for text in UNREADABLE), *REFUSED]
    # The same conditions with other values of the same types, then with one value of another type.
    others = [(text, names, _other_values(values)) for text, names, values in cases]
    retyped = [(text, names, {**values, ":v": {"S": "x"}}) for text, names, values in CONDITIONS if ":v" in values]
    moto_own = [_parsed(*case) for case in [*cases, *others, *retyped]]
    _install(monkeypatch)
    first = [_parsed(*case) for case in [*cases, *others, *retyped]]
    # The second time the tokens and trees come from the caches; the parse must not have changed them.
    second = [_parsed(*case) for case in [*cases, *others, *retyped]]

    assert first == second == moto_own
    # Each value reached the tree: other values, other trees.
    assert moto_own[: len(CONDITIONS)] != moto_own[len(cases) : len(cases) + len(CONDITIONS)]
    assert [outcome.split(":")[0] for outcome in moto_own[len(CONDITIONS) + len(UNREADABLE) : len(cases)]] == [
        "IncorrectOperandType",
        "KeyError",
        "KeyError",
        "AttributeError",
    ]
    # Readable conditions parse; the others raise moto's ValueError, from the lexer or from the parser after it.
    assert [outcome.startswith("ValueError") for outcome in moto_own[: len(CONDITIONS) + len(UNREADABLE)]] == [
        False
    ] * len(CONDITIONS) + [True] * len(UNREADABLE)
