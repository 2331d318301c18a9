"""``nxbridge console`` against a deployed stack (moto): the queues, endpoints and dashboard from the stack's outputs,
the overview's figures from CloudWatch, and a server that listens on 127.0.0.1 only."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator

import boto3
import pytest
import requests

from nxbridge.cli import build_parser
from nxbridge.console.app import create_app
from nxbridge.console.audit import AuditLog
from nxbridge.console.cli import DASHBOARD_OUTPUT_KEY, ENDPOINTS_OUTPUT_KEY, build_context, console_url, make_server
from nxbridge.console.context import ConsoleContext
from nxbridge.console.security import Guard
from nxbridge.observability import NAMESPACE
from nxbridge.replay import DLQ_OUTPUT_KEY, QUEUE_OUTPUT_KEY
from tests.fixtures.aws import REGION

STACK = "nxbridge-test"
DASHBOARD = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=nxbridge-test"


@pytest.fixture
def deployed(queues: dict[str, str]) -> dict[str, str]:
    """A stack whose outputs name the queues, the endpoints parameter and the dashboard, as template.yaml's do."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(
        Name="/nxbridge-test/endpoints",
        Type="String",
        Value=json.dumps({"endpoints": {"shop": {"kind": "shopify"}, "signup": {"kind": "form", "secret": None}}}),
    )
    outputs = {
        QUEUE_OUTPUT_KEY: queues["queue_url"],
        DLQ_OUTPUT_KEY: queues["dlq_url"],
        ENDPOINTS_OUTPUT_KEY: "/nxbridge-test/endpoints",
        DASHBOARD_OUTPUT_KEY: DASHBOARD,
    }
    template = {
        "Resources": {"Unused": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return queues


def context_for(*argv: str) -> ConsoleContext:
    args = build_parser().parse_args(["console", *argv, "--wait-seconds", "0"])
    return build_context(args, boto3.Session(region_name=REGION))


def test_the_stack_names_the_queues_the_endpoints_and_the_dashboard(deployed: dict[str, str]) -> None:
    context = context_for("--stack", STACK)
    assert (context.queue_url, context.dlq_url) == (deployed["queue_url"], deployed["dlq_url"])
    assert [(e.name, e.kind) for e in context.endpoints()] == [("shop", "shopify"), ("signup", "form")]
    assert context.dashboard_url == DASHBOARD
    assert context.title == f"stack {STACK}"


def test_explicit_queue_urls_need_no_stack(queues: dict[str, str]) -> None:
    context = context_for("--queue-url", queues["queue_url"], "--dlq-url", queues["dlq_url"])
    assert context.dlq_url == queues["dlq_url"]
    assert context.endpoints() == [] and context.dashboard_url is None


def test_the_overview_figures_are_the_last_hour_of_the_functions_metrics(deployed: dict[str, str]) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = dt.datetime.now(dt.UTC)
    service = [{"Name": "service", "Value": STACK}]
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "CustomersSynced",
                "Dimensions": service,
                "Value": 3,
                "Timestamp": now - dt.timedelta(minutes=40),
            },
            {
                "MetricName": "CustomersSynced",
                "Dimensions": service,
                "Value": 4,
                "Timestamp": now - dt.timedelta(minutes=2),
            },
            {
                "MetricName": "CustomersSynced",
                "Dimensions": service,
                "Value": 50,
                "Timestamp": now - dt.timedelta(hours=3),
            },
            {
                "MetricName": "CustomersFailed",
                "Dimensions": service,
                "Value": 2,
                "Timestamp": now - dt.timedelta(minutes=5),
            },
            # Another stack's metrics in the same namespace do not count.
            {
                "MetricName": "CustomersFailed",
                "Dimensions": [{"Name": "service", "Value": "other"}],
                "Value": 9,
                "Timestamp": now - dt.timedelta(minutes=5),
            },
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": "CustomersDLQ"}],
                "Value": value,
                "Timestamp": now - dt.timedelta(minutes=ago),
            }
            for value, ago in ((600, 20), (660, 1))
        ],
    )
    figures = context_for("--stack", STACK).figures()
    assert (figures.customers_synced, figures.customers_failed, figures.webhooks_received) == (7, 2, 0)
    assert figures.dlq_oldest_age_seconds == 660
    assert figures.queue_oldest_age_seconds is None
    assert figures.customers_superseded is None


@pytest.fixture
def served(queues: dict[str, str]) -> Iterator[tuple[str, Guard]]:
    context = context_for("--queue-url", queues["queue_url"], "--dlq-url", queues["dlq_url"])
    guard = Guard.new()
    server = make_server(create_app(context, guard=guard, audit=AuditLog()), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield console_url(server, guard), guard
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_the_server_listens_on_loopback_and_opens_with_the_printed_url(served: tuple[str, Guard]) -> None:
    url, guard = served
    assert url.startswith("http://127.0.0.1:") and url.endswith(f"/?token={guard.token}")
    base = url.split("?", 1)[0]
    assert requests.get(base, timeout=10).status_code == 401
    with requests.Session() as session:
        opened = session.get(url, timeout=10)
        assert opened.status_code == 200 and opened.url == base
        assert "CustomersDLQ" in opened.text
