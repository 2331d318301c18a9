"""The CloudWatch dashboard and the console's overview show only metrics the code emits, as the code emits them."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from nxbridge.console.cli import DASHBOARD_OUTPUT_KEY, ENDPOINTS_OUTPUT_KEY
from nxbridge.console.cloudwatch import OVERVIEW_METRICS, SQS_AGE_METRIC
from tests.fixtures.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "layers" / "nxbridge"
# The AWS metrics the dashboard may use, as AWS documents them for each namespace.
AWS_METRICS = {
    "AWS/SQS": {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    },
    "AWS/Lambda": {"Errors", "Throttles"},
}
_SEARCH = re.compile(r"SEARCH\('\{(?P<namespace>[^,}]+)[^}]*\}\s+MetricName=\"(?P<name>\w+)\"(?P<rest>[^']*)'")
_SUB = re.compile(r"\$\{([^}]+)\}")


def _strings(node: ast.AST, assigned: Mapping[str, ast.AST], depth: int = 0) -> set[str]:
    """String constants a name= argument can evaluate to, through module names and dict values (not keys)."""
    if isinstance(node, ast.Constant):
        return {node.value} if isinstance(node.value, str) else set()
    if isinstance(node, ast.Name):
        return _strings(assigned[node.id], assigned, depth + 1) if node.id in assigned and depth < 3 else set()
    if isinstance(node, ast.Dict):
        return set().union(*(_strings(v, assigned, depth) for v in node.values))
    return set().union(set(), *(_strings(child, assigned, depth) for child in ast.iter_child_nodes(node)))


def emitted_metrics() -> set[str]:
    """Every metric name the runtime package emits: the ``name=`` of each add_metric and single_metric call."""
    names: set[str] = set()
    for path in RUNTIME.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned = {
            target.id: node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in {"add_metric", "single_metric"}:
                for keyword in node.keywords:
                    if keyword.arg == "name":
                        names |= _strings(keyword.value, assigned)
    return names


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with (ROOT / "template.yaml").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=CfnLoader)
    return loaded


@pytest.fixture(scope="module")
def body_text(template: dict[str, Any]) -> str:
    dashboard = template["Resources"]["OperationsDashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text: str = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return text


@pytest.fixture(scope="module")
def metrics(body_text: str) -> list[dict[str, Any]]:
    """Each metric of the dashboard: namespace, name, dimensions (as Fn::Sub text) and the stat it is shown with."""
    body = json.loads(_SUB.sub(lambda m: f"<{m.group(1)}>", body_text))
    found: list[dict[str, Any]] = []
    for widget in body["widgets"]:
        properties = widget["properties"]
        for entry in properties.get("metrics", []):
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            if "expression" in options:
                match = _SEARCH.search(options["expression"])
                assert match, options["expression"]
                found.append({**match.groupdict(), "dimensions": {}, "stat": "search"})
                continue
            namespace, name, *rest = [part for part in entry if not isinstance(part, dict)]
            dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
            stat = options.get("stat", properties.get("stat"))
            found.append({"namespace": namespace, "name": name, "dimensions": dimensions, "stat": stat, "rest": ""})
    return found


def test_the_metric_finder_reads_names_through_constants_and_dict_values() -> None:
    emitted = emitted_metrics()
    # ingest: name=_RECEIVED_METRICS.get(method, "WebhooksReceived"); drain: add_metric(name="CustomersFailedByCode")
    assert {"WebhooksReceived", "FormPreflights", "FillTokenRequests", "CustomersFailedByCode", "BatchSize"} <= emitted
    assert "OPTIONS" not in emitted


def test_every_dashboard_metric_is_one_the_code_emits(metrics: list[dict[str, Any]]) -> None:
    emitted = emitted_metrics()
    for metric in metrics:
        if metric["namespace"] == "NXBridge":
            assert metric["name"] in emitted, f"{metric['name']} is on the dashboard but nothing emits it"
        else:
            assert metric["name"] in AWS_METRICS[metric["namespace"]], metric


def test_the_dashboard_covers_the_pipeline(metrics: list[dict[str, Any]]) -> None:
    shown = {(m["namespace"], m["name"]) for m in metrics}
    assert {
        ("NXBridge", name)
        for name in (
            "WebhooksReceived",
            "WebhooksRejected",
            "CustomersAccepted",
            "CustomersSynced",
            "CustomersFailed",
            "CustomersFailedByCode",
            "NXCloudLatency",
            "BatchSize",
            "ConfigurationFailures",
        )
    } <= shown
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    } <= shown
    latency = {m["stat"] for m in metrics if m["name"] == "NXCloudLatency"}
    assert latency == {"p50", "p99"}
    dlq_depth = [m for m in metrics if m["name"] == "ApproximateNumberOfMessagesVisible"]
    assert {"QueueName": "<CustomersDLQ.QueueName>"} in [m["dimensions"] for m in dlq_depth]


def test_dashboard_metrics_use_the_functions_namespace_and_service(
    template: dict[str, Any], metrics: list[dict[str, Any]]
) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}
    ours = [m for m in metrics if not m["namespace"].startswith("AWS/")]
    assert ours and {m["namespace"] for m in ours} == {env["POWERTOOLS_METRICS_NAMESPACE"]}
    for metric in ours:
        if metric["stat"] == "search":
            assert 'service="<AWS::StackName>"' in metric["rest"], metric
        else:
            assert metric["dimensions"] == {"service": "<AWS::StackName>"}, metric


def test_dashboard_dimensions_name_resources_of_the_template(template: dict[str, Any], body_text: str) -> None:
    for reference in _SUB.findall(body_text):
        target = reference.split(".", 1)[0]
        assert target.startswith("AWS::") or target in template["Resources"], reference


def test_the_console_overview_reads_only_emitted_metrics() -> None:
    assert set(OVERVIEW_METRICS.values()) <= emitted_metrics()
    assert SQS_AGE_METRIC in AWS_METRICS["AWS/SQS"]


def test_outputs_give_the_console_the_dashboard_and_the_endpoints(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    url = outputs[DASHBOARD_OUTPUT_KEY]["Value"]["Fn::Sub"]
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home")
    assert url.endswith("#dashboards:name=${OperationsDashboard}")
    assert outputs[ENDPOINTS_OUTPUT_KEY]["Value"] == {"Ref": "EndpointsParameter"}
