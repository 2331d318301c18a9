"""The overview's figures on AWS: the bridge's own metrics and the queues' ages, read with one GetMetricData."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from nxbridge.console.context import Figures
from nxbridge.envelope import utcnow

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

WINDOW = dt.timedelta(hours=1)
PERIOD_SECONDS = 300
# The queues' age is a gauge: the overview shows its newest one-minute maximum.
AGE_PERIOD_SECONDS = 60
# Figures field -> the metric the functions emit (namespace POWERTOOLS_METRICS_NAMESPACE, dimension service).
# CustomersSuperseded is not emitted yet, so the overview shows it as not measured; tests/unit/test_dashboard.py
# checks that every name here is one the code emits.
OVERVIEW_METRICS: dict[str, str] = {
    "webhooks_received": "WebhooksReceived",
    "customers_queued": "CustomersAccepted",
    "customers_synced": "CustomersSynced",
    "customers_failed": "CustomersFailed",
}
SQS_AGE_METRIC = "ApproximateAgeOfOldestMessage"


def queue_name(queue_url: str) -> str:
    """The queue name (CloudWatch's QueueName dimension) of an SQS queue URL."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def _queries(namespace: str, service: str, queues: dict[str, str]) -> list[MetricDataQueryTypeDef]:
    queries: list[MetricDataQueryTypeDef] = [
        {
            "Id": field,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": "service", "Value": service}],
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Sum",
            },
        }
        for field, name in OVERVIEW_METRICS.items()
    ]
    queries += [
        {
            "Id": field,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": SQS_AGE_METRIC,
                    "Dimensions": [{"Name": "QueueName", "Value": queue_name(url)}],
                },
                "Period": AGE_PERIOD_SECONDS,
                "Stat": "Maximum",
            },
        }
        for field, url in queues.items()
    ]
    return queries


def cloudwatch_figures(
    cloudwatch: CloudWatchClient,
    *,
    namespace: str,
    service: str,
    queue_url: str | None,
    dlq_url: str,
    now: dt.datetime | None = None,
) -> Figures:
    """Sums over the last hour of the bridge's counters, and the latest age of each queue's oldest message."""
    end = now or utcnow()
    queues = {"dlq_oldest_age_seconds": dlq_url}
    if queue_url:
        queues["queue_oldest_age_seconds"] = queue_url
    values: dict[str, list[float]] = {}
    # One request for everything; with TimestampDescending each age's newest datapoint comes first.
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=_queries(namespace, service, queues),
        StartTime=end - WINDOW,
        EndTime=end,
        ScanBy="TimestampDescending",
    ):
        for result in page.get("MetricDataResults", []):
            values.setdefault(result.get("Id", ""), []).extend(result.get("Values", []))
    counts = {field: int(sum(values.get(field, []))) for field in OVERVIEW_METRICS}
    ages = {field: (values[field][0] if values.get(field) else None) for field in queues}
    return Figures(window="last hour", **counts, **ages)
