"""No wildcard data permissions anywhere in template.yaml.

tests/unit/test_template.py::test_data_actions_name_their_resources checks the functions' role policies for
SQS, DynamoDB, Secrets Manager and SSM. This check covers every policy document in the template, wherever it
sits (roles, function policies, queue, topic or key policies), adds KMS, and refuses NotAction/NotResource
allows, which are wildcards in disguise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
DATA_SERVICES = ("sqs:", "dynamodb:", "secretsmanager:", "ssm:", "kms:")


def statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement of every policy document under ``node``, with the path it was found at."""
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list):
            for index, statement in enumerate(node["Statement"]):
                yield f"{where}/Statement[{index}]", statement
        for key, value in node.items():
            yield from statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{where}[{index}]")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def template() -> dict[str, Any]:
    with (ROOT / "template.yaml").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=CfnLoader)
    return loaded


def test_no_policy_in_the_template_grants_data_actions_on_a_wildcard_resource() -> None:
    found = list(statements(template()["Resources"]))
    data = [
        (where, s)
        for where, s in found
        if any(a == "*" or str(a).lower().startswith(DATA_SERVICES) for a in as_list(s.get("Action", [])))
    ]

    assert len(data) >= 6  # the three roles' queue, DLQ, secret, parameter and table statements
    for where, statement in data:
        actions = [str(a) for a in as_list(statement["Action"])]
        assert all("*" not in action for action in actions), where
        for target in as_list(statement.get("Resource")):
            assert target != "*" and "*" not in str(target), where


def test_no_allow_statement_uses_not_action_or_not_resource() -> None:
    allows = [(where, s) for where, s in statements(template()["Resources"]) if s.get("Effect") == "Allow"]

    assert allows
    assert [where for where, s in allows if "NotAction" in s or "NotResource" in s] == []
