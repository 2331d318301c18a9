"""What one invocation tells the operator: its metrics, and one ``batch drained`` line of counts.

The line sums the batch up and lists each record written to the DLQ (ids and codes): a batch of 100 costs one line,
not one per customer (a line costs as much CPU as decoding ten). It is a warning when a record was dead-lettered.
A superseded record has its own line (admission), as do whole-batch events.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

from nxbridge.drain.dead_letters import logged
from nxbridge.drain.run import Run
from nxbridge.observability import SERVICE, logger, metrics


def record_outcome(run: Run) -> None:
    """Emit the invocation's metrics and its summary line."""
    result = run.result
    metrics.add_metric(name="CustomersSynced", unit=MetricUnit.Count, value=len(result.synced))
    metrics.add_metric(name="CustomersFailed", unit=MetricUnit.Count, value=len(result.dead_lettered))
    metrics.add_metric(name="CustomersSuperseded", unit=MetricUnit.Count, value=len(result.superseded))
    metrics.add_metric(name="CustomersDeferred", unit=MetricUnit.Count, value=run.deferred)
    metrics.add_metric(name="BatchItemFailures", unit=MetricUnit.Count, value=len(result.retried))
    metrics.add_metric(name="NXCloudCalls", unit=MetricUnit.Count, value=run.calls)
    metrics.add_metric(name="NXCloudRetries", unit=MetricUnit.Count, value=run.retries)
    metrics.add_metric(name="BisectCalls", unit=MetricUnit.Count, value=run.bisect_calls)
    for code, count in sorted(Counter(letter.reason.errorCode for letter in result.dead_lettered).items()):
        # One EMF blob per code: the errorCode dimension stays off every other metric.
        failed_by_code(code, count)
    dead_letters = [logged(letter) for letter in result.dead_lettered]
    (logger.warning if dead_letters else logger.info)(
        "batch drained",
        extra={
            "synced": len(result.synced),
            "deadLettered": len(result.dead_lettered),
            "superseded": len(result.superseded),
            "deferred": run.deferred,
            "retried": len(result.retried),
            "validatedInFull": run.validated_in_full,
            "calls": run.calls,
            "bisectCalls": run.bisect_calls,
            "retries": run.retries,
            "halted": run.halted,
            "traceId": run.trace_id,
            "deadLetters": dead_letters,
        },
    )


# What Powertools' single_metric does for each blob, on one SingleMetric kept for the execution environment:
# building one reads every MetricUnit into lists, which cost as much as the blob itself. Same entries, same blob.
_BY_CODE = SingleMetric(namespace=metrics.namespace)
# ``json.dumps(blob, separators=(",", ":"))`` without building its encoder for every blob.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def failed_by_code(code: str, count: int) -> None:
    """Print one ``CustomersFailedByCode`` blob with the errorCode dimension, as single_metric would."""
    _BY_CODE.add_metric(name="CustomersFailedByCode", unit=MetricUnit.Count, value=count)
    _BY_CODE.add_dimension(name="service", value=SERVICE)
    _BY_CODE.add_dimension(name="errorCode", value=code)
    try:
        blob = _BY_CODE.serialize_metric_set()
    finally:
        _BY_CODE.clear_metrics()
    sys.stdout.write(_ENCODE(blob) + "\n")
